//! Seeded data augmentation, on waveforms ([`audio`]) and on log-mel segments ([`spec`]).
//! Every random choice comes from the `rng` passed in, so a seed reproduces it.

pub mod audio;
pub mod spec;

pub use audio::{
    add_noise, apply_gain, pitch_shift, random_gain, random_time_shift, resample_by, time_shift,
    time_stretch, ShiftMode,
};
pub use spec::{beta_symmetric, mixup, random_crop, random_roll_time, roll_time, SpecAugment};
