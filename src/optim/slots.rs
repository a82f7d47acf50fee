//! Per-parameter optimizer state, keyed by parameter NAME: `ParamId`s are per-process,
//! names are stable, so state saved by one process resumes exactly in another.
//!
//! Exported state is a flat list of `(key, tensor)`:
//!
//! ```text
//! "/steps"        completed step() calls        u64 as 4 limbs
//! "/lr"           learning rate                 f64 bit pattern as 4 limbs
//! "{name}/t"      updates this parameter got    u64 as 4 limbs
//! "{name}/{buf}"  a buffer (velocity, m, v)     the parameter's shape
//! ```
//!
//! Integers and the f64 learning rate are stored as four 16-bit limbs (little-endian),
//! each exactly representable in f32, so resume is bit-exact whatever `T` is.

use crate::{Error, Float, Gradients, Param, Result, Tensor};
use std::collections::HashMap;

/// One parameter's state.
pub(crate) struct Slot<T: Float> {
    /// The optimizer's buffers for this parameter, each of the parameter's shape; empty
    /// until the optimizer needs them (plain SGD never does).
    pub bufs: Vec<Tensor<T>>,
    /// How many updates this parameter has received (Adam's bias-correction `t`).
    pub t: u64,
    /// The step attempt that last touched this slot, to catch two parameters sharing a name.
    stamp: u64,
}

/// Every parameter's state plus the step counter.
pub(crate) struct SlotStore<T: Float> {
    slots: HashMap<String, Slot<T>>,
    /// Buffer names, in `Slot::bufs` order.
    fields: &'static [&'static str],
    steps: u64,
    attempt: u64,
}

