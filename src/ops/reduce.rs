//! Reductions: sum and mean over all elements or over chosen axes, and max along one axis.
//!
//! A sum copies each input element into one output, so its gradient copies the output's
//! gradient back to every element that was summed (a broadcast); a mean also divides by
//! the count; a max sends the gradient to the element that won.

use super::broadcast::{broadcast_to, sum_axes_keepdim};
use super::tensor_from;
use crate::kernels::elementwise::scale;
use crate::kernels::reduce as k;
use crate::tensor::numel;
use crate::{Error, Float, Result, Tensor, Var};

/// `y = Σᵢ xᵢ` over every element, a 0-d result; `∂y/∂xᵢ = 1`, so `dx = dy` everywhere.
pub fn sum<T: Float>(x: &Var<T>) -> Var<T> {
    let y = Tensor::scalar(k::sum(x.value().data()));
    let shape = x.shape().to_vec();
    Var::from_op("sum", y, &[x], move |g, _| {
        vec![Some(Tensor::full(&shape, g.data()[0]))]
    })
}

/// `y = (1/n) Σᵢ xᵢ` over every element, a 0-d result; `dx = dy/n` everywhere.
/// An empty tensor has no mean: that is an error.
pub fn mean<T: Float>(x: &Var<T>) -> Result<Var<T>> {
    let n = x.value().len();
    if n == 0 {
        return Err(Error::shape(
            "mean",
            "the mean of an empty tensor is undefined",
        ));
    }
    let inv = T::ONE / T::from_usize(n);
    let y = Tensor::scalar(k::sum(x.value().data()) * inv);
    let shape = x.shape().to_vec();
    Ok(Var::from_op("mean", y, &[x], move |g, _| {
        vec![Some(Tensor::full(&shape, g.data()[0] * inv))]
    }))
}

/// Check `axes` against `shape` and mark them: distinct, in range.
fn axis_mask(op: &'static str, shape: &[usize], axes: &[usize]) -> Result<Vec<bool>> {
    let mut mask = vec![false; shape.len()];
    for &a in axes {
        if a >= shape.len() {
            return Err(Error::shape(
                op,
                format!("axis {a} out of range for {shape:?}"),
            ));
        }
        if std::mem::replace(&mut mask[a], true) {
            return Err(Error::shape(
                op,
                format!("axis {a} listed twice in {axes:?}"),
            ));
        }
    }
    Ok(mask)
}

/// The reduced shape: axes in `mask` become 1 (`keepdim`) or disappear.
fn reduced_shape(shape: &[usize], mask: &[bool], keepdim: bool) -> Vec<usize> {
    shape
        .iter()
        .zip(mask)
        .filter_map(|(&d, &m)| match (m, keepdim) {
            (false, _) => Some(d),
            (true, true) => Some(1),
            (true, false) => None,
        })
        .collect()
}

/// Sum over `axes`; with `mean`, divide by the number of elements summed per output.
fn scaled_sum_axes<T: Float>(
    op: &'static str,
    x: &Var<T>,
    axes: &[usize],
    keepdim: bool,
    mean: bool,
) -> Result<Var<T>> {
    let shape = x.shape().to_vec();
    let mask = axis_mask(op, &shape, axes)?;
    let count: usize = shape
        .iter()
        .zip(&mask)
        .filter(|(_, &m)| m)
        .map(|(d, _)| d)
        .product();
    if mean && count == 0 {
        return Err(Error::shape(
            op,
            format!("mean over empty axes {axes:?} of {shape:?}"),
        ));
    }
    let factor = if mean {
        T::ONE / T::from_usize(count)
    } else {
        T::ONE
    };
    let mut y = sum_axes_keepdim(x.value(), &mask);
    if mean {
        scale(factor, y.data_mut());
    }
    let kept = reduced_shape(&shape, &mask, true);
    let y = y.reshape(&reduced_shape(&shape, &mask, keepdim))?;
    Ok(Var::from_op(op, y, &[x], move |g, _| {
        let g = g.reshape(&kept).expect("same element count");
        let mut dx = broadcast_to(&g, &shape).expect("kept shape broadcasts to the input");
        if mean {
            scale(factor, dx.data_mut());
        }
        vec![Some(dx)]
    }))
}

/// `y = Σ x` over `axes` (each at most once); with `keepdim` the summed axes stay as 1s.
/// `dx[i] = dy[i with the summed axes dropped]`: the gradient is broadcast back.
pub fn sum_axes<T: Float>(x: &Var<T>, axes: &[usize], keepdim: bool) -> Result<Var<T>> {
    scaled_sum_axes("sum_axes", x, axes, keepdim, false)
}

/// `y = (1/n) Σ x` over `axes`, `n` the number of elements summed into each output;
/// `dx = dy/n` broadcast back over the reduced axes.
pub fn mean_axes<T: Float>(x: &Var<T>, axes: &[usize], keepdim: bool) -> Result<Var<T>> {
    scaled_sum_axes("mean_axes", x, axes, keepdim, true)
}

