//! The dense (fully connected) layer as one fused op: `Y = X·W + b`.
//!
//! The kernel uses the Keras layout `W: (in, out)`, so a row of `X` times `W` is a row of
//! `Y`. With `X: (M, in)`, `dY: (M, out)` the chain rule gives
//!
//! ```text
//! dX = dY·Wᵀ          (M, out)×(out, in)
//! dW = Xᵀ·dY          (in, M)×(M, out)
//! db = Σ_m dY[m, :]   (column sums)
//! ```
//!
//! Both transposes are gemm flags: nothing is copied.

use crate::kernels::gemm;
use crate::{Error, Float, Result, Tensor, Var};

/// `y = x·w + b` for `x: (N, in)` or `(B, T, in)` (leading axes are flattened and
/// restored), `w: (in, out)`, `b: (out)`. Returns `(N, out)` or `(B, T, out)`.
pub fn linear<T: Float>(x: &Var<T>, w: &Var<T>, b: Option<&Var<T>>) -> Result<Var<T>> {
    let (rows, fan_in, fan_out) = check_shapes(x.shape(), w.shape(), b.map(|b| b.shape()))?;
    let mut out_shape = x.shape().to_vec();
    *out_shape.last_mut().expect("rank ≥ 2") = fan_out;

    let mut y = vec![T::ZERO; rows * fan_out];
    if let Some(b) = b {
        for row in y.chunks_exact_mut(fan_out) {
            row.copy_from_slice(b.value().data());
        }
    }
    let beta = if b.is_some() { T::ONE } else { T::ZERO };
    gemm(
        rows,
        fan_in,
        fan_out,
        x.value().data(),
        false,
        w.value().data(),
        false,
        beta,
        &mut y,
    );
    let y = Tensor::new(y, &out_shape)?;

    let (x_kept, w_kept) = (x.value().clone(), w.value().clone());
    let mut inputs = vec![x, w];
    inputs.extend(b);
    Ok(Var::from_op("linear", y, &inputs, move |g, needs| {
        let g = g.data();
        let dx = needs[0].then(|| {
            let mut dx = vec![T::ZERO; rows * fan_in];
            gemm(
                rows,
                fan_out,
                fan_in,
                g,
                false,
                w_kept.data(),
                true,
                T::ZERO,
                &mut dx,
            );
            Tensor::new(dx, x_kept.shape()).expect("shape of x")
        });
        let dw = needs[1].then(|| {
            let mut dw = vec![T::ZERO; fan_in * fan_out];
            gemm(
                fan_in,
                rows,
                fan_out,
                x_kept.data(),
                true,
                g,
                false,
                T::ZERO,
                &mut dw,
            );
            Tensor::new(dw, &[fan_in, fan_out]).expect("shape of w")
        });
        let mut grads = vec![dx, dw];
        if needs.len() == 3 {
            grads
                .push(needs[2].then(|| {
                    Tensor::new(column_sums(g, fan_out), &[fan_out]).expect("shape of b")
                }));
        }
        grads
    }))
}

/// Σ over rows of a row-major `(rows, cols)` matrix.
pub(crate) fn column_sums<T: Float>(m: &[T], cols: usize) -> Vec<T> {
    let mut sums = vec![T::ZERO; cols];
    for row in m.chunks_exact(cols) {
        for (s, &v) in sums.iter_mut().zip(row) {
            *s += v;
        }
    }
    sums
}

/// (rows, in, out) for valid shapes, else a shape error naming all three.
fn check_shapes(x: &[usize], w: &[usize], b: Option<&[usize]>) -> Result<(usize, usize, usize)> {
    let bad = |why: &str| Error::shape("linear", format!("x {x:?} · w {w:?} + b {b:?}: {why}"));
    if !(x.len() == 2 || x.len() == 3) {
        return Err(bad("x must be (N, in) or (B, T, in)"));
    }
    let [fan_in, fan_out] = *w else {
        return Err(bad("w must be (in, out)"));
    };
    let x_in = x[x.len() - 1];
    if x_in != fan_in {
        return Err(bad("x's last axis must equal w's first"));
    }
    if let Some(b) = b {
        if b != [fan_out] {
            return Err(bad("b must be (out)"));
        }
    }
    Ok((x[..x.len() - 1].iter().product(), fan_in, fan_out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::autograd::{gradcheck, GradcheckOptions};
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn rand(shape: &[usize], seed: u64) -> Tensor<f64> {
        Tensor::uniform(shape, -1.0, 1.0, &mut ChaCha8Rng::seed_from_u64(seed))
    }

    #[test]
    fn linear_matches_the_definition() {
        let x = Tensor::new(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]).unwrap();
        let w = Tensor::new(vec![1.0, 0.0, 0.0, 1.0, 1.0, 1.0], &[3, 2]).unwrap();
        let b = Tensor::new(vec![0.5, -0.5], &[2]).unwrap();
        let y = linear(
            &Var::constant(x),
            &Var::constant(w),
            Some(&Var::constant(b)),
        )
        .unwrap();
        assert_eq!(y.value().data(), &[4.5, 4.5, 10.5, 10.5]);
    }

    #[test]
    fn linear_gradcheck_rank2_and_rank3_with_and_without_bias() {
        let opts = GradcheckOptions::default();
        for x_shape in [vec![4, 5], vec![2, 3, 5]] {
            let (x, w, b) = (rand(&x_shape, 1), rand(&[5, 3], 2), rand(&[3], 3));
            let r = gradcheck(
                |v| linear(&v[0], &v[1], Some(&v[2])),
                &[x.clone(), w.clone(), b],
                &opts,
            )
            .unwrap();
            r.check(1e-6).unwrap();
            let r = gradcheck(|v| linear(&v[0], &v[1], None), &[x, w], &opts).unwrap();
            r.check(1e-6).unwrap();
        }
    }

    #[test]
    fn linear_rank3_equals_rank2_on_flattened_rows() {
        let (x, w) = (rand(&[2, 3, 4], 5), rand(&[4, 6], 6));
        let y3 = linear(&Var::constant(x.clone()), &Var::constant(w.clone()), None).unwrap();
        let y2 = linear(
            &Var::constant(x.reshape(&[6, 4]).unwrap()),
            &Var::constant(w),
            None,
        )
        .unwrap();
        assert_eq!(y3.shape(), &[2, 3, 6]);
        assert_eq!(y3.value().data(), y2.value().data());
    }

    #[test]
    fn linear_rejects_bad_shapes() {
        let c = |s: &[usize]| Var::constant(Tensor::<f64>::zeros(s));
        assert!(linear(&c(&[2, 3]), &c(&[4, 5]), None).is_err());
        assert!(linear(&c(&[3]), &c(&[3, 5]), None).is_err());
        assert!(linear(&c(&[1, 2, 2, 3]), &c(&[3, 5]), None).is_err());
        assert!(linear(&c(&[2, 3]), &c(&[3, 5, 1]), None).is_err());
        assert!(linear(&c(&[2, 3]), &c(&[3, 5]), Some(&c(&[4]))).is_err());
        let err = linear(&c(&[2, 3]), &c(&[4, 5]), None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("linear") && err.contains("[4, 5]"), "{err}");
    }
}
