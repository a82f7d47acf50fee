//! melgrad: a from-scratch tensor and reverse-mode autodiff engine, and the music-genre
//! classifiers built on it. See `ARCHITECTURE.md` for the map.

pub mod audio;
pub mod autograd;
pub mod data;
mod error;
pub mod models;
pub mod nn;
pub mod ops;
pub mod optim;
pub mod tensor;
pub mod train;

pub use autograd::{gradcheck, Gradients, Param, Tape, Var};
pub use error::{Error, Result};
pub use melgrad_kernels as kernels;
pub use melgrad_kernels::Float;
pub use tensor::Tensor;
