//! Shape ops: they move elements without changing them, so every gradient is the same
//! move run backwards — reshape back, permute by the inverse permutation, split a
//! concatenation, pad a slice with zeros.

use super::tensor_from;
use crate::tensor::numel;
use crate::{Error, Float, Result, Tensor, Var};

/// The same elements under a new shape (no copy); `dx = dy` reshaped back.
pub fn reshape<T: Float>(x: &Var<T>, shape: &[usize]) -> Result<Var<T>> {
    let y = x.value().reshape(shape)?;
    let back = x.shape().to_vec();
    Ok(Var::from_op("reshape", y, &[x], move |g, _| {
        vec![Some(g.reshape(&back).expect("same element count"))]
    }))
}

/// `(N, d₁, d₂, …) → (N, d₁·d₂·…)`: keep the batch axis, merge the rest.
pub fn flatten<T: Float>(x: &Var<T>) -> Result<Var<T>> {
    let Some((&n, rest)) = x.shape().split_first() else {
        return Err(Error::shape("flatten", "a 0-d tensor has no batch axis"));
    };
    reshape(x, &[n, numel(rest)])
}

/// Insert an axis of size 1 at `axis` (0 ..= rank).
pub fn unsqueeze<T: Float>(x: &Var<T>, axis: usize) -> Result<Var<T>> {
    let mut shape = x.shape().to_vec();
    if axis > shape.len() {
        return Err(Error::shape(
            "unsqueeze",
            format!("axis {axis} for shape {shape:?}"),
        ));
    }
    shape.insert(axis, 1);
    reshape(x, &shape)
}

/// Remove the axis `axis`, which must have size 1.
pub fn squeeze<T: Float>(x: &Var<T>, axis: usize) -> Result<Var<T>> {
    let mut shape = x.shape().to_vec();
    if shape.get(axis) != Some(&1) {
        return Err(Error::shape(
            "squeeze",
            format!("axis {axis} of {shape:?} is not 1"),
        ));
    }
    shape.remove(axis);
    reshape(x, &shape)
}

/// Copy `t` with its axes reordered: output axis `i` is input axis `axes[i]`.
/// `axes` must be a permutation of `0..rank` (checked by the caller).
fn permute_tensor<T: Float>(t: &Tensor<T>, axes: &[usize]) -> Tensor<T> {
    let in_shape = t.shape();
    let rank = in_shape.len();
    let out_shape: Vec<usize> = axes.iter().map(|&a| in_shape[a]).collect();
    if axes.iter().enumerate().all(|(i, &a)| i == a) || t.is_empty() {
        return tensor_from(t.data().to_vec(), &out_shape);
    }
    let mut in_strides = vec![1usize; rank];
    for i in (0..rank.saturating_sub(1)).rev() {
        in_strides[i] = in_strides[i + 1] * in_shape[i + 1];
    }
    // Input stride of each output axis; the last output axis is the inner loop.
    let read: Vec<usize> = axes.iter().map(|&a| in_strides[a]).collect();
    let (inner, inner_stride) = (out_shape[rank - 1], read[rank - 1]);
    let src = t.data();
    let mut out = Vec::with_capacity(t.len());
    let mut counter = vec![0usize; rank - 1];
    let mut base = 0usize;
    while out.len() < t.len() {
        out.extend((0..inner).map(|j| src[base + j * inner_stride]));
        for d in (0..rank - 1).rev() {
            counter[d] += 1;
            base += read[d];
            if counter[d] < out_shape[d] {
                break;
            }
            base -= read[d] * out_shape[d];
            counter[d] = 0;
        }
    }
    tensor_from(out, &out_shape)
}

/// Reorder axes: `y[i₀, …] = x[…]` with output axis `k` taken from input axis `axes[k]`.
/// `dx = permute(dy, axes⁻¹)`, where `axes⁻¹[axes[k]] = k`.
pub fn permute<T: Float>(x: &Var<T>, axes: &[usize]) -> Result<Var<T>> {
    let rank = x.shape().len();
    let mut inverse = vec![usize::MAX; rank];
    for (k, &a) in axes.iter().enumerate() {
        if a >= rank || inverse[a] != usize::MAX {
            break;
        }
        inverse[a] = k;
    }
    if axes.len() != rank || inverse.contains(&usize::MAX) {
        return Err(Error::shape(
            "permute",
            format!(
                "{axes:?} is not a permutation of the axes of {:?}",
                x.shape()
            ),
        ));
    }
    let y = permute_tensor(x.value(), axes);
    Ok(Var::from_op("permute", y, &[x], move |g, _| {
        vec![Some(permute_tensor(g, &inverse))]
    }))
}

