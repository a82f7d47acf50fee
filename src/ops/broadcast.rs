//! NumPy broadcasting on tensors: the forward `out = a ∘ b`, the copy of a tensor to a
//! larger shape, and the reverse — summing a gradient back down to an input's shape.
//!
//! A broadcast is walked as blocks: shape-1 axes are dropped, neighbouring axes that are
//! contiguous in both operands are merged, and the last merged axis becomes a contiguous
//! inner loop in which each operand is either a run (stride 1) or one repeated value
//! (stride 0). The inner loops are the SIMD kernels of `kernels::elementwise`.

use super::tensor_from;
use crate::kernels::elementwise::{binary, binary_sv, binary_vs, BinaryOp};
use crate::kernels::reduce::sum_axis;
use crate::tensor::{broadcast_shapes, broadcast_strides, numel};
use crate::{Error, Float, Result, Tensor};

/// Call `block(out_start, len, a_offset, a_stride, b_offset, b_stride)` for each
/// contiguous run of the output, where `a`/`b` have shapes that broadcast to `out`.
/// Strides are 0 (one value repeated) or 1 (a run).
fn for_each_block(
    out: &[usize],
    a: &[usize],
    b: &[usize],
    mut block: impl FnMut(usize, usize, usize, usize, usize, usize),
) {
    let (sa, sb) = (broadcast_strides(a, out), broadcast_strides(b, out));
    // (size, a stride, b stride) for the axes that are not 1, merged where contiguous.
    let mut axes: Vec<(usize, usize, usize)> = Vec::with_capacity(out.len());
    for i in 0..out.len() {
        if out[i] == 1 {
            continue;
        }
        if let Some(last) = axes.last_mut() {
            if last.1 == sa[i] * out[i] && last.2 == sb[i] * out[i] {
                *last = (last.0 * out[i], sa[i], sb[i]);
                continue;
            }
        }
        axes.push((out[i], sa[i], sb[i]));
    }
    let total = numel(out);
    if total == 0 {
        return;
    }
    let Some(&(inner, ia, ib)) = axes.last() else {
        block(0, 1, 0, 0, 0, 0); // every axis is 1: one element
        return;
    };
    let outer_axes = &axes[..axes.len() - 1];
    let mut counter = vec![0usize; outer_axes.len()];
    let (mut oa, mut ob) = (0usize, 0usize);
    for start in (0..total).step_by(inner) {
        block(start, inner, oa, ia, ob, ib);
        // Advance the odometer over the outer axes, keeping both offsets in step.
        for d in (0..outer_axes.len()).rev() {
            let (size, da, db) = outer_axes[d];
            counter[d] += 1;
            oa += da;
            ob += db;
            if counter[d] < size {
                break;
            }
            counter[d] = 0;
            oa -= da * size;
            ob -= db * size;
        }
    }
}

/// `a ∘ b` elementwise with NumPy broadcasting; `op_name` labels a shape error.
pub fn broadcast_binary<T: Float>(
    op_name: &'static str,
    op: BinaryOp,
    a: &Tensor<T>,
    b: &Tensor<T>,
) -> Result<Tensor<T>> {
    if a.shape() == b.shape() {
        let mut out = vec![T::ZERO; a.len()];
        binary(op, a.data(), b.data(), &mut out);
        return Ok(tensor_from(out, a.shape()));
    }
    let shape = broadcast_shapes(op_name, a.shape(), b.shape())?;
    let mut out = vec![T::ZERO; numel(&shape)];
    let (ad, bd) = (a.data(), b.data());
    for_each_block(
        &shape,
        a.shape(),
        b.shape(),
        |start, len, oa, sa, ob, sb| {
            let dst = &mut out[start..start + len];
            match (sa, sb) {
                (1, 1) => binary(op, &ad[oa..oa + len], &bd[ob..ob + len], dst),
                (1, _) => binary_vs(op, &ad[oa..oa + len], bd[ob], dst),
                (_, 1) => binary_sv(op, ad[oa], &bd[ob..ob + len], dst),
                _ => dst.fill(op.apply(ad[oa], bd[ob])),
            }
        },
    );
    Ok(tensor_from(out, &shape))
}

/// A copy of `t` broadcast up to `shape` (which `t`'s shape must broadcast to).
pub fn broadcast_to<T: Float>(t: &Tensor<T>, shape: &[usize]) -> Result<Tensor<T>> {
    let full = broadcast_shapes("broadcast_to", t.shape(), shape)?;
    if full != shape {
        return Err(Error::shape(
            "broadcast_to",
            format!("{:?} does not broadcast to {shape:?}", t.shape()),
        ));
    }
    if t.shape() == shape {
        return Ok(t.clone());
    }
    let mut out = vec![T::ZERO; numel(shape)];
    let src = t.data();
    for_each_block(shape, t.shape(), t.shape(), |start, len, o, s, _, _| {
        let dst = &mut out[start..start + len];
        if s == 1 {
            dst.copy_from_slice(&src[o..o + len]);
        } else {
            dst.fill(src[o]);
        }
    });
    Ok(tensor_from(out, shape))
}

