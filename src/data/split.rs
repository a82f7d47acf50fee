//! Train/validation/test splits, as lists of segment indices.
//!
//! Four protocols:
//! - [`segment_split`]: the coursework protocol, a seeded random split over *segments*.
//!   Segments of one song land on both sides, so validation accuracy is optimistic; the
//!   summary says how many songs are shared.
//! - [`song_split`]: whole songs to each side, stratified by genre.
//! - [`kfold_song_split`]: k-fold cross-validation over songs, stratified by genre.
//! - [`filtered_split`]: the artist-filtered lists (Kereliuk & Sturm), keeping the songs
//!   the dataset has.

use super::Dataset;
use crate::{Error, Result};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;

/// Segment indices of each side. `test` is empty for two-way splits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Split {
    /// How the split was made, e.g. `segment-level 80/20, seed 7`.
    pub name: String,
    pub train: Vec<usize>,
    pub val: Vec<usize>,
    pub test: Vec<usize>,
}

impl Split {
    fn parts(&self) -> [(&'static str, &[usize]); 3] {
        [
            ("train", &self.train),
            ("val", &self.val),
            ("test", &self.test),
        ]
    }

    /// Songs that have segments on more than one side (0 for song-level splits).
    pub fn shared_songs(&self, ds: &Dataset) -> usize {
        let mut sides = vec![0u8; ds.songs.len()];
        for (bit, (_, idx)) in self.parts().iter().enumerate() {
            for &i in idx.iter() {
                sides[ds.song[i]] |= 1 << bit;
            }
        }
        sides.iter().filter(|s| s.count_ones() > 1).count()
    }

    /// One line: sizes per side and the song overlap, e.g.
    /// `segment-level 80/20, seed 1: train 1200, val 300 segments; segment-level split: 98 songs appear on both sides`.
    pub fn summary(&self, ds: &Dataset) -> String {
        let mut out = format!("{}:", self.name);
        for (name, idx) in self.parts() {
            if !idx.is_empty() {
                let songs = count_songs(ds, idx);
                let _ = write!(out, " {name} {} segments ({songs} songs),", idx.len());
            }
        }
        out.pop();
        let shared = self.shared_songs(ds);
        if shared > 0 {
            let _ = write!(
                out,
                "; segment-level split: {shared} songs appear on both sides"
            );
        } else {
            out.push_str("; no song on two sides");
        }
        out
    }

    /// Segments per genre on each side, as a small table.
    pub fn class_balance(&self, ds: &Dataset) -> String {
        let width = ds.genres.iter().map(String::len).max().unwrap_or(5).max(5);
        let parts: Vec<_> = self
            .parts()
            .into_iter()
            .filter(|(_, i)| !i.is_empty())
            .collect();
        let mut out = format!("{:width$}", "genre");
        for (name, _) in &parts {
            let _ = write!(out, " {name:>7}");
        }
        out.push('\n');
        let counts: Vec<Vec<usize>> = parts.iter().map(|(_, idx)| ds.class_counts(idx)).collect();
        for (g, genre) in ds.genres.iter().enumerate() {
            let _ = write!(out, "{genre:width$}");
            for c in &counts {
                let _ = write!(out, " {:>7}", c[g]);
            }
            out.push('\n');
        }
        let _ = write!(out, "{:width$}", "total");
        for (_, idx) in &parts {
            let _ = write!(out, " {:>7}", idx.len());
        }
        out.push('\n');
        out
    }
}

fn count_songs(ds: &Dataset, idx: &[usize]) -> usize {
    let mut seen = vec![false; ds.songs.len()];
    idx.iter()
        .filter(|&&i| !std::mem::replace(&mut seen[ds.song[i]], true))
        .count()
}

fn check_fraction(name: &str, f: f64) -> Result<()> {
    if !(0.0..1.0).contains(&f) {
        return Err(Error::invalid(format!(
            "{name} fraction must be in [0, 1), got {f}"
        )));
    }
    Ok(())
}

/// The coursework protocol: shuffle all segments (seeded) and hold out `ceil(val_fraction × N)`
/// of them, like scikit-learn's `train_test_split`. Songs straddle the two sides.
pub fn segment_split(ds: &Dataset, val_fraction: f64, seed: u64) -> Result<Split> {
    check_fraction("validation", val_fraction)?;
    let mut order: Vec<usize> = (0..ds.len()).collect();
    order.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
    let n_val = (val_fraction * ds.len() as f64).ceil() as usize;
    let train = order.split_off(n_val);
    Ok(Split {
        name: format!(
            "segment-level {:.0}/{:.0}, seed {seed}",
            100.0 * (1.0 - val_fraction),
            100.0 * val_fraction
        ),
        train,
        val: order,
        test: Vec::new(),
    })
}

/// Songs of each genre, each list shuffled with `seed`.
fn shuffled_songs_by_genre(ds: &Dataset, seed: u64) -> Vec<Vec<usize>> {
    let mut by_genre = vec![Vec::new(); ds.genres.len()];
    for (s, info) in ds.songs.iter().enumerate() {
        by_genre[info.genre].push(s);
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    for songs in &mut by_genre {
        songs.shuffle(&mut rng);
    }
    by_genre
}

/// Segment indices of the songs marked with `side` (in segment order).
fn segments_where(ds: &Dataset, side_of_song: &[u8], side: u8) -> Vec<usize> {
    (0..ds.len())
        .filter(|&i| side_of_song[ds.song[i]] == side)
        .collect()
}

const TRAIN: u8 = 0;
const VAL: u8 = 1;
const TEST: u8 = 2;
const NONE: u8 = 3;

/// Whole songs to each side, stratified by genre: in every genre, `round(n × val_fraction)`
/// songs go to validation and `round(n × test_fraction)` to test (at least one song of
/// each genre stays in training).
pub fn song_split(ds: &Dataset, val_fraction: f64, test_fraction: f64, seed: u64) -> Result<Split> {
    check_fraction("validation", val_fraction)?;
    check_fraction("test", test_fraction)?;
    if val_fraction + test_fraction >= 1.0 {
        return Err(Error::invalid(
            "validation + test fractions must be below 1",
        ));
    }
    let mut side = vec![NONE; ds.songs.len()];
    for songs in shuffled_songs_by_genre(ds, seed) {
        let n = songs.len();
        let n_val = ((n as f64 * val_fraction).round() as usize).min(n.saturating_sub(1));
        let n_test = ((n as f64 * test_fraction).round() as usize).min(n.saturating_sub(1 + n_val));
        for (k, &s) in songs.iter().enumerate() {
            side[s] = if k < n_val {
                VAL
            } else if k < n_val + n_test {
                TEST
            } else {
                TRAIN
            };
        }
    }
    Ok(Split {
        name: format!(
            "song-level stratified (val {val_fraction}, test {test_fraction}), seed {seed}"
        ),
        train: segments_where(ds, &side, TRAIN),
        val: segments_where(ds, &side, VAL),
        test: segments_where(ds, &side, TEST),
    })
}

/// Fold `fold` of `k`-fold cross-validation over songs: songs of each genre are shuffled
/// (seeded) and dealt round-robin to the folds, so folds are stratified and, over
/// `fold = 0 … k-1`, every song is validated exactly once.
pub fn kfold_song_split(ds: &Dataset, k: usize, fold: usize, seed: u64) -> Result<Split> {
    if k < 2 || fold >= k {
        return Err(Error::invalid(format!(
            "k-fold needs k ≥ 2 and fold < k, got k={k}, fold={fold}"
        )));
    }
    if ds.songs.len() < k {
        return Err(Error::invalid(format!(
            "{k}-fold split of only {} songs",
            ds.songs.len()
        )));
    }
    let mut side = vec![NONE; ds.songs.len()];
    let mut dealt = 0;
    for songs in shuffled_songs_by_genre(ds, seed) {
        for s in songs {
            // Continue dealing where the previous genre stopped, to balance fold sizes.
            side[s] = if dealt % k == fold { VAL } else { TRAIN };
            dealt += 1;
        }
    }
    Ok(Split {
        name: format!("song-level {k}-fold, fold {fold}, seed {seed}"),
        train: segments_where(ds, &side, TRAIN),
        val: segments_where(ds, &side, VAL),
        test: Vec::new(),
    })
}

/// What [`filtered_split`] matched.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FilteredReport {
    /// Entries of the three lists (train, valid, test).
    pub listed: [usize; 3],
    /// Of those, songs the dataset has.
    pub found: [usize; 3],
    /// Dataset songs named in no list (left out of the split).
    pub unlisted: Vec<String>,
}

impl std::fmt::Display for FilteredReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let [lt, lv, ls] = self.listed;
        let [ft, fv, fs] = self.found;
        write!(
            f,
            "artist-filtered lists: train {ft}/{lt}, valid {fv}/{lv}, test {fs}/{ls} songs present \
             ({} listed songs missing); {} dataset songs in no list",
            lt + lv + ls - ft - fv - fs,
            self.unlisted.len()
        )
    }
}

