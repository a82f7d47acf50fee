//! Elementwise arithmetic on slices: `out = a ∘ b` for ∘ ∈ {+, −, ×, ÷}, with either side
//! optionally a scalar (the inner loop of a broadcast), and `y += α·x`.
//!
//! The fast versions run `T::Simd` lanes with a scalar tail; +, −, ×, ÷ are exact IEEE
//! operations in both, so fast and reference agree bit for bit.

use crate::simd::SimdVec;
use crate::Float;

/// `out[i] = f(x[i])`: whole SIMD vectors through `fv`, the tail through `fs`.
#[inline(always)]
pub(crate) fn map_simd<T: Float>(
    x: &[T],
    out: &mut [T],
    fv: impl Fn(T::Simd) -> T::Simd,
    fs: impl Fn(T) -> T,
) {
    assert_eq!(x.len(), out.len(), "map: input and output lengths differ");
    let lanes = T::Simd::LANES;
    let mut xs = x.chunks_exact(lanes);
    let mut os = out.chunks_exact_mut(lanes);
    for (xc, oc) in (&mut xs).zip(&mut os) {
        fv(T::Simd::load(xc)).store(oc);
    }
    for (o, &v) in os.into_remainder().iter_mut().zip(xs.remainder()) {
        *o = fs(v);
    }
}

/// `x[i] = f(x[i])` in place.
#[inline(always)]
pub(crate) fn map_simd_inplace<T: Float>(
    x: &mut [T],
    fv: impl Fn(T::Simd) -> T::Simd,
    fs: impl Fn(T) -> T,
) {
    let mut xs = x.chunks_exact_mut(T::Simd::LANES);
    for c in &mut xs {
        fv(T::Simd::load(c)).store(c);
    }
    for v in xs.into_remainder() {
        *v = fs(*v);
    }
}

/// `y[i] = f(a[i], y[i])` in place.
#[inline(always)]
pub(crate) fn zip_simd_inplace<T: Float>(
    a: &[T],
    y: &mut [T],
    fv: impl Fn(T::Simd, T::Simd) -> T::Simd,
    fs: impl Fn(T, T) -> T,
) {
    assert_eq!(a.len(), y.len(), "zip: input and output lengths differ");
    let lanes = T::Simd::LANES;
    let mut as_ = a.chunks_exact(lanes);
    let mut ys = y.chunks_exact_mut(lanes);
    for (ac, yc) in (&mut as_).zip(&mut ys) {
        fv(T::Simd::load(ac), T::Simd::load(yc)).store(yc);
    }
    for (o, &u) in ys.into_remainder().iter_mut().zip(as_.remainder()) {
        *o = fs(u, *o);
    }
}

/// `out[i] = f(a[i], b[i])`: whole SIMD vectors through `fv`, the tail through `fs`.
#[inline(always)]
pub(crate) fn zip_simd<T: Float>(
    a: &[T],
    b: &[T],
    out: &mut [T],
    fv: impl Fn(T::Simd, T::Simd) -> T::Simd,
    fs: impl Fn(T, T) -> T,
) {
    assert_eq!(
        a.len(),
        out.len(),
        "zip: first input and output lengths differ"
    );
    assert_eq!(
        b.len(),
        out.len(),
        "zip: second input and output lengths differ"
    );
    let lanes = T::Simd::LANES;
    let mut as_ = a.chunks_exact(lanes);
    let mut bs = b.chunks_exact(lanes);
    let mut os = out.chunks_exact_mut(lanes);
    for ((ac, bc), oc) in (&mut as_).zip(&mut bs).zip(&mut os) {
        fv(T::Simd::load(ac), T::Simd::load(bc)).store(oc);
    }
    let tail = os.into_remainder();
    for ((o, &u), &v) in tail.iter_mut().zip(as_.remainder()).zip(bs.remainder()) {
        *o = fs(u, v);
    }
}

/// The four arithmetic operators of a binary elementwise op.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinaryOp {
    Add,
    Sub,
    Mul,
    Div,
}

impl BinaryOp {
    #[inline(always)]
    pub fn apply<T: Float>(self, a: T, b: T) -> T {
        match self {
            BinaryOp::Add => a + b,
            BinaryOp::Sub => a - b,
            BinaryOp::Mul => a * b,
            BinaryOp::Div => a / b,
        }
    }
}

/// Dispatch `op` once, outside the loop, to a monomorphised SIMD loop.
macro_rules! dispatch {
    ($op:expr, $run:ident) => {
        match $op {
            BinaryOp::Add => $run!(|u, v| u + v),
            BinaryOp::Sub => $run!(|u, v| u - v),
            BinaryOp::Mul => $run!(|u, v| u * v),
            BinaryOp::Div => $run!(|u, v| u / v),
        }
    };
}

/// `out[i] = a[i] ∘ b[i]`; all three slices have one length.
pub fn binary<T: Float>(op: BinaryOp, a: &[T], b: &[T], out: &mut [T]) {
    macro_rules! run {
        ($f:expr) => {
            zip_simd(a, b, out, $f, $f)
        };
    }
    dispatch!(op, run)
}

