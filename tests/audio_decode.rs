//! Decoding every supported container/encoding, and clear errors for bad input.

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use melgrad::audio::{decode, decode_bytes, load_audio, log_mel, Container, Decoded, MelConfig};
use melgrad::Error;

fn codec(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/codec")
        .join(name)
}

fn read_npy(path: &Path) -> (Vec<usize>, Vec<f32>) {
    let npy = npyz::NpyFile::new(BufReader::new(File::open(path).unwrap())).unwrap();
    assert_eq!(
        npy.order(),
        npyz::Order::C,
        "{}: Fortran-ordered fixture",
        path.display()
    );
    let shape = npy.shape().iter().map(|&d| d as usize).collect();
    (shape, npy.into_vec::<f32>().unwrap())
}

/// The reference tone as (left, right).
fn tone() -> (Vec<f32>, Vec<f32>) {
    let (shape, data) = read_npy(&codec("tone_stereo.npy"));
    assert_eq!(shape, [2205, 2]);
    (
        data.iter().step_by(2).copied().collect(),
        data.iter().skip(1).step_by(2).copied().collect(),
    )
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

fn assert_stereo_tone(decoded: &Decoded, tolerance: f32, name: &str) {
    let (left, right) = tone();
    assert_eq!(decoded.sample_rate, 44100, "{name}");
    assert_eq!(decoded.channels.len(), 2, "{name}");
    let err =
        max_abs_diff(&decoded.channels[0], &left).max(max_abs_diff(&decoded.channels[1], &right));
    assert!(err <= tolerance, "{name}: max error {err} > {tolerance}");
}

#[test]
fn lossless_encodings_decode_exactly() {
    for name in [
        "pcm16.wav",
        "pcm24.wav",
        "pcm32.wav",
        "float.wav",
        "pcm16.au",
        "pcm24.au",
        "pcm32.au",
        "float.au",
        "double.au",
        "tone.flac",
    ] {
        assert_stereo_tone(&decode(&codec(name)).unwrap(), 0.0, name);
    }
}

#[test]
fn eight_bit_encodings_decode_within_one_step() {
    for name in ["u8.wav", "s8.au"] {
        assert_stereo_tone(&decode(&codec(name)).unwrap(), 1.0 / 128.0, name);
    }
}

#[test]
fn g711_au_matches_libsndfile() {
    for name in ["ulaw", "alaw"] {
        let decoded = decode(&codec(&format!("{name}.au"))).unwrap();
        let (_, expected) = read_npy(&codec(&format!("{name}.sf.npy")));
        assert_eq!(decoded.channels.len(), 1);
        let err = max_abs_diff(&decoded.channels[0], &expected);
        assert!(err == 0.0, "{name}: max difference from libsndfile {err}");
    }
}

#[test]
fn lossy_codecs_decode_to_the_tone() {
    let (left, right) = tone();
    let peak = |x: &[f32]| x.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    for name in ["tone.ogg", "tone.mp3"] {
        let decoded = decode(&codec(name)).unwrap();
        assert_eq!(decoded.sample_rate, 44100, "{name}");
        assert_eq!(decoded.channels.len(), 2, "{name}");
        // Encoder delay and padding lengthen the stream by at most a few frames.
        let frames = decoded.frames();
        assert!(
            (left.len()..left.len() + 4 * 1152).contains(&frames),
            "{name}: {frames} frames"
        );
        for (ours, theirs) in decoded.channels.iter().zip([&left, &right]) {
            let ratio = peak(ours) / peak(theirs);
            assert!((0.8..1.25).contains(&ratio), "{name}: peak ratio {ratio}");
        }
    }
}

#[test]
fn load_audio_mixes_to_mono_and_resamples() {
    let (left, right) = tone();
    let native = load_audio(&codec("pcm16.wav"), 44100).unwrap();
    let mean: Vec<f32> = left
        .iter()
        .zip(&right)
        .map(|(l, r)| ((*l as f64 + *r as f64) / 2.0) as f32)
        .collect();
    assert_eq!(native.samples, mean);
    let half = load_audio(&codec("pcm16.wav"), 22050).unwrap();
    assert_eq!(half.sample_rate, 22050);
    assert_eq!(half.samples.len(), 1103);
}

#[test]
fn decode_bytes_uses_magic_or_hint() {
    let wav = std::fs::read(codec("pcm16.wav")).unwrap();
    assert_stereo_tone(
        &decode_bytes(&wav, Container::Auto).unwrap(),
        0.0,
        "auto wav",
    );
    let au = std::fs::read(codec("pcm16.au")).unwrap();
    assert_stereo_tone(&decode_bytes(&au, Container::Au).unwrap(), 0.0, "au");
    let flac = std::fs::read(codec("tone.flac")).unwrap();
    assert_stereo_tone(
        &decode_bytes(&flac, Container::Other("flac")).unwrap(),
        0.0,
        "flac",
    );
    // Forcing the wrong reader is an error, not garbage.
    assert!(decode_bytes(&flac, Container::Au).is_err());
    assert!(decode_bytes(&au, Container::Wav).is_err());
}

// ---- bad input: every case is an Error that names the file and the reason ----

fn write(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

fn assert_error(path: &Path, reason: &str) {
    let err = decode(path).expect_err(&format!("{} should not decode", path.display()));
    let message = err.to_string();
    let file = path.file_name().unwrap().to_str().unwrap();
    assert!(
        message.contains(file),
        "error does not name the file: {message}"
    );
    assert!(
        message.to_lowercase().contains(&reason.to_lowercase()),
        "error for {file} does not say `{reason}`: {message}"
    );
    // load_audio reports the same failure.
    assert!(load_audio(path, 22050).is_err());
}

/// A canonical 44-byte WAV header for PCM data of `data_len` bytes.
fn wav_header(format_tag: u16, channels: u16, rate: u32, bits: u16, data_len: u32) -> Vec<u8> {
    let block = channels * bits / 8;
    let mut h = Vec::new();
    h.extend_from_slice(b"RIFF");
    h.extend_from_slice(&(36 + data_len).to_le_bytes());
    h.extend_from_slice(b"WAVEfmt ");
    h.extend_from_slice(&16u32.to_le_bytes());
    h.extend_from_slice(&format_tag.to_le_bytes());
    h.extend_from_slice(&channels.to_le_bytes());
    h.extend_from_slice(&rate.to_le_bytes());
    h.extend_from_slice(&(rate * block as u32).to_le_bytes());
    h.extend_from_slice(&block.to_le_bytes());
    h.extend_from_slice(&bits.to_le_bytes());
    h.extend_from_slice(b"data");
    h.extend_from_slice(&data_len.to_le_bytes());
    h
}

fn au_header(encoding: u32, rate: u32, channels: u32, data_len: u32) -> Vec<u8> {
    [0x2e73_6e64u32, 24, data_len, encoding, rate, channels]
        .iter()
        .flat_map(|v| v.to_be_bytes())
        .collect()
}

#[test]
fn empty_file_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    assert_error(&write(&dir, "empty.wav", b""), "empty file");
    assert_error(&write(&dir, "empty.mp3", b""), "empty file");
}

#[test]
fn missing_file_is_an_io_error() {
    let err = decode(Path::new("/nonexistent/dir/track.wav")).unwrap_err();
    assert!(matches!(err, Error::Io { .. }));
    assert!(err.to_string().contains("track.wav"));
}

#[test]
fn non_audio_file_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let text = b"This is a plain text file, not audio at all.\n".repeat(20);
    assert_error(
        &write(&dir, "notes.txt", &text),
        "not a recognised audio format",
    );
    assert_error(
        &write(&dir, "disguised.wav", &text),
        "not a recognised audio format",
    );
    assert_error(&write(&dir, "disguised.mp3", &text), "");
}

