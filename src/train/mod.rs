//! The model-independent parts of training: metrics, checkpoints, history, plots, run
//! folders, progress bars, early stopping and NaN diagnosis.

mod atomic;
pub mod checkpoint;
pub mod early_stop;
pub mod history;
pub mod metrics;
pub mod nonfinite;
pub mod plots;
pub mod progress;
pub mod run_dir;

pub use atomic::write_atomic;
