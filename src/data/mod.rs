//! From audio and log-mel features to training batches: segments, datasets (with an
//! on-disk feature cache), splits, npz exchange, batches, augmentation and a synthetic
//! labelled dataset that needs no download.

pub mod augment;
mod batch;
mod build;
mod cache;
mod dataset;
pub mod npz;
pub mod segment;
pub mod split;
pub mod synthetic;

pub use batch::{Batches, SampleTransform};
pub use build::{
    read_file_list, scan_folder, BuildOptions, BuildReport, FeatureConfig, GenreSelection,
    SongFile, AUDIO_EXTENSIONS,
};
pub use cache::{fnv1a64, CacheDir};
pub use dataset::{Dataset, SongInfo};
pub use npz::NpzKeys;
pub use segment::{segment_frames, SegmentConfig, SegmentPad};
pub use split::{
    filtered_split, kfold_song_split, segment_split, song_split, FilteredReport, Split,
};
pub use synthetic::{synthetic_dataset, STYLES, SYNTHETIC_RATE};
