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
            return Err(Error::invalid(format!(
                "duplicate checkpoint metadata key {key:?}"
            )));
        }
    }
    let mut named: BTreeMap<&str, Vec<u8>> = BTreeMap::new();
    for &(name, tensor) in tensors {
        if name.is_empty() {
            return Err(Error::invalid("checkpoint tensor with an empty name"));
        }
        let bytes = tensor.data().iter().flat_map(|v| v.to_le_bytes()).collect();
        if named.insert(name, bytes).is_some() {
            return Err(Error::invalid(format!(
                "duplicate checkpoint tensor name {name:?}"
            )));
        }
    }
    let shapes: HashMap<&str, &[usize]> = tensors.iter().map(|(n, t)| (*n, t.shape())).collect();
    info.insert(FORMAT_KEY.into(), FORMAT_VERSION.into());
    info.insert(MODEL_KIND_KEY.into(), model_kind.into());
    info.insert(
        CHECKSUM_KEY.into(),
        checksum_hex(named.values().map(|b| b.as_slice())),
    );

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
        raw.parse().map_err(|_| {
            Error::invalid(format!(
                "checkpoint metadata {key} = {raw:?} does not parse"
            ))
        })
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
                problems.push(format!(
                    "parameter name {:?} appears twice in the model",
                    p.name()
                ));
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
                problems.push(format!(
                    "unexpected tensor {name:?} (not a parameter of the model)"
                ));
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
    let st = SafeTensors::deserialize(&bytes).map_err(|e| {
        corrupt(format!(
            "not a valid safetensors file (truncated or corrupt?): {e}"
        ))
    })?;
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
        Some(v) => {
            return Err(corrupt(format!(
                "unsupported checkpoint format {v:?} (expected {FORMAT_VERSION:?})"
            )))
        }
        None => {
            return Err(corrupt(
                "a safetensors file but not a melgrad checkpoint (no format key)".into(),
            ))
        }
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
            return Err(corrupt(format!(
                "tensor {name:?} is {:?}, expected F32",
                view.dtype()
            )));
        }
        let data = view
            .data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        let tensor = Tensor::new(data, view.shape())
            .map_err(|e| corrupt(format!("tensor {name:?}: {e}")))?;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn model() -> Vec<Param<f32>> {
        vec![
            Param::new(
                "conv.weight",
                Tensor::from_fn(&[2, 1, 3, 3], |i| i as f32 * 0.25 - 1.0),
            ),
            Param::new("conv.bias", Tensor::new(vec![0.5, -0.5], &[2]).unwrap()),
            Param::new(
                "dense.weight",
                Tensor::from_fn(&[4, 2], |i| (i as f32).sin()),
            ),
        ]
    }

    fn save_model(path: &Path, params: &[Param<f32>], epoch: &str) {
        let refs: Vec<&Param<f32>> = params.iter().collect();
        let m = Tensor::from_fn(&[4, 2], |i| i as f32);
        save_params(
            path,
            "test-cnn",
            &refs,
            &[("m/dense.weight", &m)],
            &[("epoch", epoch), ("config", "{\"lr\":0.01}")],
        )
        .unwrap();
    }

    fn message(e: Error) -> String {
        e.to_string()
    }

    #[test]
    fn roundtrip_restores_values_metadata_and_optimizer_state() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ckpt.safetensors");
        let saved = model();
        save_model(&path, &saved, "7");

        let mut fresh: Vec<Param<f32>> = model()
            .into_iter()
            .map(|p| {
                let shape = p.value.shape().to_vec();
                Param::new(p.name(), Tensor::zeros(&shape))
            })
            .collect();
        let mut refs: Vec<&mut Param<f32>> = fresh.iter_mut().collect();
        let ck = load_into(&path, "test-cnn", &mut refs).unwrap();
        for (a, b) in saved.iter().zip(&fresh) {
            assert_eq!(a.value, b.value, "{}", a.name());
        }
        assert_eq!(ck.model_kind(), "test-cnn");
        assert_eq!(ck.meta_parsed::<usize>("epoch").unwrap(), 7);
        assert_eq!(ck.meta("config"), Some("{\"lr\":0.01}"));
        assert!(ck.meta_parsed::<usize>("config").is_err());
        let optim: Vec<_> = ck.optimizer_tensors().collect();
        assert_eq!(optim.len(), 1);
        assert_eq!(optim[0].0, "m/dense.weight");
        assert_eq!(optim[0].1.data()[3], 3.0);
        assert_eq!(ck.model_tensors().count(), 3);
    }

    #[test]
    fn special_values_survive_bit_exactly() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.safetensors");
        let t = Tensor::new(
            vec![f32::MIN_POSITIVE, -0.0, 1e-45, f32::MAX, 2.7182817],
            &[5],
        )
        .unwrap();
        let s = Tensor::scalar(2.5f32);
        save(&path, "k", &[("t", &t), ("scalar", &s)], &[]).unwrap();
        let ck = load(&path, None).unwrap();
        let bits = |x: &Tensor<f32>| x.data().iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(ck.tensor("t").unwrap()), bits(&t));
        assert_eq!(ck.tensor("scalar").unwrap().shape(), &[] as &[usize]);
    }

    #[test]
    fn truncated_file_is_a_format_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ckpt.safetensors");
        save_model(&path, &model(), "1");
        let bytes = std::fs::read(&path).unwrap();
        for keep in [0, 5, 8, 40, bytes.len() / 2, bytes.len() - 1] {
            std::fs::write(&path, &bytes[..keep]).unwrap();
            let err = load(&path, Some("test-cnn")).unwrap_err();
            assert!(matches!(err, Error::Format { .. }), "keep {keep}: {err}");
            assert!(message(err).contains("truncated or corrupt"), "keep {keep}");
        }
    }

    #[test]
    fn flipped_data_byte_fails_the_checksum() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ckpt.safetensors");
        save_model(&path, &model(), "1");
        let mut bytes = std::fs::read(&path).unwrap();
        let last = bytes.len() - 3;
        bytes[last] ^= 0x10;
        std::fs::write(&path, &bytes).unwrap();
        let err = message(load(&path, None).unwrap_err());
        assert!(err.contains("checksum mismatch"), "{err}");
        // Garbage in the header.
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[9] = b'#';
        std::fs::write(&path, &bytes).unwrap();
        assert!(matches!(
            load(&path, None).unwrap_err(),
            Error::Format { .. }
        ));
    }

    #[test]
    fn foreign_safetensors_file_is_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("other.safetensors");
        let data = [0u8; 8];
        let view = TensorView::new(Dtype::F32, vec![2], &data).unwrap();
        let bytes = safetensors::serialize([("w", view)], None).unwrap();
        std::fs::write(&path, bytes).unwrap();
        let err = message(load(&path, None).unwrap_err());
        assert!(err.contains("not a melgrad checkpoint"), "{err}");
    }

    #[test]
    fn checkpoint_of_another_model_names_every_problem() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ckpt.safetensors");
        save_model(&path, &model(), "1");
        let mut other = [
            Param::new("conv.weight", Tensor::<f32>::zeros(&[4, 1, 3, 3])),
            Param::new("conv.bias", Tensor::<f32>::zeros(&[2])),
            Param::new("gru.weight", Tensor::<f32>::zeros(&[3])),
        ];
        let before: Vec<_> = other.iter().map(|p| p.value.clone()).collect();
        let mut refs: Vec<&mut Param<f32>> = other.iter_mut().collect();

        let kind_err = message(load_into(&path, "crnn", &mut refs).unwrap_err());
        assert!(
            kind_err.contains("\"test-cnn\", not \"crnn\""),
            "{kind_err}"
        );

        let err = message(load_into(&path, "test-cnn", &mut refs).unwrap_err());
        assert!(
            err.contains(
                "\"conv.weight\" has shape [2, 1, 3, 3] in the checkpoint but [4, 1, 3, 3]"
            ),
            "{err}"
        );
        assert!(err.contains("missing tensor \"gru.weight\""), "{err}");
        assert!(err.contains("unexpected tensor \"dense.weight\""), "{err}");
        // Nothing was half-loaded.
        for (p, b) in other.iter().zip(&before) {
            assert_eq!(&p.value, b);
        }
    }

    #[test]
    fn crash_before_rename_leaves_old_checkpoint_intact() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ckpt.safetensors");
        let old = model();
        save_model(&path, &old, "3");
        // Simulate a crash during the next save: the temp file is (partly) written, the
        // rename never happens.
        let temp = super::super::atomic::temp_path_for(&path).unwrap();
        std::fs::write(&temp, b"\x40\x00\x00\x00\x00\x00\x00\x00{\"half").unwrap();
        let ck = load(&path, Some("test-cnn")).unwrap();
        assert_eq!(ck.meta("epoch"), Some("3"));
        assert_eq!(ck.tensor("conv.bias").unwrap(), &old[1].value);
        // A later successful save replaces it.
        save_model(&path, &old, "4");
        assert_eq!(load(&path, None).unwrap().meta("epoch"), Some("4"));
    }

    #[test]
    fn save_rejects_bad_names_and_reserved_keys() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.safetensors");
        let t = Tensor::<f32>::zeros(&[1]);
        assert!(save(&path, "k", &[("a", &t), ("a", &t)], &[]).is_err());
        assert!(save(&path, "k", &[("", &t)], &[]).is_err());
        assert!(save(&path, "k", &[("a", &t)], &[("melgrad.format", "x")]).is_err());
        assert!(save(&path, "k", &[("a", &t)], &[("e", "1"), ("e", "2")]).is_err());
        assert!(!path.exists());
        assert!(matches!(load(&path, None).unwrap_err(), Error::Io { .. }));
    }
}
