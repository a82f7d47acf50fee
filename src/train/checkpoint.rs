//! Checkpoints: named f32 tensors plus string metadata in a **safetensors** file.
//!
//! Layout: model tensors under their parameter names (`conv1.weight`), optimizer state
//! under names starting with [`OPTIMIZER_PREFIX`] (`optim/m/conv1.weight`), and the
//! safetensors `__metadata__` holding [`FORMAT_KEY`], [`MODEL_KIND_KEY`], a checksum of
//! the tensor data, and the caller's own keys (config JSON, epoch, optimizer scalars...).
//!
//! Files are written atomically (temp file in the same directory, fsync, rename): a crash
//! mid-save leaves the previous checkpoint intact. Loading validates everything and turns
//! every problem (truncated or corrupt file, wrong model kind, missing / unexpected
//! tensors, shape mismatches) into an [`Error`] naming the culprit.

use super::atomic::write_atomic;
use crate::{Error, Param, Result, Tensor};
use safetensors::tensor::{Dtype, TensorView};
use safetensors::SafeTensors;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

/// Metadata key whose value identifies the file as a melgrad checkpoint.
pub const FORMAT_KEY: &str = "melgrad.format";
/// The current format identifier.
pub const FORMAT_VERSION: &str = "melgrad-checkpoint-1";
/// Metadata key of the model kind (e.g. `kaist-cnn`); checked on load.
pub const MODEL_KIND_KEY: &str = "melgrad.model_kind";
/// Metadata key of the FNV-1a 64 checksum of all tensor bytes (in name order).
pub const CHECKSUM_KEY: &str = "melgrad.checksum";
/// Tensors whose name starts with this are optimizer state, not model parameters.
pub const OPTIMIZER_PREFIX: &str = "optim/";

/// Save `tensors` and `metadata` to `path` atomically. Tensor names must be unique and
/// non-empty; metadata keys must not use the reserved `melgrad.` prefix.
pub fn save(
    path: &Path,
    model_kind: &str,
    tensors: &[(&str, &Tensor<f32>)],
    metadata: &[(&str, &str)],
) -> Result<()> {
    let mut info: HashMap<String, String> = HashMap::new();
    for &(key, value) in metadata {
        if key.starts_with("melgrad.") {
            return Err(Error::invalid(format!(
                "checkpoint metadata key {key:?} uses the reserved prefix `melgrad.`"
            )));
        }
        if info.insert(key.to_string(), value.to_string()).is_some() {
            return Err(Error::invalid(format!("duplicate checkpoint metadata key {key:?}")));
        }
    }
    let mut named: BTreeMap<&str, Vec<u8>> = BTreeMap::new();
    for &(name, tensor) in tensors {
        if name.is_empty() {
            return Err(Error::invalid("checkpoint tensor with an empty name"));
        }
        let bytes = tensor.data().iter().flat_map(|v| v.to_le_bytes()).collect();
        if named.insert(name, bytes).is_some() {
            return Err(Error::invalid(format!("duplicate checkpoint tensor name {name:?}")));
        }
    }
    let shapes: HashMap<&str, &[usize]> = tensors.iter().map(|(n, t)| (*n, t.shape())).collect();
    info.insert(FORMAT_KEY.into(), FORMAT_VERSION.into());
    info.insert(MODEL_KIND_KEY.into(), model_kind.into());
    info.insert(CHECKSUM_KEY.into(), checksum_hex(named.values().map(|b| b.as_slice())));

    let views = named
        .iter()
        .map(|(&name, bytes)| {
            let view = TensorView::new(Dtype::F32, shapes[name].to_vec(), bytes)
                .map_err(|e| Error::invalid(format!("tensor {name}: {e}")))?;
            Ok((name, view))
        })
        .collect::<Result<Vec<_>>>()?;
    let bytes = safetensors::serialize(views, Some(info))
        .map_err(|e| Error::invalid(format!("cannot serialize checkpoint: {e}")))?;
    write_atomic(path, &bytes)
}

