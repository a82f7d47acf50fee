//! Agreement of the log-mel with librosa 0.11 (fixtures from tests/fixtures/make_logmel_fixtures.py)
//! and, when ../shared is present, with the shared reference features of a real GTZAN track.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use melgrad::audio::{load_audio, log_mel, MelConfig, MelExtractor, MelNorm, MelScale, PadMode};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// (shape, data) of a float32 .npy file.
fn read_npy(path: &Path) -> (Vec<usize>, Vec<f32>) {
    let file =
        BufReader::new(File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())));
    let npy = npyz::NpyFile::new(file).unwrap();
    assert_eq!(
        npy.order(),
        npyz::Order::C,
        "{}: Fortran-ordered fixture",
        path.display()
    );
    let shape = npy.shape().iter().map(|&d| d as usize).collect();
    (shape, npy.into_vec::<f32>().unwrap())
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

#[test]
fn filterbank_matches_librosa() {
    let (shape, expected) = read_npy(&fixture("mel_fb.npy"));
    assert_eq!(shape, [80, 513]);
    let extractor = MelExtractor::new(&MelConfig::default()).unwrap();
    let ours = extractor.filterbank();
    let peak = expected.iter().copied().fold(0.0f32, f32::max) as f64;
    let mut worst = 0.0f64;
    for (&o, &e) in ours.iter().zip(&expected) {
        // The fixture is librosa's float64 filterbank rounded to f32 once: compare relative to
        // each weight, with an absolute floor for the weights that round to (near) zero.
        let err = (o - e as f64).abs() / (e as f64).abs().max(1e-3 * peak);
        worst = worst.max(err);
    }
    eprintln!("filterbank max relative difference vs librosa: {worst:.2e}");
    assert!(worst < 1e-6, "filterbank max relative difference {worst:e}");
    // Same sparsity pattern: a weight is zero exactly where librosa's is.
    for (&o, &e) in ours.iter().zip(&expected) {
        assert_eq!(o == 0.0, e == 0.0);
    }
}

#[test]
fn log_mel_matches_librosa_on_synthetic_signal() {
    let (_, signal) = read_npy(&fixture("logmel_signal.npy"));
    let (shape, expected) = read_npy(&fixture("logmel_db.npy"));
    let got = log_mel(&signal, &MelConfig::default()).unwrap();
    assert_eq!([got.frames, got.n_mels], [shape[0], shape[1]]);
    let diff = max_abs_diff(&got.data, &expected);
    eprintln!("synthetic signal: max |dB difference| vs librosa = {diff:.3e} dB");
    assert!(diff < 1e-4, "max dB difference {diff}");
    // The fixture reaches the -80 dB floor (quiet tail) and the 0 dB peak.
    assert!(got.data.iter().any(|&d| d == -80.0));
    assert!(got.data.iter().any(|&d| d == 0.0));
}

#[test]
fn every_knob_matches_librosa() {
    let (_, signal) = read_npy(&fixture("logmel_signal.npy"));
    let (shape, expected) = read_npy(&fixture("logmel_alt_db.npy"));
    let cfg = MelConfig {
        n_fft: 512,
        win_length: Some(400),
        hop_length: 256,
        n_mels: 40,
        fmin: 100.0,
        fmax: Some(8000.0),
        mel_scale: MelScale::Htk,
        mel_norm: MelNorm::None,
        power: 1.0,
        pad_mode: PadMode::Reflect,
        ref_max: false,
        top_db: None,
        ..MelConfig::default()
    };
    let got = log_mel(&signal, &cfg).unwrap();
    assert_eq!([got.frames, got.n_mels], [shape[0], shape[1]]);
    let diff = max_abs_diff(&got.data, &expected);
    eprintln!("alternative config: max |dB difference| vs librosa = {diff:.3e} dB");
    assert!(diff < 1e-4, "max dB difference {diff}");
}

/// Reads one array of the shared reference `.npz` (a zip of `.npy` files).
fn read_npz_member(
    archive: &mut zip::ZipArchive<File>,
    name: &str,
) -> npyz::NpyFile<std::io::Cursor<Vec<u8>>> {
    let mut bytes = Vec::new();
    archive
        .by_name(&format!("{name}.npy"))
        .unwrap()
        .read_to_end(&mut bytes)
        .unwrap();
    npyz::NpyFile::new(std::io::Cursor::new(bytes)).unwrap()
}

#[test]
fn log_mel_matches_shared_reference_on_real_tracks() {
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data");
    let reference = shared.join("reference/librosa_logmel.npz");
    if !reference.exists() {
        eprintln!(
            "SKIP: {} is absent (../shared not beside the repository)",
            reference.display()
        );
        return;
    }
    let mut archive = zip::ZipArchive::new(File::open(&reference).unwrap()).unwrap();
    let x = read_npz_member(&mut archive, "X");
    assert_eq!(x.shape(), [1500, 80, 80, 1]);
    let x: Vec<f32> = x.into_vec().unwrap();
    let tracks: Vec<String> = read_npz_member(&mut archive, "track").into_vec().unwrap();
    let genres: Vec<String> = read_npz_member(&mut archive, "genres").into_vec().unwrap();
    let labels: Vec<i64> = read_npz_member(&mut archive, "y").into_vec().unwrap();

    let extractor = MelExtractor::new(&MelConfig::default()).unwrap();
    let segment_len = 80 * 80;
    // One track per genre keeps the test quick; the timing example covers all 100.
    let mut worst = 0.0f32;
    for genre_index in 0..genres.len() {
        let first = labels
            .iter()
            .position(|&y| y == genre_index as i64)
            .unwrap();
        let name = &tracks[first];
        let path = shared.join("gtzan").join(&genres[genre_index]).join(name);
        let audio = load_audio(&path, 22050).unwrap();
        let mel = extractor.log_mel(&audio.samples).unwrap();
        let segments = tracks.iter().filter(|t| *t == name).count();
        let mut track_worst = 0.0f32;
        for k in 0..segments {
            let ours = mel.segment(80 * k, 80).unwrap();
            let theirs = &x[(first + k) * segment_len..(first + k + 1) * segment_len];
            track_worst = track_worst.max(max_abs_diff(&ours.data, theirs));
        }
        eprintln!("{name}: {segments} segments, max |dB difference| = {track_worst:.3e}");
        worst = worst.max(track_worst);
    }
    eprintln!("real tracks: max |dB difference| vs librosa reference = {worst:.3e} dB");
    assert!(worst < 1e-3, "max dB difference {worst}");
}
