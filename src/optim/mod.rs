//! Optimizers, learning-rate schedules, weight penalties and gradient clipping.
//!
//! A training step with every piece:
//!
//! ```text
//! let mut grads = loss.backward()?;
//! drop(loss); drop(tape);                            // parameters are then updated in place
//! penalty.add_gradients(&kernels, &mut grads)?;      // l1·sign(w) + 2·l2·w
//! let norm = clip_grad_norm(&params, &mut grads, 5.0)?;
//! optimizer.step(&mut params_mut, &grads)?;
//! ```
//!
//! Optimizer state is keyed by parameter name, so [`Optimizer::state`] saved by one
//! process and [`Optimizer::load_state`]-ed into a fresh optimizer in another gives the
//! same next steps, bit for bit.
//!
//! Steps do not allocate after the first (which creates the state buffers), provided no
//! one else holds a parameter's tensor: the tape keeps a clone of every parameter it saw,
//! so drop it (and the vars on it) before stepping, or the copy-on-write in
//! `Tensor::data_mut` copies the parameter — correct, but an allocation.

mod adam;
mod clip;
mod penalty;
mod schedule;
mod sgd;
mod slots;

#[cfg(test)]
mod tests;

pub use adam::{Adam, AdamW};
pub use clip::{clip_grad_norm, global_grad_norm};
pub use penalty::Penalty;
pub use schedule::{LrSchedule, PlateauMode, PlateauState, ReduceOnPlateau};
pub use sgd::Sgd;

use crate::{Float, Gradients, Param, Result, Tensor};

/// A rule that moves parameters against their gradients.
pub trait Optimizer<T: Float> {
    /// One update of every parameter that has a gradient in `grads`; parameters without
    /// one are skipped (their state is untouched). Every gradient is checked first (the
    /// parameter's shape, all finite, no two updated parameters with the same name): on
    /// an error naming the parameter, nothing has moved.
    fn step(&mut self, params: &mut [&mut Param<T>], grads: &Gradients<T>) -> Result<()>;
    fn learning_rate(&self) -> f64;
    /// Takes effect at the next step (which rejects a negative or non-finite rate).
    fn set_learning_rate(&mut self, lr: f64);
    /// Completed `step` calls.
    fn steps(&self) -> u64;
    /// Everything needed to resume: the step counter, the learning rate and each
    /// parameter's buffers, keyed by parameter name (see `slots.rs` for the layout).
    fn state(&self) -> Vec<(String, Tensor<T>)>;
    /// Replace the state with one from [`Optimizer::state`] (also restores the learning
    /// rate). Shapes are checked against the parameters at the next step.
    fn load_state(&mut self, state: Vec<(String, Tensor<T>)>) -> Result<()>;
}

/// `x` must be finite and within `[low, high)` (`high` may be infinite).
fn check_range(op: &str, what: &str, x: f64, low: f64, high: f64) -> Result<()> {
    if x.is_finite() && x >= low && x < high {
        Ok(())
    } else {
        Err(crate::Error::invalid(format!(
            "{op}: {what} = {x} is outside [{low}, {high})"
        )))
    }
}
