//! Differentiable operations, one file per op family.
pub mod activation;
pub mod conv;
pub mod pool;
pub mod dropout;
pub mod linear;
pub mod norm;
pub mod recurrent;

pub use dropout::{dropout, dropout_with_mask};
pub use linear::linear;
pub use norm::{batch_norm, BatchNormConfig, RunningStats};
pub use recurrent::{gru, lstm};
