//! The model-independent parts of training: metrics, checkpoints, history, plots, run
//! folders, progress bars, early stopping and NaN diagnosis. The training loop (a later
//! layer) ties them to the models, ops and data loaders.

mod atomic;
pub mod checkpoint;
pub mod early_stop;
pub mod fit;
pub mod history;
pub mod metrics;
pub mod nonfinite;
pub mod plots;
pub mod progress;
pub mod run_dir;

pub use atomic::write_atomic;
pub use checkpoint::{load_into, Checkpoint};
pub use early_stop::{Decision, EarlyStopping, Mode};
pub use history::{EpochRecord, History};
pub use metrics::{ClassReport, ConfusionMatrix, MultiLabelAuc, SongPredictions};
pub use nonfinite::{check_loss, first_nonfinite, nonfinite_loss_error};
pub use plots::{plot_confusion_matrix, plot_learning_curves};
pub use progress::EpochProgress;
pub use run_dir::{Environment, RunDir};