/// `out[i] = a[i] ∘ s`: a vector against a scalar.
pub fn binary_vs<T: Float>(op: BinaryOp, a: &[T], s: T, out: &mut [T]) {
    let sv = T::Simd::splat(s);
    macro_rules! run {
        ($f:expr) => {
            map_simd(a, out, |u| $f(u, sv), |u| $f(u, s))
        };
    }
    dispatch!(op, run)
}

/// `out[i] = s ∘ b[i]`: a scalar against a vector.
pub fn binary_sv<T: Float>(op: BinaryOp, s: T, b: &[T], out: &mut [T]) {
    let sv = T::Simd::splat(s);
    macro_rules! run {
        ($f:expr) => {
            map_simd(b, out, |v| $f(sv, v), |v| $f(s, v))
        };
    }
    dispatch!(op, run)
}

/// Scalar reference for [`binary`].
pub fn binary_reference<T: Float>(op: BinaryOp, a: &[T], b: &[T], out: &mut [T]) {
    assert!(a.len() == out.len() && b.len() == out.len());
    for i in 0..out.len() {
        out[i] = op.apply(a[i], b[i]);
    }
}

/// `y[i] += alpha · x[i]` (BLAS axpy); used to accumulate gradients and row sums.
pub fn axpy<T: Float>(alpha: T, x: &[T], y: &mut [T]) {
    assert_eq!(x.len(), y.len(), "axpy: lengths differ");
    let lanes = T::Simd::LANES;
    let av = T::Simd::splat(alpha);
    let mut xs = x.chunks_exact(lanes);
    let mut ys = y.chunks_exact_mut(lanes);
    for (xc, yc) in (&mut xs).zip(&mut ys) {
        (T::Simd::load(yc) + av * T::Simd::load(xc)).store(yc);
    }
    for (o, &v) in ys.into_remainder().iter_mut().zip(xs.remainder()) {
        *o += alpha * v;
    }
}

/// Scalar reference for [`axpy`].
pub fn axpy_reference<T: Float>(alpha: T, x: &[T], y: &mut [T]) {
    assert_eq!(x.len(), y.len());
    for (o, &v) in y.iter_mut().zip(x) {
        *o += alpha * v;
    }
}

/// `x[i] *= s` in place.
pub fn scale<T: Float>(s: T, x: &mut [T]) {
    let sv = T::Simd::splat(s);
    map_simd_inplace(x, |v| v * sv, |v| v * s);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const OPS: [BinaryOp; 4] = [BinaryOp::Add, BinaryOp::Sub, BinaryOp::Mul, BinaryOp::Div];

    /// Lengths around the SIMD widths (4, 8) and their multiples, plus 0 and 1.
    fn length() -> impl Strategy<Value = usize> {
        prop_oneof![
            prop::sample::select(vec![0usize, 1, 3, 4, 5, 7, 8, 9, 15, 16, 17]),
            0usize..200
        ]
    }

    fn vec_f32(n: usize) -> impl Strategy<Value = Vec<f32>> {
        prop::collection::vec(-10.0f32..10.0, n)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        // +, −, ×, ÷ are exact in IEEE arithmetic: fast and reference agree bit for bit.
        #[test]
        fn binary_matches_reference((a, b) in length().prop_flat_map(|n| (vec_f32(n), vec_f32(n)))) {
            for op in OPS {
                let mut fast = vec![0.0; a.len()];
                let mut slow = vec![0.0; a.len()];
                binary(op, &a, &b, &mut fast);
                binary_reference(op, &a, &b, &mut slow);
                prop_assert_eq!(&fast, &slow);
                let s = b.first().copied().unwrap_or(0.5);
                binary_vs(op, &a, s, &mut fast);
                let expect: Vec<f32> = a.iter().map(|&u| op.apply(u, s)).collect();
                prop_assert_eq!(&fast, &expect);
                binary_sv(op, s, &a, &mut fast);
                let expect: Vec<f32> = a.iter().map(|&u| op.apply(s, u)).collect();
                prop_assert_eq!(&fast, &expect);
            }
        }

        #[test]
        fn binary_f64_matches_reference(a in length().prop_flat_map(|n| prop::collection::vec(-10.0f64..10.0, n))) {
            let b: Vec<f64> = a.iter().map(|v| v * 0.5 + 3.0).collect();
            for op in OPS {
                let mut fast = vec![0.0; a.len()];
                let mut slow = vec![0.0; a.len()];
                binary(op, &a, &b, &mut fast);
                binary_reference(op, &a, &b, &mut slow);
                prop_assert_eq!(&fast, &slow);
            }
        }

        #[test]
        fn axpy_and_scale_match_reference((x, y) in length().prop_flat_map(|n| (vec_f32(n), vec_f32(n))), alpha in -3.0f32..3.0) {
            let mut fast = y.clone();
            let mut slow = y.clone();
            axpy(alpha, &x, &mut fast);
            axpy_reference(alpha, &x, &mut slow);
            prop_assert_eq!(&fast, &slow);
            let mut scaled = x.clone();
            scale(alpha, &mut scaled);
            let expect: Vec<f32> = x.iter().map(|v| v * alpha).collect();
            prop_assert_eq!(scaled, expect);
        }
    }

    #[test]
    #[should_panic(expected = "lengths differ")]
    fn binary_rejects_length_mismatch() {
        let mut out = [0.0f32; 3];
        binary(BinaryOp::Add, &[1.0, 2.0, 3.0], &[1.0, 2.0], &mut out);
    }
}