#[test]
fn truncated_files_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let wav = std::fs::read(codec("pcm16.wav")).unwrap();
    assert_error(&write(&dir, "cut.wav", &wav[..wav.len() / 2]), "truncated");
    assert_error(&write(&dir, "cut_header.wav", &wav[..30]), "WAV");
    let au = std::fs::read(codec("pcm16.au")).unwrap();
    assert_error(&write(&dir, "cut.au", &au[..au.len() / 2]), "truncated");
    assert_error(&write(&dir, "cut_header.au", &au[..10]), "truncated header");
    // Half a frame: stereo 16-bit data of 6 bytes.
    let mut odd = au_header(3, 22050, 2, 6);
    odd.extend_from_slice(&[0; 6]);
    assert_error(&write(&dir, "half_frame.au", &odd), "whole number");
    let flac = std::fs::read(codec("tone.flac")).unwrap();
    assert!(decode(&write(&dir, "cut.flac", &flac[..flac.len() / 2])).is_err());
}

#[test]
fn corrupt_files_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let mut wav = std::fs::read(codec("pcm16.wav")).unwrap();
    wav[12..16].copy_from_slice(b"junk"); // no `fmt ` chunk where it must be
    assert_error(&write(&dir, "corrupt.wav", &wav), "WAV");
    let mut au = au_header(3, 22050, 1, 4);
    au[4..8].copy_from_slice(&8u32.to_be_bytes()); // data offset inside the header
    au.extend_from_slice(&[0; 4]);
    assert_error(&write(&dir, "corrupt.au", &au), "inside the 24-byte header");
    let mut flac = std::fs::read(codec("tone.flac")).unwrap();
    let middle = flac.len() / 2;
    flac[middle..middle + 64]
        .iter_mut()
        .for_each(|b| *b ^= 0xa5);
    assert!(decode(&write(&dir, "corrupt.flac", &flac)).is_err());
}

