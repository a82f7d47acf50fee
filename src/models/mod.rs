//! The genre classifiers, as plain structs on the engine.
//!
//! Every model takes a batch of log-mel segments shaped `(N, 1, 80, 80)` — NCHW, which is
//! the same memory as Keras' `(N, 80, 80, 1)`: time on the H axis, mel bands on W — and
//! returns logits `(N, n_classes)`; the softmax lives in the loss.

mod cnn_lstm;
mod improved;
mod mlp;
mod parallel_cnn;
mod summary;

pub use cnn_lstm::{CnnLstm, FrontEnd};
pub use improved::BnCnn;
pub use mlp::Mlp;
pub use parallel_cnn::ParallelCnn;
pub use summary::{Summary, SummaryRow};

use crate::nn::Ctx;
use crate::{Error, Float, Param, Result, Var};

/// What every classifier offers the training loop, the checkpoints and the CLI.
pub trait Model<T: Float> {
    /// The model's kind as the CLI names it (`parallel-cnn`, ...); stored in checkpoints.
    fn kind(&self) -> &'static str;
    fn num_classes(&self) -> usize;
    /// Logits `(N, n_classes)` for a batch `(N, 1, 80, 80)`.
    fn forward(&mut self, x: &Var<T>, ctx: &mut Ctx<T>) -> Result<Var<T>>;
    /// Layer-by-layer table: names, output shapes, parameter counts (like Keras).
    fn summary(&self) -> Result<Summary>;
    fn params(&self) -> Vec<&Param<T>>;
    fn params_mut(&mut self) -> Vec<&mut Param<T>>;
    /// Saved but not trained (batch-norm running statistics).
    fn buffers(&self) -> Vec<&Param<T>> {
        Vec::new()
    }
    /// Parameters and buffers together: everything a checkpoint restores.
    fn state_mut(&mut self) -> Vec<&mut Param<T>> {
        self.params_mut()
    }
    /// Parameters that L1/L2 penalties apply to (kernels, not biases or BN scales).
    fn kernels(&self) -> Vec<&Param<T>> {
        self.params()
            .into_iter()
            .filter(|p| p.name().ends_with("weight") || p.name().ends_with("kernel"))
            .collect()
    }
}

/// The per-sample input shape every model expects: one channel, 80 frames, 80 mel bands.
pub const INPUT_SHAPE: [usize; 3] = [1, 80, 80];

/// Check a batch against `(N, 1, 80, 80)`, then rescale it for the first layer.
///
/// Log-mel features are dB relative to the track's maximum, in [−80, 0]; fed raw, their
/// magnitude makes the first layers' pre-activations (and the loss) huge at
/// initialisation. Every model therefore starts with the fixed map `x/40 + 1` onto
/// [−1, 1] (Keras `Rescaling(1/40, offset=1)`): no data statistics, so nothing extra has
/// to be saved for prediction.
pub fn prepare_input<T: Float>(model: &'static str, x: &Var<T>) -> Result<Var<T>> {
    check_input(model, x)?;
    let scale = T::from_f64(1.0 / 40.0);
    if !x.is_recorded() {
        // Data (no gradient wanted): one pass over the batch, the same two roundings as
        // the ops below, without their two batch-sized buffers and backward closures.
        return Ok(Var::constant(x.value().par_map(|v| v * scale + T::ONE)));
    }
    Ok(x.mul_scalar(scale).add_scalar(T::ONE))
}

/// Check a batch against `(N, 1, 80, 80)` before any layer sees it.
pub fn check_input<T: Float>(model: &'static str, x: &Var<T>) -> Result<()> {
    let s = x.shape();
    if s.len() != 4 || s[1..] != INPUT_SHAPE || s[0] == 0 {
        return Err(Error::shape(
            "model input",
            format!(
                "{model} expects a batch shaped (N, 1, 80, 80) (Keras (N, 80, 80, 1)), got {s:?}"
            ),
        ));
    }
    Ok(())
}

/// The models the CLI can build.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModelKind {
    ParallelCnn,
    CnnLstm,
    CnnLstm2d,
    BnCnn,
    Mlp,
}

impl ModelKind {
    pub const ALL: [ModelKind; 5] = [
        ModelKind::ParallelCnn,
        ModelKind::CnnLstm,
        ModelKind::CnnLstm2d,
        ModelKind::BnCnn,
        ModelKind::Mlp,
    ];
    pub fn name(self) -> &'static str {
        match self {
            ModelKind::ParallelCnn => "parallel-cnn",
            ModelKind::CnnLstm => "cnn-lstm",
            ModelKind::CnnLstm2d => "cnn-lstm-2d",
            ModelKind::BnCnn => "bn-cnn",
            ModelKind::Mlp => "mlp",
        }
    }
    pub fn parse(name: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|k| k.name() == name)
            .ok_or_else(|| {
                let known: Vec<_> = Self::ALL.iter().map(|k| k.name()).collect();
                Error::invalid(format!(
                    "unknown model '{name}'; known: {}",
                    known.join(", ")
                ))
            })
    }
    /// A freshly initialised model (Keras initialisers, seeded).
    pub fn build<T: Float>(self, n_classes: usize, seed: u64) -> Result<Box<dyn Model<T>>> {
        if n_classes < 2 {
            return Err(Error::invalid(format!(
                "a classifier needs at least 2 classes, got {n_classes}"
            )));
        }
        Ok(match self {
            ModelKind::ParallelCnn => Box::new(ParallelCnn::new(n_classes, seed)),
            ModelKind::CnnLstm => Box::new(CnnLstm::new(FrontEnd::Conv1d, n_classes, seed)),
            ModelKind::CnnLstm2d => Box::new(CnnLstm::new(FrontEnd::Conv2d, n_classes, seed)),
            ModelKind::BnCnn => Box::new(BnCnn::new(n_classes, seed)),
            ModelKind::Mlp => Box::new(Mlp::new(&[512, 128], 0.3, n_classes, seed)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Tape, Tensor};

    /// Data takes the one-pass path, a recorded input the ops: the same values, and the
    /// recorded one still gets its gradient (1/40 per element).
    #[test]
    fn prepare_input_is_the_same_map_for_data_and_recorded_inputs() {
        let x = Tensor::<f32>::from_fn(&[2, 1, 80, 80], |i| -((i * 7919 % 8000) as f32) / 100.0);
        let data = prepare_input("test", &Var::constant(x.clone())).unwrap();
        assert!(!data.is_recorded());
        let tape = Tape::new();
        let leaf = tape.leaf(x);
        let recorded = prepare_input("test", &leaf).unwrap();
        assert_eq!(data.value().data(), recorded.value().data());
        let grads = recorded.sum().backward().unwrap();
        assert!(grads
            .get(&leaf)
            .unwrap()
            .data()
            .iter()
            .all(|&g| g == 1.0 / 40.0));
    }
}
