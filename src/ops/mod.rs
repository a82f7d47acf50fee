//! Differentiable operations, one file per op family.
pub mod activation;