/// Sum `t` over the axes listed in `reduce` (sorted, distinct, in range); the result keeps
/// every axis, with the reduced ones set to 1. Runs of neighbouring axes are summed in
/// one pass of [`sum_axis`].
pub(crate) fn sum_axes_keepdim<T: Float>(t: &Tensor<T>, reduce: &[bool]) -> Tensor<T> {
    let mut dims = t.shape().to_vec();
    let mut data: Option<Vec<T>> = None;
    let mut i = 0;
    while i < dims.len() {
        if !reduce[i] {
            i += 1;
            continue;
        }
        let j = (i..dims.len()).find(|&j| !reduce[j]).unwrap_or(dims.len());
        let (outer, n, inner) = (numel(&dims[..i]), numel(&dims[i..j]), numel(&dims[j..]));
        let src = data.as_deref().unwrap_or(t.data());
        let mut out = vec![T::ZERO; outer * inner];
        sum_axis(src, outer, n, inner, &mut out);
        data = Some(out);
        dims[i..j].fill(1);
        i = j;
    }
    match data {
        Some(d) => tensor_from(d, &dims),
        None => t.clone(),
    }
}

/// The gradient of a broadcast: sum `g` (shaped like the broadcast output) over every
/// axis along which `shape` was stretched, and return it with shape `shape`.
///
/// If `y = broadcast(x)` then each `xᵢ` feeds every `y` it was copied to, so
/// `∂L/∂xᵢ = Σ ∂L/∂yⱼ` over those copies.
pub fn reduce_to<T: Float>(g: &Tensor<T>, shape: &[usize]) -> Result<Tensor<T>> {
    let out = g.shape();
    if broadcast_shapes("reduce_to", shape, out)? != out {
        return Err(Error::shape(
            "reduce_to",
            format!("{shape:?} does not broadcast to {out:?}"),
        ));
    }
    Ok(unbroadcast(g, shape))
}

/// [`reduce_to`] for callers that know `shape` broadcasts to `g`'s shape (backward passes).
pub(crate) fn unbroadcast<T: Float>(g: &Tensor<T>, shape: &[usize]) -> Tensor<T> {
    if g.shape() == shape {
        return g.clone();
    }
    let out = g.shape();
    let lead = out.len() - shape.len();
    let reduce: Vec<bool> = (0..out.len())
        .map(|i| out[i] != 1 && (i < lead || shape[i - lead] == 1))
        .collect();
    sum_axes_keepdim(g, &reduce)
        .reshape(shape)
        .expect("a broadcast keeps the element count of the unbroadcast shape")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(data: &[f64], shape: &[usize]) -> Tensor<f64> {
        Tensor::new(data.to_vec(), shape).unwrap()
    }

    /// The textbook definition: index every output element and read both inputs.
    fn naive(op: BinaryOp, a: &Tensor<f64>, b: &Tensor<f64>) -> Tensor<f64> {
        let shape = broadcast_shapes("t", a.shape(), b.shape()).unwrap();
        let (sa, sb) = (
            broadcast_strides(a.shape(), &shape),
            broadcast_strides(b.shape(), &shape),
        );
        Tensor::from_fn(&shape, |mut k| {
            let (mut ia, mut ib) = (0, 0);
            for d in (0..shape.len()).rev() {
                let c = k % shape[d];
                k /= shape[d];
                ia += c * sa[d];
                ib += c * sb[d];
            }
            op.apply(a.data()[ia], b.data()[ib])
        })
    }

    #[test]
    fn broadcast_binary_matches_naive() {
        let cases: &[(&[usize], &[usize])] = &[
            (&[2, 3], &[3]),
            (&[2, 3], &[2, 1]),
            (&[4, 1, 3], &[1, 5, 1]),
            (&[2, 3, 4], &[]),
            (&[], &[2, 3]),
            (&[1], &[7]),
            (&[3, 1, 5, 2], &[4, 1, 2]),
            (&[2, 1, 9], &[2, 6, 9]),
            (&[0, 3], &[3]),
        ];
        for &(sa, sb) in cases {
            let a = Tensor::from_fn(sa, |i| i as f64 * 0.5 - 1.0);
            let b = Tensor::from_fn(sb, |i| i as f64 * 0.25 + 2.0);
            for op in [BinaryOp::Add, BinaryOp::Sub, BinaryOp::Mul, BinaryOp::Div] {
                let got = broadcast_binary("t", op, &a, &b).unwrap();
                let want = naive(op, &a, &b);
                assert_eq!(got, want, "{sa:?} {op:?} {sb:?}");
            }
            let out = broadcast_shapes("t", sa, sb).unwrap();
            let ea = broadcast_to(&a, &out).unwrap();
            assert_eq!(ea, naive(BinaryOp::Add, &a, &Tensor::zeros(&out)));
        }
    }

    #[test]
    fn reduce_to_sums_broadcast_axes() {
        let g = Tensor::from_fn(&[2, 3, 4], |i| i as f64);
        let r = reduce_to(&g, &[3, 1]).unwrap();
        // r[j, 0] = Σ_{i, k} g[i, j, k]
        let want: Vec<f64> = (0..3)
            .map(|j| {
                (0..2)
                    .flat_map(|i| (0..4).map(move |k| (i * 12 + j * 4 + k) as f64))
                    .sum()
            })
            .collect();
        assert_eq!(r, t(&want, &[3, 1]));
        assert_eq!(
            reduce_to(&g, &[]).unwrap().item().unwrap(),
            (0..24).sum::<usize>() as f64
        );
        assert_eq!(reduce_to(&g, &[2, 3, 4]).unwrap(), g);
        assert!(reduce_to(&g, &[5]).is_err());
        assert!(reduce_to(&g, &[1, 2, 3, 4]).is_err());
    }

    #[test]
    fn incompatible_shapes_are_errors() {
        let a = Tensor::<f64>::zeros(&[2, 3]);
        let b = Tensor::<f64>::zeros(&[4]);
        assert!(broadcast_binary("add", BinaryOp::Add, &a, &b).is_err());
        assert!(broadcast_to(&a, &[3]).is_err());
        assert!(broadcast_to(&a, &[3, 2, 3]).is_ok());
    }
}
