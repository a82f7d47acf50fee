//! Matrix multiply: `C = A·B`, plain, batched, and with one weight shared by a batch.
//!
//! For `C = A·B` with `L` a function of `C`:
//! `∂L/∂A = ∂L/∂C · Bᵀ` and `∂L/∂B = Aᵀ · ∂L/∂C`
//! (entrywise: `Cᵢⱼ = Σₚ AᵢₚBₚⱼ`, so `∂L/∂Aᵢₚ = Σⱼ dCᵢⱼBₚⱼ` and `∂L/∂Bₚⱼ = Σᵢ AᵢₚdCᵢⱼ`).
//! The transposes are never copied: `kernels::gemm` reads them through its flags.

use super::tensor_from;
use crate::kernels::gemm;
use crate::{Error, Float, Result, Var};
use rayon::prelude::*;

/// Below this many multiply-adds per batch item a batched product runs on one thread.
const PARALLEL_MIN_FLOPS: usize = 1 << 15;

/// How the operands pair up.
#[derive(Clone, Copy)]
enum Layout {
    /// `(…, M, K) × (K, N)`: every leading index of A meets the same B; computed as one
    /// `(rows·M, K) × (K, N)` product.
    SharedWeight { rows: usize },
    /// `(…, M, K) × (…, K, N)` with equal leading dims: one product per batch item.
    Batched { batch: usize },
}

/// `C = A·B` for
/// - `(M, K) × (K, N) → (M, N)`;
/// - `(B, M, K) × (K, N) → (B, M, N)` (any leading dims on A: a weight shared by the batch);
/// - `(B, M, K) × (B, K, N) → (B, M, N)` (any equal leading dims: a batch of products).
///
/// `dA = dC·Bᵀ`, `dB = Aᵀ·dC` (summed over the batch for a shared `B`).
pub fn matmul<T: Float>(a: &Var<T>, b: &Var<T>) -> Result<Var<T>> {
    let (sa, sb) = (a.shape().to_vec(), b.shape().to_vec());
    let mismatch = || Error::shape("matmul", format!("{sa:?} × {sb:?}"));
    if sa.len() < 2 || sb.len() < 2 {
        return Err(mismatch());
    }
    let (m, k) = (sa[sa.len() - 2], sa[sa.len() - 1]);
    let (k2, n) = (sb[sb.len() - 2], sb[sb.len() - 1]);
    if k != k2 {
        return Err(mismatch());
    }
    let lead = &sa[..sa.len() - 2];
    let layout = if sb.len() == 2 {
        Layout::SharedWeight {
            rows: lead.iter().product(),
        }
    } else if sb[..sb.len() - 2] == *lead {
        Layout::Batched {
            batch: lead.iter().product(),
        }
    } else {
        return Err(mismatch());
    };
    let mut out_shape = lead.to_vec();
    out_shape.extend([m, n]);

    let (av, bv) = (a.value().clone(), b.value().clone());
    let c = forward(layout, m, k, n, av.data(), bv.data());
    let c = tensor_from(c, &out_shape);
    Ok(Var::from_op("matmul", c, &[a, b], move |g, needs| {
        let da = needs[0].then(|| grad_a(layout, m, k, n, g.data(), bv.data()));
        let db = needs[1].then(|| grad_b(layout, m, k, n, av.data(), g.data()));
        vec![
            da.map(|d| tensor_from(d, av.shape())),
            db.map(|d| tensor_from(d, bv.shape())),
        ]
    }))
}

/// Run `f(item, out_chunk)` over the batch, in parallel when the work is large.
fn per_item<T: Float>(
    out: &mut [T],
    chunk: usize,
    flops: usize,
    f: impl Fn(usize, &mut [T]) + Sync + Send,
) {
    if chunk == 0 {
        return;
    }
    if flops >= PARALLEL_MIN_FLOPS && out.len() > chunk {
        out.par_chunks_mut(chunk)
            .enumerate()
            .for_each(|(i, c)| f(i, c));
    } else {
        out.chunks_mut(chunk).enumerate().for_each(|(i, c)| f(i, c));
    }
}

fn forward<T: Float>(layout: Layout, m: usize, k: usize, n: usize, a: &[T], b: &[T]) -> Vec<T> {
    match layout {
        Layout::SharedWeight { rows } => {
            let mut c = vec![T::ZERO; rows * m * n];
            gemm(rows * m, k, n, a, false, b, false, T::ZERO, &mut c);
            c
        }
        Layout::Batched { batch } => {
            let mut c = vec![T::ZERO; batch * m * n];
            per_item(&mut c, m * n, m * k * n, |i, ci| {
                let (ai, bi) = (&a[i * m * k..][..m * k], &b[i * k * n..][..k * n]);
                gemm(m, k, n, ai, false, bi, false, T::ZERO, ci);
            });
            c
        }
    }
}

