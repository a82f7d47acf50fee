//! Building a [`Dataset`] from audio files: listing (GTZAN folder or list file), genre
//! selection, parallel feature extraction with a progress bar, and the on-disk cache.
//!
//! Extraction per song: `load_audio` (mono, resampled to the mel rate) → whole-track
//! log-mel (dB relative to the track's maximum) → [`segment_frames`]. Songs are processed
//! in parallel with rayon (one task per file). A file that fails (unreadable, corrupt,
//! too short) is skipped with a warning naming it and the reason; the count is in the
//! [`BuildReport`]. No file at all, or no usable one, is an error.

use super::cache::{self, CacheDir};
use super::segment::{segment_frames, SegmentConfig};
use super::{Dataset, SongInfo};
use crate::audio::{load_audio, MelConfig, MelExtractor};
use crate::{Error, Result};
use rayon::prelude::*;
use std::path::{Path, PathBuf};

/// Audio file extensions picked up when scanning a folder.
pub const AUDIO_EXTENSIONS: [&str; 9] = [
    "wav", "au", "mp3", "flac", "ogg", "aif", "aiff", "snd", "oga",
];

/// Everything that determines the features of a song (and so the cache key).
#[derive(Clone, Debug, PartialEq, Default)]
pub struct FeatureConfig {
    /// Log-mel settings; its `sample_rate` is the rate audio is resampled to.
    pub mel: MelConfig,
    pub segment: SegmentConfig,
}

impl FeatureConfig {
    pub fn validate(&self) -> Result<()> {
        self.segment.validate()?;
        if self.mel.n_mels != self.segment.n_mels {
            return Err(Error::invalid(format!(
                "mel config has {} bands but segments want {}",
                self.mel.n_mels, self.segment.n_mels
            )));
        }
        Ok(())
    }
}

/// Which genres to keep. Labels are indices into the kept genres, sorted alphabetically.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum GenreSelection {
    #[default]
    All,
    /// The first `n` genres in alphabetical order.
    First(usize),
    /// These genres (each must exist).
    Names(Vec<String>),
}

impl GenreSelection {
    /// The kept genres, sorted, out of the `known` (sorted) ones.
    pub fn select(&self, known: &[String]) -> Result<Vec<String>> {
        let chosen = match self {
            GenreSelection::All => known.to_vec(),
            GenreSelection::First(n) => {
                if *n == 0 || *n > known.len() {
                    return Err(Error::invalid(format!(
                        "asked for the first {n} genres but there are {}: {}",
                        known.len(),
                        known.join(", ")
                    )));
                }
                known[..*n].to_vec()
            }
            GenreSelection::Names(names) => {
                let mut chosen = Vec::new();
                for name in names {
                    if !known.contains(name) {
                        return Err(Error::invalid(format!(
                            "unknown genre '{name}'; known genres: {}",
                            known.join(", ")
                        )));
                    }
                    if !chosen.contains(name) {
                        chosen.push(name.clone());
                    }
                }
                chosen.sort();
                chosen
            }
        };
        if chosen.is_empty() {
            return Err(Error::invalid("no genres selected"));
        }
        Ok(chosen)
    }
}

/// How to build a dataset from files.
#[derive(Clone, Debug, Default)]
pub struct BuildOptions {
    pub features: FeatureConfig,
    pub genres: GenreSelection,
    pub cache: CacheDir,
    /// Hide the progress bar (it is hidden anyway when stderr is not a terminal).
    pub quiet: bool,
}

/// One audio file of a dataset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SongFile {
    /// Path relative to the dataset root, with `/` (`blues/blues.00000.wav`).
    pub name: String,
    pub path: PathBuf,
    pub genre: String,
}

/// What a build did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BuildReport {
    pub songs: usize,
    pub segments: usize,
    /// Songs whose features were computed in this run (0 on a cache hit).
    pub extracted: usize,
    pub cache_hit: bool,
    pub cache_file: Option<PathBuf>,
    /// Files that failed, with the reason.
    pub skipped: Vec<(String, String)>,
    /// Files named in a list file but absent on disk.
    pub missing: Vec<String>,
}

