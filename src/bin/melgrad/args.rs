//! Command-line arguments (clap).

use clap::{Args, Parser, Subcommand, ValueEnum};
use serde::Serialize;
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "melgrad",
    version,
    about = "Music-genre classifiers on a from-scratch autodiff engine"
)]
pub struct Cli {
    /// Worker threads (default: all cores). Same seed + same threads = same numbers.
    #[arg(long, global = true)]
    pub threads: Option<usize>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Extract log-mel segments for a folder or list of songs and cache them.
    Extract(DataArgs),
    /// Train a model (with no --data: on the built-in synthetic dataset).
    Train(TrainArgs),
    /// Print a model's layer table and parameter count.
    Summary(SummaryArgs),
    /// Evaluate a checkpoint: segment and song accuracy, confusion matrix.
    Eval(EvalArgs),
    /// Predict the genre of audio files, with the segments' votes.
    Predict(PredictArgs),
    /// Write segments and split indices as .npz for the PyTorch/Keras references.
    ExportNpz(ExportArgs),
    /// Time training epochs and prediction; prints one `RESULT {json}` line.
    BenchTrain(BenchArgs),
}

#[derive(Args, Debug, Clone, Serialize)]
pub struct DataArgs {
    /// A GTZAN-style folder (genre/*.wav|au|mp3), a list file (genre/song.wav per line,
    /// relative to --root), or an .npz with X (N, 80, 80, 1) and y. Absent: synthetic data.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Root folder for the songs named in a list file (default: the list's folder).
    #[arg(long)]
    pub root: Option<PathBuf>,
    /// `N` = the first N genres alphabetically; or a comma list of names.
    #[arg(long)]
    pub genres: Option<String>,
    /// Feature cache folder (default $MELGRAD_CACHE or ./cache).
    #[arg(long)]
    pub cache: Option<PathBuf>,
    /// Do not read or write the feature cache.
    #[arg(long)]
    pub no_cache: bool,
    /// Songs per style of the synthetic dataset (used when --data is absent).
    #[arg(long, default_value_t = 24)]
    pub synthetic_songs: usize,
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(ValueEnum, Clone, Copy, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum SplitKind {
    /// Coursework protocol: random 80/20 over segments (songs straddle both sides).
    Segment,
    /// Random 80/20 over songs: no song on two sides.
    Song,
    /// k-fold cross-validation over songs (--folds); trains one model per fold.
    Kfold,
    /// The artist-filtered GTZAN lists (--lists).
    Filtered,
}

#[derive(Args, Debug, Clone, Serialize)]
pub struct SplitArgs {
    #[arg(long, value_enum, default_value_t = SplitKind::Segment)]
    pub split: SplitKind,
    /// Validation fraction for the segment and song splits.
    #[arg(long, default_value_t = 0.2)]
    pub val_fraction: f64,
    /// Number of folds for --split kfold.
    #[arg(long, default_value_t = 5)]
    pub folds: usize,
    /// Run only this fold (1-based) of --split kfold.
    #[arg(long)]
    pub fold: Option<usize>,
    /// Folder with train_filtered.txt, valid_filtered.txt, test_filtered.txt.
    #[arg(long, default_value = "../shared/data/splits")]
    pub lists: PathBuf,
    /// Seed of the split (default: --seed).
    #[arg(long)]
    pub split_seed: Option<u64>,
}

#[derive(ValueEnum, Clone, Copy, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum ModelName {
    ParallelCnn,
    CnnLstm,
    #[value(name = "cnn-lstm-2d")]
    #[serde(rename = "cnn-lstm-2d")]
    CnnLstm2d,
    BnCnn,
    Mlp,
}

impl ModelName {
    pub fn kind(self) -> melgrad::models::ModelKind {
        use melgrad::models::ModelKind as K;
        match self {
            ModelName::ParallelCnn => K::ParallelCnn,
            ModelName::CnnLstm => K::CnnLstm,
            ModelName::CnnLstm2d => K::CnnLstm2d,
            ModelName::BnCnn => K::BnCnn,
            ModelName::Mlp => K::Mlp,
        }
    }
}

#[derive(ValueEnum, Clone, Copy, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum OptimizerName {
    Sgd,
    Adam,
    Adamw,
}

#[derive(ValueEnum, Clone, Copy, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum ScheduleName {
    Constant,
    Step,
    Cosine,
    Plateau,
}

#[derive(ValueEnum, Clone, Copy, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum AugmentName {
    None,
    Specaugment,
    Mixup,
    Both,
}