impl<T: Float> SlotStore<T> {
    pub fn new(fields: &'static [&'static str]) -> Self {
        SlotStore {
            slots: HashMap::new(),
            fields,
            steps: 0,
            attempt: 0,
        }
    }

    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// The checking pass of a step, run before any parameter moves so that a failed step
    /// changes nothing: every gradient must have its parameter's shape and be finite, no
    /// two updated parameters may share a name, and each gets a slot with `nbufs` buffers
    /// of its shape (allocated on first use only).
    pub fn prepare(
        &mut self,
        op: &'static str,
        params: &[&mut Param<T>],
        grads: &Gradients<T>,
        nbufs: usize,
    ) -> Result<()> {
        self.attempt += 1;
        for p in params {
            let Some(g) = grads.param(p) else {
                continue;
            };
            check_gradient(op, p, g)?;
            let shape = p.value.shape();
            let slot = match self.slots.get_mut(p.name()) {
                Some(slot) => slot,
                None => self.slots.entry(p.name().to_owned()).or_insert(Slot {
                    bufs: Vec::new(),
                    t: 0,
                    stamp: 0,
                }),
            };
            if slot.stamp == self.attempt {
                return Err(Error::invalid(format!(
                    "{op}: two parameters are named {:?}; optimizer state is keyed by name",
                    p.name()
                )));
            }
            slot.stamp = self.attempt;
            if slot.bufs.len() < nbufs {
                slot.bufs = (0..nbufs).map(|_| Tensor::zeros(shape)).collect();
            }
            if let Some(b) = slot.bufs.iter().find(|b| b.shape() != shape) {
                return Err(Error::shape(
                    op,
                    format!(
                        "optimizer state of parameter {} has shape {:?}, the parameter {:?}",
                        p.name(),
                        b.shape(),
                        shape
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The slot `prepare` made for `name`.
    pub fn slot_mut(&mut self, op: &'static str, name: &str) -> Result<&mut Slot<T>> {
        self.slots
            .get_mut(name)
            .ok_or_else(|| Error::invalid(format!("{op}: no state for parameter {name}")))
    }

    /// Count a completed step.
    pub fn finish(&mut self) {
        self.steps += 1;
    }

    /// The state as sorted `(key, tensor)` pairs (buffers are shared, not copied).
    pub fn export(&self, lr: f64) -> Vec<(String, Tensor<T>)> {
        let mut out = vec![
            ("/steps".to_owned(), encode_u64(self.steps)),
            ("/lr".to_owned(), encode_u64(lr.to_bits())),
        ];
        for (name, slot) in &self.slots {
            out.push((format!("{name}/t"), encode_u64(slot.t)));
            for (field, buf) in self.fields.iter().zip(&slot.bufs) {
                out.push((format!("{name}/{field}"), buf.clone()));
            }
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// Replace all state with an exported one; returns the saved learning rate. Nothing
    /// changes if the state is malformed.
    pub fn import(&mut self, state: Vec<(String, Tensor<T>)>) -> Result<f64> {
        let bad = |detail: String| Error::invalid(format!("optimizer state: {detail}"));
        let mut steps = None;
        let mut lr = None;
        // name → (t, buffers in `fields` order), filled key by key.
        type Parts<T> = HashMap<String, (Option<u64>, Vec<Option<Tensor<T>>>)>;
        let mut parts: Parts<T> = HashMap::new();
        for (key, tensor) in state {
            let Some((name, field)) = key.rsplit_once('/') else {
                return Err(bad(format!("key {key:?} has no '/'")));
            };
            if name.is_empty() {
                match field {
                    "steps" => steps = Some(decode_u64(&key, &tensor)?),
                    "lr" => lr = Some(f64::from_bits(decode_u64(&key, &tensor)?)),
                    _ => return Err(bad(format!("unknown key {key:?}"))),
                }
                continue;
            }
            let entry = parts
                .entry(name.to_owned())
                .or_insert_with(|| (None, vec![None; self.fields.len()]));
            if field == "t" {
                entry.0 = Some(decode_u64(&key, &tensor)?);
            } else if let Some(i) = self.fields.iter().position(|f| *f == field) {
                if !tensor.all_finite() {
                    return Err(Error::NonFinite(format!("optimizer state {key:?}")));
                }
                entry.1[i] = Some(tensor);
            } else {
                return Err(bad(format!(
                    "unknown key {key:?} (this optimizer keeps {:?})",
                    self.fields
                )));
            }
        }
        let steps = steps.ok_or_else(|| bad("missing \"/steps\"".into()))?;
        let lr = lr.ok_or_else(|| bad("missing \"/lr\"".into()))?;
        if !(lr.is_finite() && lr >= 0.0) {
            return Err(bad(format!("learning rate {lr}")));
        }
        let mut slots = HashMap::with_capacity(parts.len());
        for (name, (t, bufs)) in parts {
            let t = t.ok_or_else(|| bad(format!("missing \"{name}/t\"")))?;
            let present = bufs.iter().filter(|b| b.is_some()).count();
            let bufs: Vec<Tensor<T>> = match present {
                0 => Vec::new(),
                n if n == bufs.len() => bufs.into_iter().flatten().collect(),
                _ => {
                    return Err(bad(format!(
                        "parameter {name} lacks some of {:?}",
                        self.fields
                    )))
                }
            };
            if bufs.iter().any(|b| b.shape() != bufs[0].shape()) {
                return Err(bad(format!("buffers of {name} differ in shape")));
            }
            slots.insert(name, Slot { bufs, t, stamp: 0 });
        }
        self.slots = slots;
        self.steps = steps;
        Ok(lr)
    }
}

/// A gradient usable for an update: the parameter's shape, every element finite.
pub(crate) fn check_gradient<T: Float>(
    op: &'static str,
    p: &Param<T>,
    g: &Tensor<T>,
) -> Result<()> {
    if g.shape() != p.value.shape() {
        return Err(Error::shape(
            op,
            format!(
                "gradient of parameter {} has shape {:?}, the parameter {:?}",
                p.name(),
                g.shape(),
                p.value.shape()
            ),
        ));
    }
    if !g.all_finite() {
        return Err(Error::NonFinite(format!(
            "{op}: gradient of parameter {} contains NaN or infinity",
            p.name()
        )));
    }
    Ok(())
}

fn encode_u64<T: Float>(v: u64) -> Tensor<T> {
    Tensor::from_fn(&[4], |i| T::from_f64(((v >> (16 * i)) & 0xffff) as f64))
}

fn decode_u64<T: Float>(key: &str, t: &Tensor<T>) -> Result<u64> {
    let limbs = t.data();
    let valid = |x: f64| (0.0..65536.0).contains(&x) && x.fract() == 0.0;
    if t.shape() != [4] || !limbs.iter().all(|l| valid(l.to_f64())) {
        return Err(Error::invalid(format!(
            "optimizer state {key:?}: expected 4 integer limbs in [0, 65535], got {t:?}"
        )));
    }
    Ok(limbs
        .iter()
        .enumerate()
        .fold(0, |acc, (i, l)| acc | ((l.to_f64() as u64) << (16 * i))))
}
