//! Differentiable operations, one file per op family. Each op computes its value with the
//! slice kernels of `melgrad_kernels` and records its local chain rule on the tape; the
//! doc comment of each op writes the derivative out.

pub mod activation;
pub mod conv;
pub mod conv1d_seq;
pub mod conv_pool;
mod conv_windows;
pub mod dropout;
pub mod linear;
pub mod norm;
pub mod norm_pool;
pub mod pool;
pub mod recurrent;

pub use conv1d_seq::conv1d_seq_act_max_pool;
pub use conv_pool::{conv1d_act_max_pool, conv2d_act_max_pool};
pub use dropout::{dropout, dropout_with_mask};
pub use linear::linear;
pub use norm::{batch_norm, BatchNormConfig, RunningStats};
pub use norm_pool::{batch_norm_relu_max_pool2d, PoolWindow};
pub use recurrent::{gru, lstm};
pub mod arith;
pub mod broadcast;
pub mod loss;
pub mod matmul;
pub mod reduce;
pub mod shape;
pub mod softmax;

pub use activation::{exp, leaky_relu, log, relu, sigmoid, softplus, tanh};
pub use arith::{add, add_scalar, div, mul, mul_scalar, neg, pow_scalar, sqrt, square, sub};
pub use broadcast::{broadcast_binary, broadcast_to, reduce_to};
pub use loss::{mse, sigmoid_bce_with_logits, softmax_cross_entropy};
pub use matmul::matmul;
pub use reduce::{max_axis, mean, mean_axes, sum, sum_axes};
pub use shape::{concat, flatten, narrow, permute, reshape, squeeze, transpose, unsqueeze};
pub use softmax::{log_softmax, softmax};

use crate::{Float, Tensor};
use rayon::prelude::*;

/// `m: (rows, cols)` row-major as `(cols, rows)`: a weight matrix laid out as the plain
/// rows a product reads (Uᵀ for the GRU's backward steps, W'ᵀ for Conv1D's dot products).
pub(crate) fn transposed<T: Float>(m: &[T], rows: usize, cols: usize) -> Vec<T> {
    let mut t = vec![T::ZERO; rows * cols];
    for (r, row) in m.chunks_exact(cols).enumerate() {
        for (c, &v) in row.iter().enumerate() {
            t[c * rows + r] = v;
        }
    }
    t
}

/// A tensor over `data`, whose length the caller computed from `shape`.
pub(crate) fn tensor_from<T: Float>(data: Vec<T>, shape: &[usize]) -> Tensor<T> {
    Tensor::new(data, shape).expect("op output length matches its shape by construction")
}

/// `y = kernel(x)` into a fresh tensor of `x`'s shape.
pub(crate) fn map_kernel<T: Float>(
    x: &Tensor<T>,
    kernel: impl FnOnce(&[T], &mut [T]),
) -> Tensor<T> {
    let mut out = vec![T::ZERO; x.len()];
    kernel(x.data(), &mut out);
    tensor_from(out, x.shape())
}

/// Elements per parallel chunk of an element-wise op: big enough that rayon's overhead
/// vanishes, small enough that both cores get work on a batch-sized tensor.
const ELEMENTWISE_CHUNK: usize = 1 << 15;

/// `y = kernel(x)` for a kernel that treats every element alone, split across the
/// threads for large tensors (memory-bound ops: two cores bring more bandwidth).
pub(crate) fn map_elementwise<T: Float>(
    x: &Tensor<T>,
    kernel: impl Fn(&[T], &mut [T]) + Sync,
) -> Tensor<T> {
    let mut out = vec![T::ZERO; x.len()];
    if out.len() < 2 * ELEMENTWISE_CHUNK {
        kernel(x.data(), &mut out);
    } else {
        out.par_chunks_mut(ELEMENTWISE_CHUNK)
            .zip(x.data().par_chunks(ELEMENTWISE_CHUNK))
            .for_each(|(o, x)| kernel(x, o));
    }
    tensor_from(out, x.shape())
}

/// `z = kernel(a, b)` for an element-by-element kernel, parallel like [`map_elementwise`].
pub(crate) fn zip_elementwise<T: Float>(
    a: &Tensor<T>,
    b: &Tensor<T>,
    kernel: impl Fn(&[T], &[T], &mut [T]) + Sync,
) -> Tensor<T> {
    debug_assert_eq!(a.shape(), b.shape());
    let mut out = vec![T::ZERO; a.len()];
    if out.len() < 2 * ELEMENTWISE_CHUNK {
        kernel(a.data(), b.data(), &mut out);
    } else {
        out.par_chunks_mut(ELEMENTWISE_CHUNK)
            .zip(a.data().par_chunks(ELEMENTWISE_CHUNK))
            .zip(b.data().par_chunks(ELEMENTWISE_CHUNK))
            .for_each(|((o, a), b)| kernel(a, b, o));
    }
    tensor_from(out, a.shape())
}

/// `z = kernel(a, b)` into a fresh tensor; `a` and `b` have one shape.
pub(crate) fn zip_kernel<T: Float>(
    a: &Tensor<T>,
    b: &Tensor<T>,
    kernel: impl FnOnce(&[T], &[T], &mut [T]),
) -> Tensor<T> {
    debug_assert_eq!(a.shape(), b.shape());
    let mut out = vec![T::ZERO; a.len()];
    kernel(a.data(), b.data(), &mut out);
    tensor_from(out, a.shape())
}