/// Swap two axes (a [`permute`] that exchanges `a0` and `a1`).
pub fn transpose<T: Float>(x: &Var<T>, a0: usize, a1: usize) -> Result<Var<T>> {
    let rank = x.shape().len();
    if a0 >= rank || a1 >= rank {
        return Err(Error::shape(
            "transpose",
            format!("axes {a0}, {a1} for shape {:?}", x.shape()),
        ));
    }
    let mut axes: Vec<usize> = (0..rank).collect();
    axes.swap(a0, a1);
    permute(x, &axes)
}

/// Join tensors along `axis`; all other dims must agree. Viewed as `(outer, dᵢ, inner)`,
/// input `i` fills columns `[oᵢ, oᵢ + dᵢ)` of the `(outer, Σd, inner)` output, and its
/// gradient is that block of `dy`.
pub fn concat<T: Float>(xs: &[&Var<T>], axis: usize) -> Result<Var<T>> {
    let Some(first) = xs.first() else {
        return Err(Error::shape("concat", "no inputs"));
    };
    let base = first.shape();
    if axis >= base.len() {
        return Err(Error::shape(
            "concat",
            format!("axis {axis} for shape {base:?}"),
        ));
    }
    for x in xs {
        let s = x.shape();
        let fits = s.len() == base.len() && (0..s.len()).all(|i| i == axis || s[i] == base[i]);
        if !fits {
            return Err(Error::shape(
                "concat",
                format!("{s:?} does not match {base:?} outside axis {axis}"),
            ));
        }
    }
    let (outer, inner) = (numel(&base[..axis]), numel(&base[axis + 1..]));
    let widths: Vec<usize> = xs.iter().map(|x| x.shape()[axis] * inner).collect();
    let total: usize = widths.iter().sum();
    let mut out = Vec::with_capacity(outer * total);
    for o in 0..outer {
        for (x, &w) in xs.iter().zip(&widths) {
            out.extend_from_slice(&x.value().data()[o * w..(o + 1) * w]);
        }
    }
    let mut shape = base.to_vec();
    shape[axis] = xs.iter().map(|x| x.shape()[axis]).sum();
    let shapes: Vec<Vec<usize>> = xs.iter().map(|x| x.shape().to_vec()).collect();
    Ok(Var::from_op(
        "concat",
        tensor_from(out, &shape),
        xs,
        move |g, needs| {
            let mut offset = 0;
            let mut grads = Vec::with_capacity(shapes.len());
            for ((s, &w), &need) in shapes.iter().zip(&widths).zip(needs) {
                grads.push(need.then(|| {
                    let mut d = Vec::with_capacity(outer * w);
                    for o in 0..outer {
                        d.extend_from_slice(&g.data()[o * total + offset..][..w]);
                    }
                    tensor_from(d, s)
                }));
                offset += w;
            }
            grads
        },
    ))
}

/// Elements `start .. start + len` along `axis`. `dx` is `dy` placed back in that window,
/// zero elsewhere.
pub fn narrow<T: Float>(x: &Var<T>, axis: usize, start: usize, len: usize) -> Result<Var<T>> {
    let shape = x.shape().to_vec();
    let fits = axis < shape.len() && start.checked_add(len).is_some_and(|e| e <= shape[axis]);
    if !fits {
        return Err(Error::shape(
            "narrow",
            format!("[{start}, {start}+{len}) along axis {axis} of {shape:?}"),
        ));
    }
    let (outer, inner) = (numel(&shape[..axis]), numel(&shape[axis + 1..]));
    let (row, from, w) = (shape[axis] * inner, start * inner, len * inner);
    let src = x.value().data();
    let mut out = Vec::with_capacity(outer * w);
    for o in 0..outer {
        out.extend_from_slice(&src[o * row + from..][..w]);
    }
    let mut out_shape = shape.clone();
    out_shape[axis] = len;
    Ok(Var::from_op(
        "narrow",
        tensor_from(out, &out_shape),
        &[x],
        move |g, _| {
            let mut dx = vec![T::ZERO; numel(&shape)];
            for o in 0..outer {
                dx[o * row + from..][..w].copy_from_slice(&g.data()[o * w..][..w]);
            }
            vec![Some(tensor_from(dx, &shape))]
        },
    ))
}

