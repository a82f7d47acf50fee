//! Softmax and log-softmax over the last axis, stable for any logits: each row is shifted
//! by its max first, which changes nothing mathematically (`softmax(x − c) = softmax(x)`)
//! but keeps every exponent ≤ 0.

use super::zip_kernel;
use crate::kernels::reduce as k;
use crate::{Error, Float, Result, Tensor, Var};

/// The row length (last axis) of `x`, or an error for a 0-d tensor.
fn last_axis<T: Float>(op: &'static str, x: &Var<T>) -> Result<usize> {
    x.shape()
        .last()
        .copied()
        .ok_or_else(|| Error::shape(op, "needs at least one axis, got a 0-d tensor"))
}

fn rows<T: Float>(x: &Tensor<T>, cols: usize, kernel: fn(&[T], usize, &mut [T])) -> Tensor<T> {
    super::map_kernel(x, |x, y| kernel(x, cols, y))
}

/// `yᵢ = e^xᵢ / Σⱼ e^xⱼ` along the last axis. Jacobian `∂yᵢ/∂xⱼ = yᵢ(δᵢⱼ − yⱼ)`, so
/// `dxᵢ = yᵢ(dyᵢ − Σⱼ dyⱼyⱼ)`.
pub fn softmax<T: Float>(x: &Var<T>) -> Result<Var<T>> {
    let cols = last_axis("softmax", x)?;
    let y = rows(x.value(), cols, k::softmax_rows);
    let kept = y.clone();
    Ok(Var::from_op("softmax", y, &[x], move |g, _| {
        let dx = zip_kernel(&kept, g, |y, g, dx| {
            k::softmax_backward_rows(y, g, cols, dx)
        });
        vec![Some(dx)]
    }))
}

/// `yᵢ = xᵢ − ln Σⱼ e^xⱼ` along the last axis. `∂yᵢ/∂xⱼ = δᵢⱼ − softmax(x)ⱼ`, so
/// `dxᵢ = dyᵢ − softmax(x)ᵢ Σⱼ dyⱼ` (with `softmax = e^y`).
pub fn log_softmax<T: Float>(x: &Var<T>) -> Result<Var<T>> {
    let cols = last_axis("log_softmax", x)?;
    let y = rows(x.value(), cols, k::log_softmax_rows);
    let kept = y.clone();
    Ok(Var::from_op("log_softmax", y, &[x], move |g, _| {
        let dx = zip_kernel(&kept, g, |y, g, dx| {
            k::log_softmax_backward_rows(y, g, cols, dx)
        });
        vec![Some(dx)]
    }))
}

impl<T: Float> Var<T> {
    /// [`softmax`] over the last axis.
    pub fn softmax(&self) -> Result<Var<T>> {
        softmax(self)
    }
    /// [`log_softmax`] over the last axis.
    pub fn log_softmax(&self) -> Result<Var<T>> {
        log_softmax(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::autograd::{gradcheck, GradcheckOptions};

    fn x() -> Tensor<f64> {
        Tensor::from_fn(&[2, 3, 5], |i| ((i * 13) % 17) as f64 * 0.3 - 2.0)
    }

    #[test]
    fn softmax_gradcheck() {
        let r = gradcheck(|v| softmax(&v[0]), &[x()], &GradcheckOptions::default()).unwrap();
        r.check(1e-6).unwrap();
        let r = gradcheck(|v| log_softmax(&v[0]), &[x()], &GradcheckOptions::default()).unwrap();
        r.check(1e-6).unwrap();
    }

    #[test]
    fn rows_sum_to_one_and_huge_logits_are_finite() {
        let x = Tensor::new(vec![1000.0, -1000.0, 0.0, 3.0, 1.0, 2.0], &[2, 3]).unwrap();
        let p = softmax(&Var::constant(x.clone())).unwrap();
        assert!(p.value().all_finite());
        for row in p.value().data().chunks(3) {
            assert!((row.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        }
        let lp = log_softmax(&Var::constant(x)).unwrap();
        assert!(lp.value().all_finite());
        assert!((lp.value().data()[1] + 2000.0).abs() < 1e-9);
    }

    #[test]
    fn scalar_input_is_an_error() {
        assert!(softmax(&Var::constant(Tensor::<f64>::scalar(1.0))).is_err());
        assert!(log_softmax(&Var::constant(Tensor::<f64>::scalar(1.0))).is_err());
    }
}