#[derive(Args, Debug, Clone, Serialize)]
pub struct TrainArgs {
    #[arg(long, value_enum, default_value_t = ModelName::ParallelCnn)]
    pub model: ModelName,
    #[command(flatten)]
    pub data: DataArgs,
    #[command(flatten)]
    pub split: SplitArgs,
    /// Epochs; 0 prints the model summary and exits.
    #[arg(long, default_value_t = 50)]
    pub epochs: usize,
    #[arg(long, default_value_t = 128)]
    pub batch: usize,
    /// Default: adam, or adamw for bn-cnn.
    #[arg(long, value_enum)]
    pub optimizer: Option<OptimizerName>,
    /// Learning rate (default 1e-3; 2e-3 for bn-cnn).
    #[arg(long)]
    pub lr: Option<f64>,
    /// SGD momentum.
    #[arg(long, default_value_t = 0.9)]
    pub momentum: f64,
    #[arg(long)]
    pub nesterov: bool,
    /// Weight decay (coupled for sgd/adam, decoupled for adamw; default 0, 1e-2 for adamw).
    #[arg(long)]
    pub weight_decay: Option<f64>,
    /// Learning-rate schedule (default constant; cosine for bn-cnn).
    #[arg(long, value_enum)]
    pub schedule: Option<ScheduleName>,
    /// Step schedule: multiply the rate by --gamma every --step-every epochs.
    #[arg(long, default_value_t = 10)]
    pub step_every: usize,
    #[arg(long, default_value_t = 0.5)]
    pub gamma: f64,
    /// Training-time augmentation (default none, for every model).
    #[arg(long, value_enum)]
    pub augment: Option<AugmentName>,
    #[arg(long, default_value_t = 0.0)]
    pub l1: f64,
    #[arg(long, default_value_t = 0.0)]
    pub l2: f64,
    /// Clip gradients to this global norm.
    #[arg(long)]
    pub clip_norm: Option<f64>,
    /// Stop after this many epochs without a better validation loss (restores the best).
    #[arg(long)]
    pub early_stopping: Option<usize>,
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Folder for run folders.
    #[arg(long, default_value = "runs")]
    pub runs: PathBuf,
    /// Name of the run folder (default: a timestamp).
    #[arg(long)]
    pub name: Option<String>,
    /// Continue the run in this folder from its last checkpoint.
    #[arg(long)]
    pub resume: Option<PathBuf>,
}

#[derive(Args, Debug, Clone)]
pub struct SummaryArgs {
    #[arg(long, value_enum, default_value_t = ModelName::ParallelCnn)]
    pub model: ModelName,
    #[arg(long, default_value_t = 8)]
    pub classes: usize,
}

#[derive(Args, Debug, Clone)]
pub struct EvalArgs {
    /// A checkpoint (.safetensors) or a run folder (uses its best.safetensors).
    pub checkpoint: PathBuf,
    #[command(flatten)]
    pub data: DataArgs,
    #[command(flatten)]
    pub split: SplitArgs,
    /// Which side of the split to evaluate.
    #[arg(long, default_value = "val", value_parser = ["train", "val", "test", "all"])]
    pub on: String,
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    #[arg(long, default_value_t = 128)]
    pub batch: usize,
}

#[derive(Args, Debug, Clone)]
pub struct PredictArgs {
    /// Audio files (wav, au, mp3, flac, ogg).
    #[arg(required = true)]
    pub songs: Vec<PathBuf>,
    /// A checkpoint (.safetensors) or a run folder (uses its best.safetensors).
    #[arg(long)]
    pub checkpoint: PathBuf,
    /// How many genres to list per song.
    #[arg(long, default_value_t = 3)]
    pub top: usize,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug, Clone)]
pub struct ExportArgs {
    #[command(flatten)]
    pub data: DataArgs,
    #[command(flatten)]
    pub split: SplitArgs,
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    #[arg(long)]
    pub out: PathBuf,
}

#[derive(Args, Debug, Clone)]
pub struct BenchArgs {
    #[arg(long, value_enum)]
    pub model: ModelName,
    /// An .npz written by export-npz (X, y, train_idx, val_idx).
    #[arg(long)]
    pub data: PathBuf,
    #[arg(long, default_value_t = 3)]
    pub epochs: usize,
    #[arg(long, default_value_t = 128)]
    pub batch: usize,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    #[arg(long, default_value_t = 1e-3)]
    pub lr: f64,
    /// Only time: skip per-epoch validation.
    #[arg(long)]
    pub timing_only: bool,
    /// Print where the training steps spent their time, per tape node (layer), to stderr.
    #[arg(long)]
    pub profile: bool,
}
