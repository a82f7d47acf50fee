//! Gradient checking: the analytic gradient from the tape against central differences,
//! in f64.
//!
//! The function under test may return any shape. It is reduced to a scalar by a fixed
//! random projection, `L(x) = Σ wᵢ·fᵢ(x)`, so every output element (and every mistake in
//! its backward) influences `L`. For each input element `xⱼ`:
//!
//! ```text
//! numeric_j  = (L(x + ε·eⱼ) − L(x − ε·eⱼ)) / 2ε      (error O(ε²))
//! analytic_j = (∂L/∂x)_j from one backward pass seeded with w
//! rel_j      = |analytic_j − numeric_j| / max(|analytic_j|, |numeric_j|, floor)
//! ```

use super::{Tape, Var};
use crate::{Error, Result, Tensor};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Settings for [`gradcheck`].
#[derive(Clone, Debug)]
pub struct GradcheckOptions {
    /// Finite-difference step.
    pub eps: f64,
    /// Denominator floor for the relative error, so gradients near zero are judged on
    /// their absolute error instead of dividing by ~0.
    pub rel_floor: f64,
    /// Seed of the output projection `w`.
    pub seed: u64,
}

impl Default for GradcheckOptions {
    fn default() -> Self {
        GradcheckOptions {
            eps: 1e-6,
            rel_floor: 1e-3,
            seed: 0,
        }
    }
}

/// Worst disagreement for one input.
#[derive(Clone, Debug)]
pub struct InputError {
    pub max_abs: f64,
    pub max_rel: f64,
    /// Flat index of the element with the largest relative error.
    pub worst_index: usize,
    pub analytic: f64,
    pub numeric: f64,
}

/// The result of a gradient check: one entry per input, in order.
#[derive(Clone, Debug)]
pub struct GradcheckReport {
    pub inputs: Vec<InputError>,
}

impl GradcheckReport {
    /// The largest relative error over all inputs.
    pub fn max_rel(&self) -> f64 {
        self.inputs.iter().fold(0.0, |m, e| m.max(e.max_rel))
    }
    pub fn max_abs(&self) -> f64 {
        self.inputs.iter().fold(0.0, |m, e| m.max(e.max_abs))
    }
    /// Ok when every input's max relative error is within `tolerance`, else an error
    /// naming the input, the element and both gradients.
    pub fn check(&self, tolerance: f64) -> Result<()> {
        for (i, e) in self.inputs.iter().enumerate() {
            if !(e.max_rel <= tolerance) {
                return Err(Error::Autograd(format!(
                    "gradcheck failed for input {i}: element {} analytic {:.9e} vs numeric \
                     {:.9e} (rel {:.3e} > {tolerance:.1e})",
                    e.worst_index, e.analytic, e.numeric, e.max_rel
                )));
            }
        }
        Ok(())
    }
}

/// Compare the tape's gradient of `f` at `inputs` with central differences.
pub fn gradcheck(
    f: impl Fn(&[Var<f64>]) -> Result<Var<f64>>,
    inputs: &[Tensor<f64>],
    options: &GradcheckOptions,
) -> Result<GradcheckReport> {
    let constants =
        |xs: &[Tensor<f64>]| -> Vec<Var<f64>> { xs.iter().cloned().map(Var::constant).collect() };
    let out = f(&constants(inputs))?;
    let mut rng = ChaCha8Rng::seed_from_u64(options.seed);
    let w = Tensor::from_fn(out.shape(), |_| rng.random_range(-1.0..1.0));
    let projected = |xs: &[Tensor<f64>]| -> Result<f64> {
        let y = f(&constants(xs))?;
        Ok(y.value()
            .data()
            .iter()
            .zip(w.data())
            .map(|(a, b)| a * b)
            .sum())
    };

    let tape = Tape::new();
    let leaves: Vec<Var<f64>> = inputs.iter().map(|x| tape.leaf(x.clone())).collect();
    let y = f(&leaves)?;
    if !y.is_recorded() {
        return Err(Error::Autograd(
            "gradcheck: the function's output does not depend on its inputs".into(),
        ));
    }
    let grads = y.backward_with(w.clone())?;

    let mut report = GradcheckReport { inputs: Vec::new() };
    for (i, leaf) in leaves.iter().enumerate() {
        let analytic = grads
            .get(leaf)
            .cloned()
            .unwrap_or_else(|| Tensor::zeros(leaf.shape()));
        let mut worst = InputError {
            max_abs: 0.0,
            max_rel: 0.0,
            worst_index: 0,
            analytic: 0.0,
            numeric: 0.0,
        };
        let mut probe = inputs.to_vec();
        for j in 0..inputs[i].len() {
            let x0 = inputs[i].data()[j];
            probe[i].data_mut()[j] = x0 + options.eps;
            let plus = projected(&probe)?;
            probe[i].data_mut()[j] = x0 - options.eps;
            let minus = projected(&probe)?;
            probe[i].data_mut()[j] = x0;
            let numeric = (plus - minus) / (2.0 * options.eps);
            let a = analytic.data()[j];
            let abs = (a - numeric).abs();
            let rel = abs / a.abs().max(numeric.abs()).max(options.rel_floor);
            worst.max_abs = worst.max_abs.max(abs);
            if rel > worst.max_rel || rel.is_nan() {
                worst = InputError {
                    max_rel: rel,
                    worst_index: j,
                    analytic: a,
                    numeric,
                    ..worst
                };
            }
        }
        report.inputs.push(worst);
    }
    Ok(report)
}
