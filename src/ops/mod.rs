//! Differentiable operations, one file per op family.
pub mod activation;
pub mod conv;
pub mod pool;
