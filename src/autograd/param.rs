//! Trainable parameters: tensors owned by model structs that outlive every tape.

use crate::{Float, Tensor};
use std::sync::atomic::{AtomicU64, Ordering};

/// A process-unique id; the tape and the optimizers key parameters by it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
pub struct ParamId(u64);

static NEXT_PARAM_ID: AtomicU64 = AtomicU64::new(0);

/// A named trainable tensor. Cloning makes an independent parameter with a new id.
pub struct Param<T: Float> {
    id: ParamId,
    name: String,
    pub value: Tensor<T>,
}

impl<T: Float> Param<T> {
    pub fn new(name: impl Into<String>, value: Tensor<T>) -> Self {
        Param {
            id: ParamId(NEXT_PARAM_ID.fetch_add(1, Ordering::Relaxed)),
            name: name.into(),
            value,
        }
    }
    pub fn id(&self) -> ParamId {
        self.id
    }
    /// The name used in checkpoints and summaries, e.g. `branch_a.conv.weight`.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// Prefix the name with the owning layer's path (`conv` → `branch_a.conv`).
    pub fn with_prefix(mut self, prefix: &str) -> Self {
        if !prefix.is_empty() {
            self.name = format!("{prefix}.{}", self.name);
        }
        self
    }
    /// In-place form of [`Param::with_prefix`], for layers already built.
    pub fn add_prefix(&mut self, prefix: &str) {
        if !prefix.is_empty() {
            self.name = format!("{prefix}.{}", self.name);
        }
    }
    pub fn numel(&self) -> usize {
        self.value.len()
    }
}

impl<T: Float> Clone for Param<T> {
    fn clone(&self) -> Self {
        Param::new(self.name.clone(), self.value.clone())
    }
}

impl<T: Float> std::fmt::Debug for Param<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Param({}, {:?})", self.name, self.value.shape())
    }
}
