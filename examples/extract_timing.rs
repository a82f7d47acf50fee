//! Wall time to decode + log-mel every shared GTZAN track, in parallel over tracks.
//!
//!     cargo run --release --example extract_timing -- [--threads 2] [--dir ../shared/data/gtzan]
//!
//! Compare with `benches/reference/librosa_timing.py` (the same work with librosa).

use std::path::{Path, PathBuf};
use std::time::Instant;

use melgrad::audio::{load_audio, MelConfig, MelExtractor};
use rayon::prelude::*;

fn wav_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for genre in std::fs::read_dir(dir)? {
        let genre = genre?.path();
        if genre.is_dir() {
            for file in std::fs::read_dir(&genre)? {
                let file = file?.path();
                if file.extension().is_some_and(|e| e == "wav") {
                    files.push(file);
                }
            }
        }
    }
    files.sort();
    Ok(files)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut threads = 2usize;
    let mut dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/gtzan");
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--threads" => threads = args.next().ok_or("--threads needs a value")?.parse()?,
            "--dir" => dir = args.next().ok_or("--dir needs a value")?.into(),
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    let files = wav_files(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    if files.is_empty() {
        return Err(format!("no .wav files under {}", dir.display()).into());
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()?;
    let cfg = MelConfig::default();
    let start = Instant::now();
    let extractor = MelExtractor::new(&cfg)?;
    let frames: Vec<usize> = pool.install(|| {
        files
            .par_iter()
            .map(|path| -> melgrad::Result<usize> {
                let audio = load_audio(path, cfg.sample_rate)?;
                Ok(extractor.log_mel(&audio.samples)?.frames)
            })
            .collect::<melgrad::Result<_>>()
    })?;
    let wall = start.elapsed().as_secs_f64();
    println!(
        "{} tracks, {} frames, {threads} thread(s): {wall:.3} s wall ({:.1} ms/track)",
        files.len(),
        frames.iter().sum::<usize>(),
        1000.0 * wall / files.len() as f64
    );
    Ok(())
}