/// `y = max x` along `axis`; `dx = dy` at the (first) largest element of each slice and 0
/// elsewhere. The axis must not be empty.
pub fn max_axis<T: Float>(x: &Var<T>, axis: usize, keepdim: bool) -> Result<Var<T>> {
    let shape = x.shape().to_vec();
    let mask = axis_mask("max_axis", &shape, &[axis])?;
    let n = shape[axis];
    if n == 0 {
        return Err(Error::shape(
            "max_axis",
            format!("axis {axis} of {shape:?} is empty"),
        ));
    }
    let (outer, inner) = (numel(&shape[..axis]), numel(&shape[axis + 1..]));
    let src = x.value().data();
    let mut values = vec![T::ZERO; outer * inner];
    let mut winners = vec![0usize; outer * inner]; // flat input index of each max
    for o in 0..outer {
        for i in 0..inner {
            let mut best = o * n * inner + i;
            for j in 1..n {
                let at = (o * n + j) * inner + i;
                if src[at] > src[best] {
                    best = at;
                }
            }
            values[o * inner + i] = src[best];
            winners[o * inner + i] = best;
        }
    }
    let y = tensor_from(values, &reduced_shape(&shape, &mask, keepdim));
    Ok(Var::from_op("max_axis", y, &[x], move |g, _| {
        let mut dx = vec![T::ZERO; numel(&shape)];
        for (&w, &gv) in winners.iter().zip(g.data()) {
            dx[w] = gv;
        }
        vec![Some(tensor_from(dx, &shape))]
    }))
}

impl<T: Float> Var<T> {
    /// [`sum`] of every element.
    pub fn sum(&self) -> Var<T> {
        sum(self)
    }
    /// [`mean`] of every element.
    pub fn mean(&self) -> Result<Var<T>> {
        mean(self)
    }
    /// [`sum_axes`]
    pub fn sum_axes(&self, axes: &[usize], keepdim: bool) -> Result<Var<T>> {
        sum_axes(self, axes, keepdim)
    }
    /// [`mean_axes`]
    pub fn mean_axes(&self, axes: &[usize], keepdim: bool) -> Result<Var<T>> {
        mean_axes(self, axes, keepdim)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::autograd::{gradcheck, GradcheckOptions};

    fn check(f: impl Fn(&Var<f64>) -> Result<Var<f64>>, x: Tensor<f64>) {
        let r = gradcheck(|v| f(&v[0]), &[x], &GradcheckOptions::default()).unwrap();
        r.check(1e-6).unwrap();
    }

    /// Distinct values (no ties for max).
    fn x(shape: &[usize]) -> Tensor<f64> {
        Tensor::from_fn(shape, |i| ((i * 37) % 101) as f64 * 0.03 - 1.5)
    }

    #[test]
    fn full_reductions_gradcheck() {
        check(|v| Ok(sum(v)), x(&[3, 4]));
        check(mean, x(&[2, 3, 2]));
    }

    #[test]
    fn axis_reductions_gradcheck() {
        let axes: [&[usize]; 6] = [&[0], &[1], &[2], &[0, 2], &[1, 2], &[0, 1, 2]];
        for a in axes {
            for keep in [false, true] {
                check(|v| sum_axes(v, a, keep), x(&[2, 3, 4]));
                check(|v| mean_axes(v, a, keep), x(&[2, 3, 4]));
            }
        }
        for axis in 0..3 {
            check(|v| max_axis(v, axis, false), x(&[2, 3, 4]));
        }
    }

    #[test]
    fn values_and_shapes() {
        let v = Var::constant(Tensor::from_fn(&[2, 3], |i| i as f64));
        let s = sum_axes(&v, &[0], false).unwrap();
        assert_eq!(
            (s.shape(), s.value().data()),
            (&[3][..], &[3.0, 5.0, 7.0][..])
        );
        let m = mean_axes(&v, &[1], true).unwrap();
        assert_eq!(
            (m.shape(), m.value().data()),
            (&[2, 1][..], &[1.0, 4.0][..])
        );
        assert_eq!(mean(&v).unwrap().value().item().unwrap(), 2.5);
        let mx = max_axis(&v, 1, false).unwrap();
        assert_eq!(mx.value().data(), &[2.0, 5.0]);
        assert_eq!(sum_axes(&v, &[], false).unwrap().value(), v.value());
    }

    #[test]
    fn bad_axes_are_errors() {
        let v = Var::constant(Tensor::<f64>::zeros(&[2, 3]));
        assert!(sum_axes(&v, &[2], false).is_err());
        assert!(sum_axes(&v, &[1, 1], false).is_err());
        assert!(max_axis(&v, 5, false).is_err());
        assert!(mean(&Var::constant(Tensor::<f64>::zeros(&[0]))).is_err());
        assert!(mean_axes(&Var::constant(Tensor::<f64>::zeros(&[2, 0])), &[1], false).is_err());
    }
}
