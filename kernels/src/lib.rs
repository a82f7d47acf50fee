//! melgrad's kernels: plain functions on slices, no graph, no shapes beyond what each
//! signature names. Every fast kernel has a scalar reference beside it, and the tests
//! check one against the other on random shapes.

mod float;
pub mod gates;
pub mod gemm;

pub use float::Float;
pub use gemm::gemm;
