//! Layers: plain structs that own their parameters and call ops in `forward`.

pub mod conv;
pub mod dropout;
pub mod init;
pub mod linear;
pub mod norm;
pub mod pool;
pub mod recurrent;

pub use conv::{Conv1d, Conv2d};
pub use dropout::Dropout;
pub use linear::Linear;
pub use norm::BatchNorm;
pub use pool::{GlobalAvgPool1d, GlobalAvgPool2d, MaxPool1d, MaxPool2d};
pub use recurrent::{Gru, Lstm};

use crate::{Float, Param, Result, Tape, Tensor, Var};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// How a forward pass runs: recording on a tape (training) or not (inference), in train
/// or eval mode (dropout, batch norm), with a seeded RNG for the stochastic layers.
pub struct Ctx<T: Float> {
    tape: Option<Tape<T>>,
    training: bool,
    rng: ChaCha8Rng,
    /// When set, `observe` keeps each named layer output (to find the first non-finite one).
    trace: Option<Vec<(String, Tensor<T>)>>,
}

impl<T: Float> Ctx<T> {
    /// Training: parameters go on `tape`, dropout is active, batch norm uses batch
    /// statistics and updates its running ones. `seed` drives dropout masks.
    pub fn train(tape: &Tape<T>, seed: u64) -> Self {
        Ctx {
            tape: Some(tape.clone()),
            training: true,
            rng: ChaCha8Rng::seed_from_u64(seed),
            trace: None,
        }
    }
    /// Inference: nothing is recorded, dropout is the identity, batch norm uses its
    /// running statistics.
    pub fn eval() -> Self {
        Ctx {
            tape: None,
            training: false,
            rng: ChaCha8Rng::seed_from_u64(0),
            trace: None,
        }
    }
    /// Eval-mode layers but still recorded on `tape` (gradients w.r.t. the input of a
    /// trained model, e.g. for saliency maps; or gradchecks of whole models).
    pub fn eval_recorded(tape: &Tape<T>) -> Self {
        Ctx {
            tape: Some(tape.clone()),
            training: false,
            rng: ChaCha8Rng::seed_from_u64(0),
            trace: None,
        }
    }
    /// Keep every output passed to [`Ctx::observe`] from now on.
    pub fn with_trace(mut self) -> Self {
        self.trace = Some(Vec::new());
        self
    }
    /// Models call this with each layer's output; a no-op unless tracing.
    pub fn observe(&mut self, layer: &str, output: &Var<T>) {
        if let Some(trace) = &mut self.trace {
            trace.push((layer.to_string(), output.value().clone()));
        }
    }
    /// The traced (layer, output) pairs, in forward order.
    pub fn take_trace(&mut self) -> Vec<(String, Tensor<T>)> {
        self.trace.take().unwrap_or_default()
    }
    pub fn is_training(&self) -> bool {
        self.training
    }
    pub fn tape(&self) -> Option<&Tape<T>> {
        self.tape.as_ref()
    }
    pub fn rng(&mut self) -> &mut ChaCha8Rng {
        &mut self.rng
    }
    /// A parameter as a var: on the tape when recording, a constant otherwise.
    pub fn param(&self, p: &Param<T>) -> Var<T> {
        match &self.tape {
            Some(tape) => tape.param(p),
            None => Var::constant(p.value.clone()),
        }
    }
}

/// A layer: `forward` maps a batch to a batch; `params` lists what the optimizer trains;
/// `buffers` lists persistent state that is saved but not trained (running statistics).
pub trait Layer<T: Float> {
    fn forward(&mut self, x: &Var<T>, ctx: &mut Ctx<T>) -> Result<Var<T>>;
    /// Output shape for an input shape (batch axis included), without computing anything;
    /// an error if the input shape does not fit the layer.
    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>>;
    /// A short description for model summaries, e.g. `Conv2d(1→3, 8×8, same)`.
    fn describe(&self) -> String;
    fn params(&self) -> Vec<&Param<T>> {
        Vec::new()
    }
    fn params_mut(&mut self) -> Vec<&mut Param<T>> {
        Vec::new()
    }
    fn buffers(&self) -> Vec<&Param<T>> {
        Vec::new()
    }
    fn buffers_mut(&mut self) -> Vec<&mut Param<T>> {
        Vec::new()
    }
}

/// Total number of trainable scalars.
pub fn count_params<T: Float>(params: &[&Param<T>]) -> usize {
    params.iter().map(|p| p.numel()).sum()
}

/// Copy a parameter's value (used when loading checkpoints): the shape must match.
pub fn assign<T: Float>(p: &mut Param<T>, value: Tensor<T>) -> Result<()> {
    if p.value.shape() != value.shape() {
        return Err(crate::Error::shape(
            "assign",
            format!(
                "parameter {} has shape {:?}, value has {:?}",
                p.name(),
                p.value.shape(),
                value.shape()
            ),
        ));
    }
    p.value = value;
    Ok(())
}
