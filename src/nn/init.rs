//! Initialisers, as Keras does them (the coursework models are specified in Keras terms).

use crate::{Float, Tensor};
use rand::{Rng, RngExt};

/// Glorot (Xavier) uniform: U(−l, l) with l = √(6 / (fan_in + fan_out)).
///
/// For a dense kernel fan_in / fan_out are its input / output sizes; for a convolution
/// kernel they are in_channels·receptive_field and out_channels·receptive_field.
pub fn glorot_uniform<T: Float>(
    shape: &[usize],
    fan_in: usize,
    fan_out: usize,
    rng: &mut impl Rng,
) -> Tensor<T> {
    let limit = (6.0 / (fan_in + fan_out) as f64).sqrt();
    Tensor::uniform(shape, -limit, limit, rng)
}

/// He (Kaiming) uniform: U(−l, l) with l = √(6 / fan_in), for ReLU networks.
pub fn he_uniform<T: Float>(shape: &[usize], fan_in: usize, rng: &mut impl Rng) -> Tensor<T> {
    let limit = (6.0 / fan_in as f64).sqrt();
    Tensor::uniform(shape, -limit, limit, rng)
}

/// Orthogonal (Saxe et al.), as Keras' `Orthogonal`: draw a rows×cols normal matrix and
/// keep the orthonormal factor of its QR decomposition, with the signs of R's diagonal
/// folded in so the result is uniformly distributed. Rows or columns (whichever are
/// fewer) are orthonormal. Used for recurrent kernels.
pub fn orthogonal<T: Float>(rows: usize, cols: usize, rng: &mut impl Rng) -> Tensor<T> {
    // Work on the tall orientation (n ≥ k), orthonormalising its k columns.
    let (n, k) = if rows >= cols {
        (rows, cols)
    } else {
        (cols, rows)
    };
    let normal = Tensor::<f64>::randn(&[n * k], 1.0, rng).into_vec();
    // q holds k columns of length n (column j at q[j*n..]).
    let mut q = normal;
    // Modified Gram–Schmidt; the sign of R's diagonal is positive by construction, which
    // is the same distribution as Householder QR with the sign correction.
    for j in 0..k {
        for p in 0..j {
            let dot: f64 = (0..n).map(|i| q[p * n + i] * q[j * n + i]).sum();
            for i in 0..n {
                q[j * n + i] -= dot * q[p * n + i];
            }
        }
        let norm: f64 = (0..n).map(|i| q[j * n + i].powi(2)).sum::<f64>().sqrt();
        for i in 0..n {
            q[j * n + i] /= norm;
        }
    }
    // Element (r, c) of the rows×cols result.
    Tensor::from_fn(&[rows, cols], |idx| {
        let (r, c) = (idx / cols, idx % cols);
        let v = if rows >= cols {
            q[c * n + r]
        } else {
            q[r * n + c]
        };
        T::from_f64(v)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn orthogonal_has_orthonormal_columns_or_rows() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        for (rows, cols) in [(6, 4), (4, 6), (5, 5), (128, 512)] {
            let w = orthogonal::<f64>(rows, cols, &mut rng);
            let d = w.data();
            let (outer, inner) = if rows >= cols {
                (cols, rows)
            } else {
                (rows, cols)
            };
            let at = |o: usize, i: usize| {
                if rows >= cols {
                    d[i * cols + o]
                } else {
                    d[o * cols + i]
                }
            };
            for a in 0..outer {
                for b in 0..outer {
                    let dot: f64 = (0..inner).map(|i| at(a, i) * at(b, i)).sum();
                    let want = if a == b { 1.0 } else { 0.0 };
                    assert!((dot - want).abs() < 1e-9, "({rows},{cols}) {a}·{b} = {dot}");
                }
            }
        }
    }

    #[test]
    fn glorot_respects_its_limit() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let w = glorot_uniform::<f32>(&[64, 10], 64, 10, &mut rng);
        let limit = (6.0f32 / 74.0).sqrt();
        assert!(w.data().iter().all(|v| v.abs() <= limit));
        assert!(w.data().iter().any(|v| v.abs() > limit * 0.9));
    }
}