impl<T: Float> Var<T> {
    /// [`reshape`]
    pub fn reshape(&self, shape: &[usize]) -> Result<Var<T>> {
        reshape(self, shape)
    }
    /// [`flatten`]: keep axis 0, merge the rest.
    pub fn flatten(&self) -> Result<Var<T>> {
        flatten(self)
    }
    /// [`permute`]
    pub fn permute(&self, axes: &[usize]) -> Result<Var<T>> {
        permute(self, axes)
    }
    /// [`transpose`]: swap two axes.
    pub fn transpose(&self, a0: usize, a1: usize) -> Result<Var<T>> {
        transpose(self, a0, a1)
    }
    /// [`narrow`]: `len` elements from `start` along `axis`.
    pub fn narrow(&self, axis: usize, start: usize, len: usize) -> Result<Var<T>> {
        narrow(self, axis, start, len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::autograd::{gradcheck, GradcheckOptions};

    fn t(shape: &[usize], seed: usize) -> Tensor<f64> {
        Tensor::from_fn(shape, |i| (i + seed * 100) as f64 * 0.01)
    }
    fn check(f: impl Fn(&[Var<f64>]) -> Result<Var<f64>>, inputs: &[Tensor<f64>]) {
        let r = gradcheck(f, inputs, &GradcheckOptions::default()).unwrap();
        r.check(1e-6).unwrap();
    }

    #[test]
    fn reshape_family_gradcheck() {
        check(|v| reshape(&v[0], &[4, 3]), &[t(&[2, 6], 0)]);
        check(|v| flatten(&v[0]), &[t(&[2, 3, 2], 0)]);
        check(
            |v| unsqueeze(&v[0], 1)?.mul(&v[0].reshape(&[2, 1, 3])?),
            &[t(&[2, 3], 0)],
        );
        check(|v| squeeze(&v[0], 1), &[t(&[2, 1, 3], 0)]);
    }

    #[test]
    fn permute_values_and_gradcheck() {
        let x = t(&[2, 3, 4], 0);
        let y = permute(&Var::constant(x.clone()), &[2, 0, 1]).unwrap();
        assert_eq!(y.shape(), &[4, 2, 3]);
        // y[k, i, j] = x[i, j, k]
        for (i, j, k) in [(0, 0, 0), (1, 2, 3), (0, 1, 2), (1, 0, 3)] {
            assert_eq!(
                y.value().data()[k * 6 + i * 3 + j],
                x.data()[i * 12 + j * 4 + k]
            );
        }
        check(|v| permute(&v[0], &[2, 0, 1]), std::slice::from_ref(&x));
        check(|v| permute(&v[0], &[1, 3, 0, 2]), &[t(&[2, 3, 2, 2], 0)]);
        check(|v| transpose(&v[0], 0, 1), &[t(&[3, 5], 0)]);
        let back = permute(&y, &[1, 2, 0]).unwrap();
        assert_eq!(back.value(), &x);
    }

    #[test]
    fn concat_three_gradcheck() {
        for axis in 0..3 {
            let mut shapes = [[2, 3, 2], [2, 3, 2], [2, 3, 2]];
            shapes[1][axis] = 1;
            shapes[2][axis] = 4;
            let inputs: Vec<_> = shapes.iter().enumerate().map(|(i, s)| t(s, i)).collect();
            check(|v| concat(&[&v[0], &v[1], &v[2]], axis), &inputs);
        }
        let a = Var::constant(Tensor::new(vec![1.0, 2.0], &[2, 1]).unwrap());
        let b = Var::constant(Tensor::new(vec![3.0, 4.0, 5.0, 6.0], &[2, 2]).unwrap());
        let c = concat(&[&a, &b], 1).unwrap();
        assert_eq!(c.value().data(), &[1.0, 3.0, 4.0, 2.0, 5.0, 6.0]);
    }

    #[test]
    fn narrow_gradcheck() {
        check(|v| narrow(&v[0], 1, 1, 2), &[t(&[2, 4, 3], 0)]);
        check(|v| narrow(&v[0], 0, 2, 1), &[t(&[3, 2], 0)]);
        let x = Var::constant(t(&[2, 4], 0));
        assert_eq!(
            narrow(&x, 1, 1, 2).unwrap().value().data(),
            &[0.01, 0.02, 0.05, 0.06]
        );
    }

    #[test]
    fn shape_errors() {
        let x = Var::constant(Tensor::<f64>::zeros(&[2, 3]));
        assert!(reshape(&x, &[4]).is_err());
        assert!(permute(&x, &[0]).is_err());
        assert!(permute(&x, &[0, 0]).is_err());
        assert!(permute(&x, &[0, 2]).is_err());
        assert!(transpose(&x, 0, 2).is_err());
        assert!(concat(&[&x, &Var::constant(Tensor::zeros(&[3, 3]))], 1).is_err());
        assert!(concat::<f64>(&[], 0).is_err());
        assert!(narrow(&x, 1, 2, 2).is_err());
        assert!(narrow(&x, 2, 0, 1).is_err());
        assert!(squeeze(&x, 0).is_err());
        assert!(unsqueeze(&x, 3).is_err());
        assert!(flatten(&Var::constant(Tensor::<f64>::scalar(1.0))).is_err());
    }
}