/// Save model parameters (by [`Param::name`]) plus optimizer tensors (stored under
/// [`OPTIMIZER_PREFIX`] + their name) and metadata.
pub fn save_params(
    path: &Path,
    model_kind: &str,
    params: &[&Param<f32>],
    optimizer_state: &[(&str, &Tensor<f32>)],
    metadata: &[(&str, &str)],
) -> Result<()> {
    let optim_names: Vec<String> = optimizer_state
        .iter()
        .map(|(n, _)| format!("{OPTIMIZER_PREFIX}{n}"))
        .collect();
    let mut tensors: Vec<(&str, &Tensor<f32>)> =
        params.iter().map(|p| (p.name(), &p.value)).collect();
    for (name, (_, t)) in optim_names.iter().zip(optimizer_state) {
        tensors.push((name.as_str(), t));
    }
    save(path, model_kind, &tensors, metadata)
}

/// A loaded checkpoint: its tensors by name and its metadata.
#[derive(Clone, Debug)]
pub struct Checkpoint {
    tensors: BTreeMap<String, Tensor<f32>>,
    metadata: BTreeMap<String, String>,
}

impl Checkpoint {
    pub fn model_kind(&self) -> &str {
        &self.metadata[MODEL_KIND_KEY]
    }
    /// A metadata value (the caller's keys, or the reserved `melgrad.*` ones).
    pub fn meta(&self, key: &str) -> Option<&str> {
        self.metadata.get(key).map(String::as_str)
    }
    /// A metadata value parsed as `T`, with an error naming the key if absent or invalid.
    pub fn meta_parsed<T: std::str::FromStr>(&self, key: &str) -> Result<T> {
        let raw = self
            .meta(key)
            .ok_or_else(|| Error::invalid(format!("checkpoint has no metadata key {key:?}")))?;
        raw.parse()
            .map_err(|_| Error::invalid(format!("checkpoint metadata {key} = {raw:?} does not parse")))
    }
    pub fn metadata(&self) -> &BTreeMap<String, String> {
        &self.metadata
    }
    pub fn tensor(&self, name: &str) -> Option<&Tensor<f32>> {
        self.tensors.get(name)
    }
    /// All tensors, model and optimizer, by name.
    pub fn tensors(&self) -> &BTreeMap<String, Tensor<f32>> {
        &self.tensors
    }
    /// Model tensors: every tensor not under [`OPTIMIZER_PREFIX`].
    pub fn model_tensors(&self) -> impl Iterator<Item = (&str, &Tensor<f32>)> {
        self.tensors
            .iter()
            .filter(|(n, _)| !n.starts_with(OPTIMIZER_PREFIX))
            .map(|(n, t)| (n.as_str(), t))
    }
    /// Optimizer tensors with the prefix stripped.
    pub fn optimizer_tensors(&self) -> impl Iterator<Item = (&str, &Tensor<f32>)> {
        self.tensors
            .iter()
            .filter_map(|(n, t)| n.strip_prefix(OPTIMIZER_PREFIX).map(|s| (s, t)))
    }

    /// Copy the model tensors into `params`, matched by [`Param::name`]. The sets of names
    /// must be equal and every shape must match; on any error no parameter is changed.
    pub fn assign_to(&self, params: &mut [&mut Param<f32>]) -> Result<()> {
        let mut problems = Vec::new();
        let mut wanted = std::collections::BTreeSet::new();
        for p in params.iter() {
            if !wanted.insert(p.name()) {
                problems.push(format!("parameter name {:?} appears twice in the model", p.name()));
            }
            match self.tensors.get(p.name()) {
                None => problems.push(format!("missing tensor {:?}", p.name())),
                Some(t) if t.shape() != p.value.shape() => problems.push(format!(
                    "tensor {:?} has shape {:?} in the checkpoint but {:?} in the model",
                    p.name(),
                    t.shape(),
                    p.value.shape()
                )),
                Some(_) => {}
            }
        }
        for (name, _) in self.model_tensors() {
            if !wanted.contains(name) {
                problems.push(format!("unexpected tensor {name:?} (not a parameter of the model)"));
            }
        }
        if !problems.is_empty() {
            return Err(Error::invalid(format!(
                "checkpoint ({} model) does not fit the model: {}",
                self.model_kind(),
                problems.join("; ")
            )));
        }
        for p in params.iter_mut() {
            p.value = self.tensors[p.name()].clone();
        }
        Ok(())
    }
}