impl std::fmt::Display for BuildReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} songs, {} segments", self.songs, self.segments)?;
        if self.cache_hit {
            write!(f, " (from cache)")?;
        } else {
            write!(f, " ({} extracted)", self.extracted)?;
        }
        if !self.skipped.is_empty() {
            write!(f, ", {} bad files skipped", self.skipped.len())?;
        }
        if !self.missing.is_empty() {
            write!(f, ", {} listed files missing", self.missing.len())?;
        }
        Ok(())
    }
}

fn has_audio_extension(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| AUDIO_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

/// Lists `root/<genre>/*.<audio ext>` (GTZAN layout), sorted by name.
pub fn scan_folder(root: impl AsRef<Path>) -> Result<Vec<SongFile>> {
    let root = root.as_ref();
    let read_dir = |dir: &Path| std::fs::read_dir(dir).map_err(|e| Error::io(dir, e));
    let mut files = Vec::new();
    for genre_dir in read_dir(root)? {
        let genre_dir = genre_dir.map_err(|e| Error::io(root, e))?.path();
        if !genre_dir.is_dir() {
            continue;
        }
        let Some(genre) = genre_dir
            .file_name()
            .and_then(|g| g.to_str())
            .map(str::to_string)
        else {
            continue;
        };
        for entry in read_dir(&genre_dir)? {
            let path = entry.map_err(|e| Error::io(&genre_dir, e))?.path();
            if path.is_file() && has_audio_extension(&path) {
                let file = path.file_name().unwrap_or_default().to_string_lossy();
                files.push(SongFile {
                    name: format!("{genre}/{file}"),
                    path,
                    genre: genre.clone(),
                });
            }
        }
    }
    files.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(files)
}

/// Reads a list file (lines `genre/file.wav`, relative to `root`; `#` comments and blank
/// lines ignored). Returns the files present and the names of those missing.
pub fn read_file_list(
    list: impl AsRef<Path>,
    root: impl AsRef<Path>,
) -> Result<(Vec<SongFile>, Vec<String>)> {
    let (list, root) = (list.as_ref(), root.as_ref());
    let text = std::fs::read_to_string(list).map_err(|e| Error::io(list, e))?;
    let (mut files, mut missing) = (Vec::new(), Vec::new());
    for (line_no, line) in text.lines().enumerate() {
        let name = line.trim().replace('\\', "/");
        if name.is_empty() || name.starts_with('#') {
            continue;
        }
        let Some((genre, _)) = name.split_once('/') else {
            return Err(Error::format(
                list,
                format!("line {}: '{name}' is not genre/file", line_no + 1),
            ));
        };
        let path = root.join(&name);
        if path.is_file() {
            files.push(SongFile {
                genre: genre.to_string(),
                path,
                name,
            });
        } else {
            missing.push(name);
        }
    }
    Ok((files, missing))
}

impl Dataset {
    /// Builds from a GTZAN-style folder (`root/<genre>/*.wav|au|mp3|…`).
    pub fn from_folder(
        root: impl AsRef<Path>,
        options: &BuildOptions,
    ) -> Result<(Dataset, BuildReport)> {
        let root = root.as_ref();
        let files = scan_folder(root)?;
        if files.is_empty() {
            return Err(Error::invalid(format!(
                "no audio files under {} (expected <genre>/*.{{{}}})",
                root.display(),
                AUDIO_EXTENSIONS.join(",")
            )));
        }
        Self::from_files(files, options)
    }

    /// Builds from a list file of `genre/file` lines relative to `root`. Listed files that
    /// do not exist are left out, counted in the report and summarised in one warning.
    pub fn from_list(
        list: impl AsRef<Path>,
        root: impl AsRef<Path>,
        options: &BuildOptions,
    ) -> Result<(Dataset, BuildReport)> {
        let (files, missing) = read_file_list(&list, &root)?;
        if !missing.is_empty() {
            eprintln!(
                "warning: {} of {} listed files are missing under {} (first: {})",
                missing.len(),
                missing.len() + files.len(),
                root.as_ref().display(),
                missing[0]
            );
        }
        if files.is_empty() {
            return Err(Error::invalid(format!(
                "none of the files listed in {} exist under {}",
                list.as_ref().display(),
                root.as_ref().display()
            )));
        }
        let (ds, mut report) = Self::from_files(files, options)?;
        report.missing = missing;
        Ok((ds, report))
    }

    /// Builds from explicit files (cached; see the module docs).
    pub fn from_files(
        files: Vec<SongFile>,
        options: &BuildOptions,
    ) -> Result<(Dataset, BuildReport)> {
        options.features.validate()?;
        let extractor = MelExtractor::new(&options.features.mel)?;
        let rate = options.features.mel.sample_rate;
        let segment = &options.features.segment;
        build_with(files, options, |file| {
            let audio = load_audio(&file.path, rate)?;
            let mel = extractor.log_mel(&audio.samples)?;
            segment_frames(&mel.data, mel.frames, mel.n_mels, segment)
        })
    }

    /// Builds from audio already in memory (e.g. [`super::synthetic_dataset`]): each item is
    /// `(name, samples at features.mel.sample_rate, label)`, labels indexing `genres`.
    /// Songs too short for one segment are an error here (in-memory audio is ours to fix).
    pub fn from_audio(
        songs: &[(String, Vec<f32>, usize)],
        genres: Vec<String>,
        features: &FeatureConfig,
    ) -> Result<Dataset> {
        features.validate()?;
        let extractor = MelExtractor::new(&features.mel)?;
        let segmented: Vec<(Vec<f32>, usize)> = songs
            .par_iter()
            .map(|(name, samples, _)| {
                let mel = extractor.log_mel(samples)?;
                segment_frames(&mel.data, mel.frames, mel.n_mels, &features.segment)
                    .map_err(|e| Error::invalid(format!("song {name}: {e}")))
            })
            .collect::<Result<_>>()?;
        let mut ds = empty(genres, &features.segment);
        for ((name, _, label), (x, count)) in songs.iter().zip(segmented) {
            push_song(
                &mut ds,
                SongInfo {
                    name: name.clone(),
                    path: None,
                    genre: *label,
                },
                &x,
                count,
            );
        }
        ds.validate()?;
        Ok(ds)
    }
}

fn empty(genres: Vec<String>, segment: &SegmentConfig) -> Dataset {
    Dataset {
        x: Vec::new(),
        y: Vec::new(),
        song: Vec::new(),
        songs: Vec::new(),
        genres,
        frames: segment.frames,
        n_mels: segment.n_mels,
    }
}

fn push_song(ds: &mut Dataset, info: SongInfo, x: &[f32], count: usize) {
    let s = ds.songs.len();
    ds.y.extend(std::iter::repeat_n(info.genre, count));
    ds.song.extend(std::iter::repeat_n(s, count));
    ds.x.extend_from_slice(x);
    ds.songs.push(info);
}

/// The build behind [`Dataset::from_files`], with the per-file extraction as a parameter
/// (`extract` returns a file's segments and their count).
pub(crate) fn build_with(
    files: Vec<SongFile>,
    options: &BuildOptions,
    extract: impl Fn(&SongFile) -> Result<(Vec<f32>, usize)> + Sync,
) -> Result<(Dataset, BuildReport)> {
    let mut known: Vec<String> = files.iter().map(|f| f.genre.clone()).collect();
    known.sort();
    known.dedup();
    let genres = options.genres.select(&known)?;
    let mut files: Vec<SongFile> = files
        .into_iter()
        .filter(|f| genres.contains(&f.genre))
        .collect();
    files.sort_by(|a, b| a.name.cmp(&b.name));
    files.dedup_by(|a, b| a.name == b.name);

    let cache_path = cache::path_for(&options.cache, &options.features, &genres, &files)?;
    if let Some((path, key)) = &cache_path {
        if let Some((mut ds, skipped)) = cache::load(path, key) {
            for (name, reason) in &skipped {
                eprintln!("warning: skipped {name}: {reason} (cached result)");
            }
            attach_paths(&mut ds, &files);
            let report = BuildReport {
                songs: ds.songs.len(),
                segments: ds.len(),
                cache_hit: true,
                cache_file: Some(path.clone()),
                skipped,
                ..BuildReport::default()
            };
            return Ok((ds, report));
        }
    }

    let bar = progress_bar(files.len() as u64, options.quiet);
    let results: Vec<Result<(Vec<f32>, usize)>> = files
        .par_iter()
        .map(|file| {
            let r = extract(file);
            bar.inc(1);
            r
        })
        .collect();
    bar.finish_and_clear();

    let mut ds = empty(genres, &options.features.segment);
    let mut skipped = Vec::new();
    for (file, result) in files.iter().zip(results) {
        match result {
            Ok((x, count)) => {
                let genre = ds
                    .genres
                    .iter()
                    .position(|g| *g == file.genre)
                    .expect("selected genre");
                let info = SongInfo {
                    name: file.name.clone(),
                    path: Some(file.path.clone()),
                    genre,
                };
                push_song(&mut ds, info, &x, count);
            }
            Err(e) => {
                eprintln!("warning: skipped {}: {e}", file.name);
                skipped.push((file.name.clone(), e.to_string()));
            }
        }
    }
    if ds.is_empty() {
        return Err(Error::invalid(format!(
            "no usable audio: all {} files failed (first: {}: {})",
            files.len(),
            skipped.first().map_or("", |s| &s.0),
            skipped.first().map_or("", |s| &s.1)
        )));
    }
    if !skipped.is_empty() {
        eprintln!(
            "warning: {} of {} files skipped",
            skipped.len(),
            files.len()
        );
    }
    ds.validate()?;
    if let Some((path, key)) = &cache_path {
        if let Err(e) = cache::store(path, key, &ds, &skipped) {
            eprintln!("warning: could not write the feature cache: {e}");
        }
    }
    let report = BuildReport {
        songs: ds.songs.len(),
        segments: ds.len(),
        extracted: files.len(),
        cache_hit: false,
        cache_file: cache_path.map(|(p, _)| p),
        skipped,
        missing: Vec::new(),
    };
    Ok((ds, report))
}

/// Restores song paths (the cache stores names only).
fn attach_paths(ds: &mut Dataset, files: &[SongFile]) {
    for song in &mut ds.songs {
        if let Ok(i) = files.binary_search_by(|f| f.name.as_str().cmp(&song.name)) {
            song.path = Some(files[i].path.clone());
        }
    }
}

fn progress_bar(len: u64, quiet: bool) -> indicatif::ProgressBar {
    if quiet {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(len);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "extracting features {bar:30} {pos}/{len} songs, {eta} left",
    ) {
        bar.set_style(style);
    }
    bar
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A 16-bit mono WAV of a `freq` Hz tone plus a little deterministic noise.
    fn write_wav(path: &Path, seconds: f32, freq: f32) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: 22050,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(path, spec).unwrap();
        let n = (seconds * 22050.0) as usize;
        let mut state = 12345u32;
        for i in 0..n {
            state = state.wrapping_mul(1664525).wrapping_add(1013904223);
            let noise = (state >> 16) as f32 / 65536.0 - 0.5;
            let v = 0.5 * (std::f32::consts::TAU * freq * i as f32 / 22050.0).sin() + 0.05 * noise;
            w.write_sample((v * 32767.0) as i16).unwrap();
        }
        w.finalize().unwrap();
    }

    /// `root/g0/*.wav`, `root/g1/*.wav`, `root/g2/*.wav`, 2 songs each of 4 s.
    fn toy_folder(root: &Path) {
        for g in 0..3 {
            for k in 0..2 {
                write_wav(
                    &root.join(format!("g{g}/g{g}.{k:05}.wav")),
                    4.0,
                    200.0 * (g + 1) as f32 + 30.0 * k as f32,
                );
            }
        }
    }

    fn options(cache: &Path) -> BuildOptions {
        BuildOptions {
            cache: CacheDir::At(cache.to_path_buf()),
            quiet: true,
            ..BuildOptions::default()
        }
    }

    #[test]
    fn folder_build_segments_and_labels() {
        let dir = tempfile::tempdir().unwrap();
        toy_folder(&dir.path().join("data"));
        let (ds, report) =
            Dataset::from_folder(dir.path().join("data"), &options(&dir.path().join("cache")))
                .unwrap();
        // 4 s = 88200 samples → 173 centred frames → 2 full segments (13 left-over frames dropped).
        assert_eq!(
            (report.songs, report.segments, report.extracted),
            (6, 12, 6)
        );
        assert_eq!(ds.genres, vec!["g0", "g1", "g2"]);
        assert_eq!(ds.y, vec![0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2]);
        assert_eq!(ds.songs[2].name, "g1/g1.00000.wav");
        assert_eq!(ds.segment_shape(), [80, 80]);
        assert!(ds.x.iter().all(|v| (-80.0..=0.0).contains(v)));
    }

    #[test]
    fn second_build_is_a_cache_hit_without_extraction() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        toy_folder(&data);
        let opts = options(&dir.path().join("cache"));
        let calls = AtomicUsize::new(0);
        let count_and_extract = |f: &SongFile| {
            calls.fetch_add(1, Ordering::SeqCst);
            let mel =
                crate::audio::log_mel(&load_audio(&f.path, 22050)?.samples, &opts.features.mel)?;
            segment_frames(&mel.data, mel.frames, mel.n_mels, &opts.features.segment)
        };
        let (first, r1) =
            build_with(scan_folder(&data).unwrap(), &opts, count_and_extract).unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 6);
        assert!(!r1.cache_hit);
        let (second, r2) =
            build_with(scan_folder(&data).unwrap(), &opts, count_and_extract).unwrap();
        assert_eq!(
            calls.load(Ordering::SeqCst),
            6,
            "cache hit must not extract"
        );
        assert!(r2.cache_hit && r2.extracted == 0);
        assert_eq!(
            first, second,
            "cached dataset (with song paths) equals the built one"
        );
        // The public path hits the same entry.
        let (_, r3) = Dataset::from_folder(&data, &opts).unwrap();
        assert!(r3.cache_hit);
        // Other settings or a changed file → a different entry.
        let mut other = opts.clone();
        other.features.segment.max_segments = Some(1);
        let (ds, r4) = Dataset::from_folder(&data, &other).unwrap();
        assert!(!r4.cache_hit && ds.len() == 6);
        write_wav(&data.join("g0/g0.00000.wav"), 5.0, 300.0);
        let (_, r5) = Dataset::from_folder(&data, &opts).unwrap();
        assert!(!r5.cache_hit);
        // No temporary files left in the cache dir.
        for entry in std::fs::read_dir(dir.path().join("cache")).unwrap() {
            let name = entry.unwrap().file_name().into_string().unwrap();
            assert!(
                name.starts_with("features-") && name.ends_with(".npz"),
                "{name}"
            );
        }
    }

    #[test]
    fn corrupt_cache_entry_is_rebuilt() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        toy_folder(&data);
        let opts = options(&dir.path().join("cache"));
        let (ds, r1) = Dataset::from_folder(&data, &opts).unwrap();
        let cache_file = r1.cache_file.unwrap();
        std::fs::write(&cache_file, b"garbage").unwrap();
        let (again, r2) = Dataset::from_folder(&data, &opts).unwrap();
        assert!(!r2.cache_hit);
        assert_eq!(ds.x, again.x);
    }

    #[test]
    fn bad_files_are_skipped_and_counted() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        toy_folder(&data);
        std::fs::write(
            data.join("g0/junk.wav"),
            b"RIFF\x10\x00\x00\x00WAVEnonsense",
        )
        .unwrap();
        std::fs::write(data.join("g1/empty.au"), b"").unwrap();
        write_wav(&data.join("g2/short.wav"), 0.5, 440.0); // 22 frames < 40 needed
        let (ds, report) =
            Dataset::from_folder(&data, &options(&dir.path().join("cache"))).unwrap();
        assert_eq!(ds.songs.len(), 6);
        let names: Vec<&str> = report.skipped.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, vec!["g0/junk.wav", "g1/empty.au", "g2/short.wav"]);
        assert!(
            report.skipped[2].1.contains("too short"),
            "{:?}",
            report.skipped[2]
        );
        assert!(report.to_string().contains("3 bad files skipped"));
        // The cached result remembers the skipped files.
        let (_, again) = Dataset::from_folder(&data, &options(&dir.path().join("cache"))).unwrap();
        assert!(again.cache_hit);
        assert_eq!(again.skipped, report.skipped);
    }

    #[test]
    fn all_bad_or_empty_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir_all(data.join("g0")).unwrap();
        let err = Dataset::from_folder(&data, &options(dir.path())).unwrap_err();
        assert!(err.to_string().contains("no audio files"), "{err}");
        std::fs::write(data.join("g0/a.wav"), b"bad").unwrap();
        let err = Dataset::from_folder(&data, &options(dir.path())).unwrap_err();
        assert!(err.to_string().contains("all 1 files failed"), "{err}");
    }

    #[test]
    fn genre_selection() {
        let known: Vec<String> = ["blues", "jazz", "rock"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(
            GenreSelection::First(2).select(&known).unwrap(),
            vec!["blues", "jazz"]
        );
        let names = GenreSelection::Names(vec!["rock".into(), "blues".into()]);
        assert_eq!(names.select(&known).unwrap(), vec!["blues", "rock"]);
        let err = GenreSelection::Names(vec!["polka".into()])
            .select(&known)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("unknown genre 'polka'") && err.contains("blues, jazz, rock"),
            "{err}"
        );
        assert!(GenreSelection::First(4).select(&known).is_err());
        assert!(GenreSelection::First(0).select(&known).is_err());

        let dir = tempfile::tempdir().unwrap();
        toy_folder(&dir.path().join("data"));
        let opts = BuildOptions {
            genres: GenreSelection::Names(vec!["g2".into()]),
            ..options(&dir.path().join("c"))
        };
        let (ds, _) = Dataset::from_folder(dir.path().join("data"), &opts).unwrap();
        assert_eq!(ds.genres, vec!["g2"]);
        assert!(ds.y.iter().all(|&y| y == 0) && ds.songs.len() == 2);
    }

    #[test]
    fn list_file_build_reports_missing() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        toy_folder(&data);
        let list = dir.path().join("list.txt");
        std::fs::write(
            &list,
            "# comment\ng1/g1.00001.wav\ng0/g0.00000.wav\n\ng0/g0.00077.wav\n",
        )
        .unwrap();
        let (ds, report) =
            Dataset::from_list(&list, &data, &options(&dir.path().join("c"))).unwrap();
        assert_eq!(ds.genres, vec!["g0", "g1"]);
        assert_eq!(
            ds.songs.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(),
            vec!["g0/g0.00000.wav", "g1/g1.00001.wav"]
        );
        assert_eq!(report.missing, vec!["g0/g0.00077.wav"]);
        std::fs::write(&list, "g5/none.wav\n").unwrap();
        assert!(Dataset::from_list(&list, &data, &options(&dir.path().join("c"))).is_err());
        std::fs::write(&list, "no_genre.wav\n").unwrap();
        assert!(Dataset::from_list(&list, &data, &options(&dir.path().join("c"))).is_err());
    }

    /// Our features for the 100 shared tracks against librosa's (`librosa_logmel.npz`).
    #[test]
    fn shared_gtzan_matches_librosa_reference() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data");
        if !root.join("gtzan").exists() || !root.join("reference/librosa_logmel.npz").exists() {
            eprintln!("skipped: ../shared/data (gtzan + reference) absent");
            return;
        }
        let cache = tempfile::tempdir().unwrap();
        let (ds, report) =
            Dataset::from_folder(root.join("gtzan"), &options(cache.path())).unwrap();
        assert!(report.skipped.is_empty(), "{:?}", report.skipped);
        assert_eq!((ds.len(), ds.songs.len(), ds.genres.len()), (1500, 100, 10));
        let reference = Dataset::read_npz(root.join("reference/librosa_logmel.npz")).unwrap();
        assert_eq!(ds.genres, reference.genres);
        assert_eq!(ds.y, reference.y);
        let names: Vec<&str> = ds.songs.iter().map(|s| s.file_name()).collect();
        let ref_names: Vec<&str> = reference.songs.iter().map(|s| s.file_name()).collect();
        assert_eq!(names, ref_names);
        let (mut max_diff, mut sum_diff) = (0f32, 0f64);
        for (a, b) in ds.x.iter().zip(&reference.x) {
            let d = (a - b).abs();
            max_diff = max_diff.max(d);
            sum_diff += d as f64;
        }
        let mean_diff = sum_diff / ds.x.len() as f64;
        eprintln!(
            "shared GTZAN vs librosa: max |ΔdB| = {max_diff:.5}, mean |ΔdB| = {mean_diff:.2e}"
        );
        assert!(
            max_diff < 0.05 && mean_diff < 1e-3,
            "max {max_diff} dB, mean {mean_diff} dB"
        );
    }
}
