//! WAV (RIFF/WAVE) through `hound`: PCM 8/16/24/32-bit integer and 32-bit float.

use std::io::Cursor;

use super::Decoded;

pub(super) fn is_wav(bytes: &[u8]) -> bool {
    bytes.len() >= 12 && &bytes[0..4] == b"RIFF" && &bytes[8..12] == b"WAVE"
}

/// `Unsupported` lets the caller try another decoder; `Invalid` is final.
#[derive(Debug)]
pub(super) enum WavError {
    Unsupported(String),
    Invalid(String),
}

pub(super) fn decode(bytes: &[u8]) -> Result<Decoded, WavError> {
    let mut reader = hound::WavReader::new(Cursor::new(bytes)).map_err(classify)?;
    let spec = reader.spec();
    let channels = spec.channels as usize;
    if channels == 0 {
        return Err(WavError::Invalid("0 channels".into()));
    }
    if spec.sample_rate == 0 {
        return Err(WavError::Invalid("sample rate is 0".into()));
    }
    // The header's length is untrusted: never reserve more than the file could hold.
    let claimed = reader.len() as usize;
    let capacity = claimed.min(bytes.len()) / channels;
    let mut planes = vec![Vec::with_capacity(capacity); channels];
    match (spec.sample_format, spec.bits_per_sample) {
        (hound::SampleFormat::Float, 32) => {
            for (i, s) in reader.samples::<f32>().enumerate() {
                planes[i % channels].push(s.map_err(classify)?);
            }
        }
        (hound::SampleFormat::Int, bits @ 1..=32) => {
            // soundfile's convention: full scale is 2^(bits-1), so 16-bit -32768 → -1.0.
            let scale = 1.0 / (1u64 << (bits - 1)) as f64;
            for (i, s) in reader.samples::<i32>().enumerate() {
                planes[i % channels].push((s.map_err(classify)? as f64 * scale) as f32);
            }
        }
        (format, bits) => {
            return Err(WavError::Unsupported(format!(
                "{bits}-bit {format:?} samples"
            )))
        }
    }
    let frames = planes[channels - 1].len();
    if planes[0].len() != frames {
        return Err(WavError::Invalid(format!(
            "truncated: the last frame has only {} of {channels} samples",
            planes.iter().filter(|p| p.len() > frames).count()
        )));
    }
    Ok(Decoded {
        channels: planes,
        sample_rate: spec.sample_rate,
    })
}

fn classify(err: hound::Error) -> WavError {
    match err {
        hound::Error::Unsupported => WavError::Unsupported("unsupported WAV encoding".into()),
        // hound's wording for data shorter than the header claims.
        hound::Error::IoError(e)
            if e.kind() == std::io::ErrorKind::UnexpectedEof
                || e.to_string().contains("enough bytes") =>
        {
            WavError::Invalid("truncated file (the data is shorter than the header says)".into())
        }
        other => WavError::Invalid(other.to_string()),
    }
}
