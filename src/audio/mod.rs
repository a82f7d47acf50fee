//! From an audio file to a log-mel spectrogram.
//!
//! The pipeline is `decode` (WAV, Sun AU, MP3, FLAC, Ogg Vorbis) → mix to mono (mean of the
//! channels) → `resample` to the target rate → [`log_mel`]. The log-mel follows librosa 0.11's
//! defaults so that features agree with the Python reference to a fraction of a dB:
//! `melspectrogram(n_fft=1024, hop_length=512, n_mels=80, power=2)` then
//! `power_to_db(ref=np.max, top_db=80)`.
//!
//! Integer PCM is scaled like libsndfile/soundfile (what librosa reads with): a `b`-bit sample
//! `x` becomes `x / 2^(b-1)`, so 16-bit audio lands in `[-1, 1)` exactly as in librosa.

mod au;
mod codec;
mod mel;
mod resample;
mod stft;
mod wav;

use std::path::{Path, PathBuf};

use crate::{Error, Result};

pub use mel::{hz_to_mel, mel_filterbank, mel_frequencies, mel_to_hz, MelNorm, MelScale};
pub use resample::resample;
pub use stft::{log_mel, power_to_db, LogMel, MelConfig, MelExtractor, PadMode};

/// Mono audio at a known sample rate.
#[derive(Clone, Debug, PartialEq)]
pub struct Audio {
    pub samples: Vec<f32>,
    pub sample_rate: u32,
}

impl Audio {
    /// Duration in seconds.
    pub fn duration(&self) -> f64 {
        self.samples.len() as f64 / self.sample_rate as f64
    }
}

/// Decoded audio before mixing: one `Vec` per channel, all of the same length.
#[derive(Clone, Debug, PartialEq)]
pub struct Decoded {
    pub channels: Vec<Vec<f32>>,
    pub sample_rate: u32,
}

impl Decoded {
    /// Number of frames (samples per channel).
    pub fn frames(&self) -> usize {
        self.channels.first().map_or(0, Vec::len)
    }

    /// Mean of the channels (librosa's `to_mono`), accumulated in f64.
    pub fn to_mono(&self) -> Vec<f32> {
        match self.channels.as_slice() {
            [only] => only.clone(),
            channels => {
                let scale = 1.0 / channels.len() as f64;
                (0..self.frames())
                    .map(|i| (channels.iter().map(|c| c[i] as f64).sum::<f64>() * scale) as f32)
                    .collect()
            }
        }
    }
}

/// Which reader to use for a byte buffer. `Auto` sniffs the magic bytes (RIFF/WAVE, `.snd`)
/// and hands anything else to symphonia's prober (MP3, FLAC, Ogg).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Container {
    #[default]
    Auto,
    Wav,
    Au,
    /// Decoded by symphonia; the string is a file extension used as a probe hint ("mp3").
    Other(&'static str),
}

/// Read a file, mix it to mono and resample it to `target_rate` (identity if it matches).
pub fn load_audio(path: &Path, target_rate: u32) -> Result<Audio> {
    if target_rate == 0 {
        return Err(Error::invalid(format!(
            "load_audio({}): target sample rate 0",
            path.display()
        )));
    }
    let decoded = decode(path)?;
    let mono = decoded.to_mono();
    let samples = resample(&mono, decoded.sample_rate, target_rate)
        .map_err(|e| Error::format(path, format!("resampling failed: {e}")))?;
    Ok(Audio {
        samples,
        sample_rate: target_rate,
    })
}

/// Read and decode a file into its channels. The container is sniffed from the content, with
/// the file extension as a hint for symphonia.
pub fn decode(path: &Path) -> Result<Decoded> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    decode_bytes_named(&bytes, Container::Auto, path_hint(path), path)
}

/// Decode an in-memory file. Errors name the source as `<memory>`.
pub fn decode_bytes(bytes: &[u8], container: Container) -> Result<Decoded> {
    decode_bytes_named(bytes, container, None, Path::new("<memory>"))
}

fn path_hint(path: &Path) -> Option<String> {
    path.extension()
        .and_then(|e| e.to_str())
        .map(|e| e.to_ascii_lowercase())
}

fn decode_bytes_named(
    bytes: &[u8],
    container: Container,
    ext_hint: Option<String>,
    name: &Path,
) -> Result<Decoded> {
    let fail = |reason: String| Error::format(PathBuf::from(name), reason);
    if bytes.is_empty() {
        return Err(fail("empty file".into()));
    }
    let container = match container {
        Container::Auto if wav::is_wav(bytes) => Container::Wav,
        Container::Auto if au::is_au(bytes) => Container::Au,
        other => other,
    };
    let decoded = match container {
        Container::Wav => wav::decode(bytes).or_else(|err| match err {
            // hound reads PCM and float only; symphonia also knows µ-law, A-law and ADPCM.
            wav::WavError::Unsupported(reason) => codec::decode(bytes, Some("wav"))
                .map_err(|e| format!("WAV: {reason}; symphonia: {e}")),
            wav::WavError::Invalid(reason) => Err(format!("WAV: {reason}")),
        }),
        Container::Au => au::decode(bytes).map_err(|e| format!("Sun AU: {e}")),
        Container::Other(ext) => codec::decode(bytes, Some(ext)),
        Container::Auto => codec::decode(bytes, ext_hint.as_deref()),
    }
    .map_err(fail)?;
    validate(decoded).map_err(fail)
}

/// Reject what would otherwise flow on as silent garbage: no channels, no samples,
/// a zero rate, ragged channels, NaN or infinite samples.
fn validate(decoded: Decoded) -> std::result::Result<Decoded, String> {
    if decoded.sample_rate == 0 {
        return Err("sample rate is 0".into());
    }
    if decoded.channels.is_empty() {
        return Err("no audio channels".into());
    }
    let frames = decoded.frames();
    if frames == 0 {
        return Err("no audio samples (zero-length audio)".into());
    }
    if decoded.channels.iter().any(|c| c.len() != frames) {
        return Err("channels have different lengths".into());
    }
    if let Some(i) = decoded
        .channels
        .iter()
        .flat_map(|c| c.iter())
        .position(|x| !x.is_finite())
    {
        return Err(format!("non-finite sample at index {i}"));
    }
    Ok(decoded)
}