#[test]
fn unsupported_codecs_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let mut au = au_header(23, 8000, 1, 16); // G.721 ADPCM
    au.extend_from_slice(&[0; 16]);
    assert_error(&write(&dir, "adpcm.au", &au), "unsupported encoding 23");
    let mut wav = wav_header(0x0055, 1, 22050, 16, 16); // MPEG layer 3 inside WAV
    wav.extend_from_slice(&[0; 16]);
    assert_error(&write(&dir, "mp3_in.wav", &wav), "unsupported");
}

#[test]
fn zero_sample_rate_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let mut au = au_header(3, 0, 1, 4);
    au.extend_from_slice(&[0; 4]);
    assert_error(&write(&dir, "rate0.au", &au), "sample rate is 0");
    let mut wav = wav_header(1, 1, 0, 16, 4);
    wav.extend_from_slice(&[0; 4]);
    assert_error(&write(&dir, "rate0.wav", &wav), "");
}

#[test]
fn zero_length_audio_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    assert_error(
        &write(&dir, "silent.wav", &wav_header(1, 1, 22050, 16, 0)),
        "zero-length",
    );
    assert_error(
        &write(&dir, "silent.au", &au_header(3, 22050, 1, 0)),
        "zero-length",
    );
    assert!(log_mel(&[], &MelConfig::default()).is_err());
}

#[test]
fn non_finite_samples_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let mut au = au_header(6, 22050, 1, 8);
    au.extend_from_slice(&1.0f32.to_be_bytes());
    au.extend_from_slice(&f32::NAN.to_be_bytes());
    assert_error(&write(&dir, "nan.au", &au), "non-finite");
    assert!(log_mel(&[0.0, f32::INFINITY, 0.0], &MelConfig::default()).is_err());
}

#[test]
fn zero_target_rate_is_an_error() {
    assert!(load_audio(&codec("pcm16.wav"), 0).is_err());
}

#[test]
fn bad_mel_configs_are_errors() {
    let signal = vec![0.1f32; 4096];
    let bad = [
        MelConfig {
            hop_length: 0,
            ..MelConfig::default()
        },
        MelConfig {
            n_fft: 1,
            ..MelConfig::default()
        },
        MelConfig {
            win_length: Some(2048),
            ..MelConfig::default()
        },
        MelConfig {
            fmax: Some(20_000.0),
            ..MelConfig::default()
        },
        MelConfig {
            power: 0.0,
            ..MelConfig::default()
        },
        MelConfig {
            amin: 0.0,
            ..MelConfig::default()
        },
        MelConfig {
            top_db: Some(-1.0),
            ..MelConfig::default()
        },
        MelConfig {
            n_mels: 0,
            ..MelConfig::default()
        },
        MelConfig {
            sample_rate: 0,
            ..MelConfig::default()
        },
    ];
    for cfg in bad {
        assert!(log_mel(&signal, &cfg).is_err(), "{cfg:?} was accepted");
    }
    // Too short for an uncentred frame.
    let uncentred = MelConfig {
        center: false,
        ..MelConfig::default()
    };
    assert!(log_mel(&signal[..100], &uncentred).is_err());
}
