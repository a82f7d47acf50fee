//! Loading a dataset and cutting a split from the command-line arguments.

use crate::args::{DataArgs, SplitArgs, SplitKind};
use melgrad::data::split::{filtered_split, kfold_song_split, segment_split, song_split, Split};
use melgrad::data::{BuildOptions, CacheDir, Dataset, FeatureConfig, GenreSelection};
use melgrad::{Error, Result};
use std::path::Path;

/// Seconds of each synthetic song: the coursework's 30-s clips.
const SYNTHETIC_SECONDS: f32 = 30.0;

pub fn genre_selection(text: Option<&str>) -> Result<GenreSelection> {
    Ok(match text {
        None => GenreSelection::All,
        Some(t) if t.trim().chars().all(|c| c.is_ascii_digit()) => GenreSelection::First(
            t.trim()
                .parse()
                .map_err(|_| Error::invalid(format!("bad --genres '{t}'")))?,
        ),
        Some(t) => GenreSelection::Names(
            t.split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect(),
        ),
    })
}

/// The dataset the arguments name: a folder, a list file, an npz, or synthetic songs.
pub fn load(args: &DataArgs, seed: u64) -> Result<Dataset> {
    let selection = genre_selection(args.genres.as_deref())?;
    let options = BuildOptions {
        features: FeatureConfig::default(),
        genres: selection.clone(),
        cache: match (&args.cache, args.no_cache) {
            (_, true) => CacheDir::Off,
            (Some(dir), false) => CacheDir::At(dir.clone()),
            (None, false) => CacheDir::Default,
        },
        quiet: args.quiet,
    };
    let Some(path) = &args.data else {
        if !args.quiet {
            println!(
                "no --data: using the built-in synthetic dataset ({} styles × {} songs of {SYNTHETIC_SECONDS} s)",
                melgrad::data::STYLES.len(),
                args.synthetic_songs
            );
        }
        let ds = Dataset::from_synthetic(
            args.synthetic_songs,
            SYNTHETIC_SECONDS,
            seed,
            &options.features,
        )?;
        let chosen = selection.select(&ds.genres)?;
        return ds.select_genres(&chosen);
    };
    let ds = if path.is_dir() {
        let (ds, report) = Dataset::from_folder(path, &options)?;
        if !args.quiet {
            println!("{report}");
        }
        ds
    } else if path.extension().is_some_and(|e| e == "npz") {
        let ds = Dataset::read_npz(path)?;
        let chosen = selection.select(&ds.genres)?;
        ds.select_genres(&chosen)?
    } else if path.is_file() {
        let root = args
            .root
            .clone()
            .unwrap_or_else(|| path.parent().unwrap_or(Path::new(".")).to_path_buf());
        let (ds, report) = Dataset::from_list(path, &root, &options)?;
        if !args.quiet {
            println!("{report}");
        }
        ds
    } else {
        return Err(Error::invalid(format!(
            "--data {}: no such folder or file",
            path.display()
        )));
    };
    Ok(ds)
}

/// One split, or one per fold for k-fold cross-validation.
pub fn splits(ds: &Dataset, args: &SplitArgs, seed: u64) -> Result<Vec<Split>> {
    let seed = args.split_seed.unwrap_or(seed);
    Ok(match args.split {
        SplitKind::Segment => vec![segment_split(ds, args.val_fraction, seed)?],
        SplitKind::Song => vec![song_split(ds, args.val_fraction, 0.0, seed)?],
        SplitKind::Kfold => {
            let folds: Vec<usize> = match args.fold {
                Some(f) if f == 0 || f > args.folds => {
                    return Err(Error::invalid(format!(
                        "--fold {f} is outside 1..={}",
                        args.folds
                    )))
                }
                Some(f) => vec![f - 1],
                None => (0..args.folds).collect(),
            };
            folds
                .into_iter()
                .map(|f| kfold_song_split(ds, args.folds, f, seed))
                .collect::<Result<_>>()?
        }
        SplitKind::Filtered => {
            let (split, report) = filtered_split(ds, &args.lists)?;
            println!("{report}");
            vec![split]
        }
    })
}

/// `melgrad extract`: build (or load from the cache) and describe a dataset.
pub fn extract(args: &DataArgs) -> Result<()> {
    let started = std::time::Instant::now();
    let ds = load(args, 0)?;
    println!(
        "{} segments of {}×{} from {} songs, {} genres ({}) in {:.1} s",
        ds.len(),
        ds.frames,
        ds.n_mels,
        ds.songs.len(),
        ds.genres.len(),
        ds.genres.join(", "),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