/// `dA = dC·Bᵀ`: (M, N)·(N, K), B read transposed.
fn grad_a<T: Float>(layout: Layout, m: usize, k: usize, n: usize, g: &[T], b: &[T]) -> Vec<T> {
    match layout {
        Layout::SharedWeight { rows } => {
            let mut da = vec![T::ZERO; rows * m * k];
            gemm(rows * m, n, k, g, false, b, true, T::ZERO, &mut da);
            da
        }
        Layout::Batched { batch } => {
            let mut da = vec![T::ZERO; batch * m * k];
            per_item(&mut da, m * k, m * k * n, |i, dai| {
                let (gi, bi) = (&g[i * m * n..][..m * n], &b[i * k * n..][..k * n]);
                gemm(m, n, k, gi, false, bi, true, T::ZERO, dai);
            });
            da
        }
    }
}

/// `dB = Aᵀ·dC`: (K, M)·(M, N), A read transposed. For a shared B the batch rows stack
/// into one long M, which sums the per-item gradients inside the product.
fn grad_b<T: Float>(layout: Layout, m: usize, k: usize, n: usize, a: &[T], g: &[T]) -> Vec<T> {
    match layout {
        Layout::SharedWeight { rows } => {
            let mut db = vec![T::ZERO; k * n];
            gemm(k, rows * m, n, a, true, g, false, T::ZERO, &mut db);
            db
        }
        Layout::Batched { batch } => {
            let mut db = vec![T::ZERO; batch * k * n];
            per_item(&mut db, k * n, m * k * n, |i, dbi| {
                let (ai, gi) = (&a[i * m * k..][..m * k], &g[i * m * n..][..m * n]);
                gemm(k, m, n, ai, true, gi, false, T::ZERO, dbi);
            });
            db
        }
    }
}

impl<T: Float> Var<T> {
    /// [`matmul`]: `self · other`.
    pub fn matmul(&self, other: &Var<T>) -> Result<Var<T>> {
        matmul(self, other)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::autograd::{gradcheck, GradcheckOptions};
    use crate::Tensor;

    /// Reference product used by the tests: the triple loop over one item.
    fn naive(a: &Tensor<f64>, b: &Tensor<f64>) -> Vec<f64> {
        let (m, k) = (a.shape()[a.rank() - 2], a.shape()[a.rank() - 1]);
        let n = b.shape()[b.rank() - 1];
        let items = a.len() / (m * k).max(1);
        let shared = b.rank() == 2;
        let mut c = vec![0.0; items * m * n];
        for t in 0..items {
            let bo = if shared { 0 } else { t * k * n };
            for i in 0..m {
                for j in 0..n {
                    c[(t * m + i) * n + j] = (0..k)
                        .map(|p| a.data()[(t * m + i) * k + p] * b.data()[bo + p * n + j])
                        .sum();
                }
            }
        }
        c
    }

    fn t(shape: &[usize], seed: usize) -> Tensor<f64> {
        Tensor::from_fn(shape, |i| ((i * 31 + seed * 17) % 23) as f64 * 0.1 - 1.1)
    }

    fn check(a: Tensor<f64>, b: Tensor<f64>) {
        let want = naive(&a, &b);
        let got = matmul(&Var::constant(a.clone()), &Var::constant(b.clone())).unwrap();
        let diff = got
            .value()
            .data()
            .iter()
            .zip(&want)
            .map(|(x, y)| (x - y).abs());
        assert!(diff.fold(0.0, f64::max) < 1e-12);
        let r = gradcheck(
            |v| matmul(&v[0], &v[1]),
            &[a, b],
            &GradcheckOptions::default(),
        );
        r.unwrap().check(1e-6).unwrap();
    }

    #[test]
    fn matmul_2d_gradcheck() {
        check(t(&[3, 4], 1), t(&[4, 5], 2));
        check(t(&[1, 1], 1), t(&[1, 7], 2));
    }

    #[test]
    fn matmul_batched_gradcheck() {
        check(t(&[2, 3, 4], 1), t(&[2, 4, 5], 2));
        check(t(&[2, 2, 3, 2], 3), t(&[2, 2, 2, 3], 4));
    }

    #[test]
    fn matmul_shared_weight_gradcheck() {
        check(t(&[3, 2, 4], 1), t(&[4, 5], 2));
    }

    #[test]
    fn large_batch_runs_in_parallel_and_matches() {
        let (a, b) = (t(&[4, 40, 30], 5), t(&[4, 30, 50], 6));
        let got = matmul(&Var::constant(a.clone()), &Var::constant(b.clone())).unwrap();
        let want = naive(&a, &b);
        let diff = got
            .value()
            .data()
            .iter()
            .zip(&want)
            .map(|(x, y)| (x - y).abs());
        assert!(diff.fold(0.0, f64::max) < 1e-10);
    }

    #[test]
    fn shape_errors() {
        let v = |s: &[usize]| Var::constant(Tensor::<f64>::zeros(s));
        assert!(matmul(&v(&[2, 3]), &v(&[4, 5])).is_err());
        assert!(matmul(&v(&[3]), &v(&[3, 5])).is_err());
        assert!(matmul(&v(&[2, 3]), &v(&[2, 3, 4])).is_err());
        assert!(matmul(&v(&[2, 2, 3]), &v(&[3, 3, 4])).is_err());
        let e = matmul(&v(&[2, 3]), &v(&[4, 5])).unwrap_err().to_string();
        assert!(e.contains("[2, 3] × [4, 5]"), "{e}");
    }
}
