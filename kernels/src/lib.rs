//! melgrad's kernels: plain functions on slices, no graph, no shapes beyond what each
//! signature names. Every fast kernel has a scalar reference beside it, and the tests
//! check one against the other on random shapes.

pub mod activation;
pub mod elementwise;
mod float;
pub mod gemm;
pub mod reduce;
pub mod simd;

pub use float::Float;
pub use gemm::gemm;
pub use simd::SimdVec;