/// The artist-filtered split from `train_filtered.txt`, `valid_filtered.txt` and
/// `test_filtered.txt` in `lists_dir` (lines `genre/genre.000NN.wav`). Songs are matched
/// by file name; listed songs the dataset lacks are counted as missing, dataset songs in
/// no list are left out. A song in two lists is an error.
pub fn filtered_split(
    ds: &Dataset,
    lists_dir: impl AsRef<Path>,
) -> Result<(Split, FilteredReport)> {
    let dir = lists_dir.as_ref();
    let mut by_name: HashMap<&str, usize> = HashMap::new();
    for (s, info) in ds.songs.iter().enumerate() {
        by_name.insert(info.file_name(), s);
    }
    let mut side = vec![NONE; ds.songs.len()];
    let (mut listed, mut found) = ([0; 3], [0; 3]);
    for (k, (file, tag)) in [
        ("train_filtered.txt", TRAIN),
        ("valid_filtered.txt", VAL),
        ("test_filtered.txt", TEST),
    ]
    .into_iter()
    .enumerate()
    {
        let path = dir.join(file);
        let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        for line in text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
        {
            listed[k] += 1;
            let name = line.rsplit(['/', '\\']).next().unwrap_or(line);
            if let Some(&s) = by_name.get(name) {
                if side[s] != NONE && side[s] != tag {
                    return Err(Error::format(
                        &path,
                        format!("{line} is in more than one split list"),
                    ));
                }
                if side[s] == NONE {
                    found[k] += 1;
                }
                side[s] = tag;
            }
        }
    }
    let unlisted = ds
        .songs
        .iter()
        .zip(&side)
        .filter(|(_, &t)| t == NONE)
        .map(|(info, _)| info.name.clone())
        .collect();
    let split = Split {
        name: "artist-filtered".into(),
        train: segments_where(ds, &side, TRAIN),
        val: segments_where(ds, &side, VAL),
        test: segments_where(ds, &side, TEST),
    };
    Ok((
        split,
        FilteredReport {
            listed,
            found,
            unlisted,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::dataset::tests::toy;

    fn assert_partition(ds: &Dataset, split: &Split, expect_all: bool) {
        let mut all: Vec<usize> = split
            .train
            .iter()
            .chain(&split.val)
            .chain(&split.test)
            .copied()
            .collect();
        let n = all.len();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), n, "a segment on two sides");
        if expect_all {
            assert_eq!(n, ds.len());
        }
    }

    #[test]
    fn segment_split_is_seeded_and_shares_songs() {
        let ds = toy(4, 5, 15);
        let a = segment_split(&ds, 0.2, 1).unwrap();
        assert_eq!(a, segment_split(&ds, 0.2, 1).unwrap());
        assert_ne!(a.val, segment_split(&ds, 0.2, 2).unwrap().val);
        assert_eq!(a.val.len(), 60);
        assert_eq!(a.train.len(), 240);
        assert_partition(&ds, &a, true);
        assert!(a.shared_songs(&ds) > 0);
        assert!(
            a.summary(&ds).contains("songs appear on both sides"),
            "{}",
            a.summary(&ds)
        );
    }

    #[test]
    fn song_split_has_no_leak_and_is_stratified() {
        let ds = toy(4, 10, 3);
        let s = song_split(&ds, 0.2, 0.1, 3).unwrap();
        assert_partition(&ds, &s, true);
        assert_eq!(s.shared_songs(&ds), 0);
        assert_eq!(ds.class_counts(&s.val), vec![6; 4]); // 2 songs × 3 segments per genre
        assert_eq!(ds.class_counts(&s.test), vec![3; 4]);
        assert!(s.summary(&ds).contains("no song on two sides"));
        assert_ne!(s.val, song_split(&ds, 0.2, 0.1, 4).unwrap().val);
        assert!(song_split(&ds, 0.6, 0.5, 0).is_err());
    }

    #[test]
    fn kfold_validates_every_song_once() {
        let ds = toy(3, 7, 2);
        let k = 5;
        let mut times_validated = vec![0; ds.songs.len()];
        for fold in 0..k {
            let s = kfold_song_split(&ds, k, fold, 9).unwrap();
            assert_partition(&ds, &s, true);
            assert_eq!(s.shared_songs(&ds), 0);
            let songs_in_val: std::collections::BTreeSet<usize> =
                s.val.iter().map(|&i| ds.song[i]).collect();
            assert!((4..=5).contains(&songs_in_val.len()), "21 songs in 5 folds");
            for song in songs_in_val {
                times_validated[song] += 1;
            }
        }
        assert!(times_validated.iter().all(|&t| t == 1));
        assert!(kfold_song_split(&ds, 1, 0, 0).is_err());
        assert!(kfold_song_split(&ds, 3, 3, 0).is_err());
    }

    #[test]
    fn filtered_split_matches_by_name_and_reports_missing() {
        let ds = toy(2, 3, 2); // songs g0/g0.0000{0,1,2}.wav, g1/g1.0000{0,1,2}.wav
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("train_filtered.txt"),
            "g0/g0.00000.wav\ng1/g1.00000.wav\ng9/g9.00001.wav\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("valid_filtered.txt"), "g0/g0.00001.wav\n").unwrap();
        std::fs::write(dir.path().join("test_filtered.txt"), "g1/g1.00002.wav\n\n").unwrap();
        let (split, report) = filtered_split(&ds, dir.path()).unwrap();
        assert_eq!(report.listed, [3, 1, 1]);
        assert_eq!(report.found, [2, 1, 1]);
        assert_eq!(report.unlisted, vec!["g0/g0.00002.wav", "g1/g1.00001.wav"]);
        assert!(report.to_string().contains("1 listed songs missing"));
        assert_eq!(split.train, vec![0, 1, 6, 7]);
        assert_eq!(split.val, vec![2, 3]);
        assert_eq!(split.test, vec![10, 11]);
        assert_eq!(split.shared_songs(&ds), 0);
        std::fs::write(dir.path().join("test_filtered.txt"), "g0/g0.00000.wav\n").unwrap();
        assert!(
            filtered_split(&ds, dir.path()).is_err(),
            "a song in two lists"
        );
    }

    #[test]
    fn filtered_split_on_shared_lists() {
        let lists = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/splits");
        let reference = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../shared/data/reference/librosa_logmel.npz");
        if !lists.exists() || !reference.exists() {
            eprintln!("skipped: ../shared/data absent");
            return;
        }
        let ds = Dataset::read_npz(&reference).unwrap();
        let (split, report) = filtered_split(&ds, &lists).unwrap();
        assert_eq!(report.listed, [443, 197, 290]);
        assert_eq!(report.found, [40, 49, 4]);
        assert_eq!(report.unlisted.len(), 7);
        assert_eq!(split.shared_songs(&ds), 0);
        assert_eq!(
            split.train.len() + split.val.len() + split.test.len(),
            93 * 15
        );
        let table = split.class_balance(&ds);
        assert!(
            table.lines().count() == 12 && table.contains("blues"),
            "{table}"
        );
    }

    #[test]
    fn class_balance_table_counts() {
        let ds = toy(2, 2, 2);
        let split = Split {
            name: "t".into(),
            train: vec![0, 1, 4],
            val: vec![2],
            test: vec![],
        };
        let table = split.class_balance(&ds);
        assert_eq!(table, "genre   train     val\ng0          2       1\ng1          1       0\ntotal       3       1\n");
    }
}
