//! L1/L2 weight penalties (Keras's `kernel_regularizer=l1_l2(l1, l2)`).
//!
//! ```text
//! R(w)     = l1·Σ|wᵢ| + l2·Σwᵢ²          Keras convention: no ½ on the L2 term
//! ∂R/∂wᵢ   = l1·sign(wᵢ) + 2·l2·wᵢ        sign(0) = 0, the subgradient TensorFlow uses
//! ```
//!
//! The penalty is not put on the tape: the training loop adds `value` to the reported
//! loss and `add_gradients` to the gradients from `backward`, which is the same as
//! differentiating `loss + R` and costs no graph nodes. Apply it to the parameters you
//! choose — typically kernels, not biases; a parameter listed twice is penalised twice.

use super::check_range;
use crate::{Float, Gradients, Param, Result, Tensor};

#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct Penalty {
    pub l1: f64,
    pub l2: f64,
}

impl Penalty {
    /// Both coefficients finite and ≥ 0.
    pub fn new(l1: f64, l2: f64) -> Result<Self> {
        let p = Penalty { l1, l2 };
        p.validate()?;
        Ok(p)
    }
    fn validate(&self) -> Result<()> {
        check_range("Penalty", "l1", self.l1, 0.0, f64::INFINITY)?;
        check_range("Penalty", "l2", self.l2, 0.0, f64::INFINITY)
    }
    fn is_zero(&self) -> bool {
        self.l1 == 0.0 && self.l2 == 0.0
    }

    /// `R = l1·Σ|w| + l2·Σw²` over `params` (summed in f64).
    pub fn value<T: Float>(&self, params: &[&Param<T>]) -> T {
        let (mut abs, mut sq) = (0.0, 0.0);
        for p in params {
            for &w in p.value.data() {
                let w = w.to_f64();
                abs += w.abs();
                sq += w * w;
            }
        }
        T::from_f64(self.l1 * abs + self.l2 * sq)
    }

    /// `g += l1·sign(w) + 2·l2·w` for each of `params`, in place. A parameter without a
    /// gradient (the loss did not use it) gets the penalty gradient alone.
    pub fn add_gradients<T: Float>(
        &self,
        params: &[&Param<T>],
        grads: &mut Gradients<T>,
    ) -> Result<()> {
        self.validate()?;
        if self.is_zero() {
            return Ok(());
        }
        for p in params {
            match grads.param_mut(p) {
                Some(g) => {
                    super::slots::check_gradient("Penalty::add_gradients", p, g)?;
                    self.accumulate(p.value.data(), g.data_mut());
                }
                None => {
                    let mut g = Tensor::zeros(p.value.shape());
                    self.accumulate(p.value.data(), g.data_mut());
                    grads.set_param(p, g)?;
                }
            }
        }
        Ok(())
    }

    /// `g += l1·sign(w) + 2·l2·w` over flat slices of equal length.
    pub fn accumulate<T: Float>(&self, w: &[T], g: &mut [T]) {
        let l1 = T::from_f64(self.l1);
        let two_l2 = T::from_f64(2.0 * self.l2);
        for (g, &w) in g.iter_mut().zip(w) {
            let sign = if w > T::ZERO {
                T::ONE
            } else if w < T::ZERO {
                -T::ONE
            } else {
                T::ZERO
            };
            *g += l1 * sign + two_l2 * w;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::tests::{bowl, grads_of};

    fn params() -> (Param<f64>, Param<f64>) {
        let k = Tensor::new(vec![0.5, -1.5, 2.0, -0.25], &[2, 2]).unwrap();
        let b = Tensor::new(vec![3.0, -0.1], &[2]).unwrap();
        (Param::new("kernel", k), Param::new("bias", b))
    }

    #[test]
    fn value_by_hand() {
        // Σ|w| = 0.5 + 1.5 + 2 + 0.25 = 4.25; Σw² = 0.25 + 2.25 + 4 + 0.0625 = 6.5625
        // R = 0.01·4.25 + 0.1·6.5625 = 0.0425 + 0.65625 = 0.69875 (kernel only)
        let (k, _) = params();
        let r = Penalty::new(0.01, 0.1).unwrap().value(&[&k]);
        assert!((r - 0.69875).abs() < 1e-15, "{r}");
    }

    #[test]
    fn gradient_matches_finite_differences() {
        let (k, b) = params();
        let pen = Penalty::new(0.03, 0.2).unwrap();
        // Start from the loss gradient of a bowl over both parameters and add the
        // penalty on the kernel only; the bias gradient must be untouched.
        let base = grads_of(&[&k, &b], |v| bowl(&v[1], &[1.0, 1.0]));
        assert!(base.param(&k).is_none());
        let mut grads = grads_of(&[&k, &b], |v| bowl(&v[1], &[1.0, 1.0]));
        pen.add_gradients(&[&k], &mut grads).unwrap();
        assert_eq!(grads.param(&b), base.param(&b));
        let analytic = grads.param(&k).unwrap().clone();
        // Central differences of R(w); no element is near the kink at 0.
        let h = 1e-6;
        for i in 0..k.numel() {
            let shifted = |d: f64| {
                let mut p = Param::new("kernel", k.value.clone());
                p.value.data_mut()[i] += d;
                pen.value(&[&p])
            };
            let numeric = (shifted(h) - shifted(-h)) / (2.0 * h);
            let a = analytic.data()[i];
            assert!((a - numeric).abs() < 1e-8, "element {i}: {a} vs {numeric}");
        }
        // and by hand for one element: w = −1.5 → 0.03·(−1) + 2·0.2·(−1.5) = −0.63
        assert!((analytic.data()[1] + 0.63).abs() < 1e-15);
    }

    #[test]
    fn adds_to_an_existing_gradient() {
        let (k, _) = params();
        let mut grads = grads_of(&[&k], |v| bowl(&v[0], &[1.0; 4]));
        Penalty::new(0.0, 0.5)
            .unwrap()
            .add_gradients(&[&k], &mut grads)
            .unwrap();
        // bowl gradient w, plus 2·0.5·w: 2w
        let want: Vec<f64> = k.value.data().iter().map(|w| 2.0 * w).collect();
        assert_eq!(grads.param(&k).unwrap().data(), want.as_slice());
    }

    #[test]
    fn sign_of_zero_is_zero_and_bad_coefficients_are_errors() {
        let mut g = [0.0f64];
        Penalty { l1: 1.0, l2: 1.0 }.accumulate(&[0.0], &mut g);
        assert_eq!(g, [0.0]);
        assert!(Penalty::new(-0.1, 0.0).is_err());
        assert!(Penalty::new(0.0, f64::NAN).is_err());
        let (k, _) = params();
        let mut grads = grads_of(&[&k], |v| bowl(&v[0], &[1.0; 4]));
        let bad = Penalty { l1: -1.0, l2: 0.0 };
        assert!(bad.add_gradients(&[&k], &mut grads).is_err());
    }
}
