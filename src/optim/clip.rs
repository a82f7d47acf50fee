//! Gradient clipping by global norm (Pascanu et al. 2013; `tf.clip_by_global_norm`,
//! Keras's `global_clipnorm`), the usual guard against exploding LSTM gradients.
//!
//! ```text
//! N = √(Σ_params Σ_i gᵢ²)                   one norm over all the parameters' gradients
//! N > c:  g ← g·c/N                          direction kept, length capped at c
//! ```

use crate::{Error, Float, Gradients, Param, Result};

/// The global L2 norm of the gradients of `params` (summed in f64); parameters without a
/// gradient count as zero, a parameter listed twice counts once.
pub fn global_grad_norm<T: Float>(params: &[&Param<T>], grads: &Gradients<T>) -> f64 {
    params
        .iter()
        .enumerate()
        .filter(|&(i, p)| first_listing(params, i, p))
        .filter_map(|(_, p)| grads.param(p))
        .flat_map(|g| g.data())
        .map(|&x| x.to_f64() * x.to_f64())
        .sum::<f64>()
        .sqrt()
}

/// Scale the gradients of `params` so their global norm is at most `max_norm`; returns
/// the norm before clipping (to log). A non-finite norm is an error, not a silent NaN step.
pub fn clip_grad_norm<T: Float>(
    params: &[&Param<T>],
    grads: &mut Gradients<T>,
    max_norm: f64,
) -> Result<f64> {
    if !(max_norm.is_finite() && max_norm > 0.0) {
        return Err(Error::invalid(format!(
            "clip_grad_norm: max_norm must be finite and > 0, got {max_norm}"
        )));
    }
    let norm = global_grad_norm(params, grads);
    if !norm.is_finite() {
        return Err(Error::NonFinite(format!(
            "clip_grad_norm: global gradient norm is {norm}"
        )));
    }
    if norm > max_norm {
        let scale = T::from_f64(max_norm / norm);
        for (i, p) in params.iter().enumerate() {
            if !first_listing(params, i, p) {
                continue;
            }
            if let Some(g) = grads.param_mut(p) {
                for x in g.data_mut() {
                    *x *= scale;
                }
            }
        }
    }
    Ok(norm)
}

/// A parameter listed twice counts once (a quadratic scan: lists are dozens long, and it
/// allocates nothing).
fn first_listing<T: Float>(params: &[&Param<T>], i: usize, p: &Param<T>) -> bool {
    params[..i].iter().all(|q| q.id() != p.id())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::tests::{bowl, grads_of};
    use crate::Tensor;

    #[test]
    fn clips_to_the_global_norm() {
        // Gradients [3, 0] and [0, 4] (bowl gradient = w): global norm 5.
        let a = Param::new("a", Tensor::new(vec![3.0f64, 0.0], &[2]).unwrap());
        let b = Param::new("b", Tensor::new(vec![0.0f64, 4.0], &[2]).unwrap());
        let loss = |v: &[crate::Var<f64>]| {
            let (la, lb) = (bowl(&v[0], &[1.0, 1.0]), bowl(&v[1], &[1.0, 1.0]));
            crate::Var::from_op("add", Tensor::scalar(0.0), &[&la, &lb], |g, _| {
                vec![Some(g.clone()), Some(g.clone())]
            })
        };
        let mut grads = grads_of(&[&a, &b], loss);
        assert_eq!(global_grad_norm(&[&a, &b, &a], &grads), 5.0);
        // Under the cap: unchanged.
        assert_eq!(clip_grad_norm(&[&a, &b], &mut grads, 10.0).unwrap(), 5.0);
        assert_eq!(grads.param(&a).unwrap().data(), [3.0, 0.0]);
        // Cap 1 → scale 1/5, even with a listed twice.
        assert_eq!(clip_grad_norm(&[&a, &b, &a], &mut grads, 1.0).unwrap(), 5.0);
        let close = |p: &Param<f64>, want: [f64; 2]| {
            let got = grads.param(p).unwrap().data();
            assert!((got[0] - want[0]).abs() < 1e-15 && (got[1] - want[1]).abs() < 1e-15);
        };
        close(&a, [0.6, 0.0]);
        close(&b, [0.0, 0.8]);
        assert!((global_grad_norm(&[&a, &b], &grads) - 1.0).abs() < 1e-15);
        assert!(clip_grad_norm(&[&a], &mut grads, 0.0).is_err());
    }

    #[test]
    fn non_finite_norm_is_an_error() {
        let a = Param::new("a", Tensor::new(vec![f64::INFINITY, 0.0], &[2]).unwrap());
        let mut grads = grads_of(&[&a], |v| bowl(&v[0], &[1.0, 1.0]));
        assert!(clip_grad_norm(&[&a], &mut grads, 1.0).is_err());
    }
}
