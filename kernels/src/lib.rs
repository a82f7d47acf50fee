//! melgrad's kernels: plain functions on slices, no graph, no shapes beyond what each
//! signature names. Every fast kernel has a scalar reference beside it, and the tests
//! check one against the other on random shapes.

pub mod activation;
pub mod channels_last;
pub mod conv_direct;
#[cfg(target_arch = "x86_64")]
mod conv_direct_avx2;
pub mod conv_pool;
#[cfg(target_arch = "x86_64")]
mod conv_pool_avx2;
pub mod conv_sparse;
#[cfg(target_arch = "x86_64")]
mod conv_sparse_avx2;
pub(crate) mod dispatch;
pub mod elementwise;
mod float;
pub mod gates;
#[cfg(target_arch = "x86_64")]
mod gates_avx512;
pub mod gemm;
pub mod gemm_dots;
#[cfg(target_arch = "x86_64")]
mod gemm_dots_avx512;
pub mod gemm_packed;
#[cfg(target_arch = "x86_64")]
mod gemm_packed_avx512;
pub mod im2col;
pub mod norm_pool;
mod padded;
pub mod pool;
pub mod reduce;
pub mod simd;
pub mod transpose;

pub use float::Float;
pub use gemm::gemm;
pub use simd::SimdVec;