/// Load and validate a checkpoint. With `expected_kind`, a file saved for another model
/// kind is an error.
pub fn load(path: &Path, expected_kind: Option<&str>) -> Result<Checkpoint> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let corrupt = |detail: String| Error::format(path, detail);
    let st = SafeTensors::deserialize(&bytes)
        .map_err(|e| corrupt(format!("not a valid safetensors file (truncated or corrupt?): {e}")))?;
    let (_, header) = SafeTensors::read_metadata(&bytes)
        .map_err(|e| corrupt(format!("unreadable safetensors header: {e}")))?;
    let metadata: BTreeMap<String, String> = header
        .metadata()
        .clone()
        .unwrap_or_default()
        .into_iter()
        .collect();
    match metadata.get(FORMAT_KEY) {
        Some(v) if v == FORMAT_VERSION => {}
        Some(v) => return Err(corrupt(format!("unsupported checkpoint format {v:?} (expected {FORMAT_VERSION:?})"))),
        None => return Err(corrupt("a safetensors file but not a melgrad checkpoint (no format key)".into())),
    }
    let kind = metadata
        .get(MODEL_KIND_KEY)
        .ok_or_else(|| corrupt("checkpoint has no model kind".into()))?;
    if let Some(expected) = expected_kind {
        if kind != expected {
            return Err(corrupt(format!(
                "checkpoint is for model kind {kind:?}, not {expected:?}"
            )));
        }
    }
    let mut views: Vec<(String, TensorView)> = st.tensors();
    views.sort_by(|a, b| a.0.cmp(&b.0));
    let stored_sum = metadata
        .get(CHECKSUM_KEY)
        .ok_or_else(|| corrupt("checkpoint has no checksum".into()))?;
    let actual_sum = checksum_hex(views.iter().map(|(_, v)| v.data()));
    if *stored_sum != actual_sum {
        return Err(corrupt(format!(
            "checksum mismatch (stored {stored_sum}, data gives {actual_sum}): the file is corrupt"
        )));
    }
    let mut tensors = BTreeMap::new();
    for (name, view) in views {
        if view.dtype() != Dtype::F32 {
            return Err(corrupt(format!("tensor {name:?} is {:?}, expected F32", view.dtype())));
        }
        let data = view
            .data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        let tensor = Tensor::new(data, view.shape()).map_err(|e| corrupt(format!("tensor {name:?}: {e}")))?;
        tensors.insert(name, tensor);
    }
    Ok(Checkpoint { tensors, metadata })
}

/// Load a checkpoint of `model_kind` and copy its model tensors into `params` (matched by
/// [`Param::name`]); returns the checkpoint for its metadata and optimizer state.
pub fn load_into(
    path: &Path,
    model_kind: &str,
    params: &mut [&mut Param<f32>],
) -> Result<Checkpoint> {
    let checkpoint = load(path, Some(model_kind))?;
    checkpoint
        .assign_to(params)
        .map_err(|e| Error::format(path, e.to_string()))?;
    Ok(checkpoint)
}

/// FNV-1a (64-bit) over the concatenation of `chunks`, as 16 hex digits. Not
/// cryptographic: it detects accidental corruption (bit flips, bytes overwritten).
fn checksum_hex<'a>(chunks: impl IntoIterator<Item = &'a [u8]>) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for chunk in chunks {
        for &b in chunk {
            hash ^= b as u64;
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    format!("{hash:016x}")
}
