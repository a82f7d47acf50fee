//! The on-disk feature cache: one `.npz` per (feature settings, file list) in a cache
//! directory, so a second build of the same dataset loads at once.
//!
//! The key text lists a format version, every feature setting, the selected genres and,
//! for each file, its name, size and modification time; the file is
//! `features-<FNV-1a 64 of the key>.npz` and stores the key text too, so a hash collision
//! or a stale file is a miss, never wrong data. Files are written to a temporary name and
//! renamed into place, so an interrupted run never leaves a half-written cache entry.

use super::build::{FeatureConfig, SongFile};
use super::npz::{NpzReader, NpzWriter};
use super::Dataset;
use crate::{Error, Result};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Files that failed, with the reason.
pub(crate) type Skipped = Vec<(String, String)>;

/// Bump when extraction changes in a way the settings do not show.
const CACHE_VERSION: u32 = 1;

/// Where cached features live.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum CacheDir {
    /// `$MELGRAD_CACHE` if set, else `./cache`.
    #[default]
    Default,
    At(PathBuf),
    /// No caching.
    Off,
}

impl CacheDir {
    pub fn resolve(&self) -> Option<PathBuf> {
        match self {
            CacheDir::Default => Some(
                std::env::var_os("MELGRAD_CACHE")
                    .filter(|v| !v.is_empty())
                    .map_or_else(|| PathBuf::from("cache"), PathBuf::from),
            ),
            CacheDir::At(dir) => Some(dir.clone()),
            CacheDir::Off => None,
        }
    }
}

/// 64-bit FNV-1a: a stable hash (std's hasher may change between Rust releases).
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The cache file and key text for a build, or `None` when caching is off.
pub(crate) fn path_for(
    cache: &CacheDir,
    features: &FeatureConfig,
    genres: &[String],
    files: &[SongFile],
) -> Result<Option<(PathBuf, String)>> {
    let Some(dir) = cache.resolve() else {
        return Ok(None);
    };
    let mut key = format!("melgrad features v{CACHE_VERSION}\n{features:?}\ngenres {genres:?}\n");
    for file in files {
        let (size, mtime) = match std::fs::metadata(&file.path) {
            Ok(meta) => {
                let mtime = meta
                    .modified()
                    .ok()
                    .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                    .map_or(0, |d| d.as_nanos());
                (meta.len(), mtime)
            }
            Err(_) => (u64::MAX, 0),
        };
        let _ = writeln!(key, "{}\t{size}\t{mtime}", file.name);
    }
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    let path = dir.join(format!("features-{:016x}.npz", fnv1a64(key.as_bytes())));
    Ok(Some((path, key)))
}

/// The cached dataset and skipped-file list, or `None` on a miss. A corrupt or mismatched
/// entry is a miss (with a warning), to be overwritten.
pub(crate) fn load(path: &Path, key: &str) -> Option<(Dataset, Skipped)> {
    if !path.exists() {
        return None;
    }
    let attempt = || -> Result<Option<(Dataset, Skipped)>> {
        let mut npz = NpzReader::open(path)?;
        if npz.strings("key")?.first().map(String::as_str) != Some(key) {
            return Ok(None);
        }
        let skipped = npz
            .strings("skipped")?
            .into_iter()
            .map(|s| match s.split_once('\t') {
                Some((name, reason)) => (name.to_string(), reason.to_string()),
                None => (s, String::new()),
            })
            .collect();
        Ok(Some((Dataset::read_npz(path)?, skipped)))
    };
    match attempt() {
        Ok(hit) => hit,
        Err(e) => {
            eprintln!(
                "warning: ignoring unreadable feature cache {}: {e}",
                path.display()
            );
            None
        }
    }
}

/// Writes a cache entry atomically.
pub(crate) fn store(
    path: &Path,
    key: &str,
    ds: &Dataset,
    skipped: &[(String, String)],
) -> Result<()> {
    let mut w = NpzWriter::create(path)?;
    ds.write_arrays(&mut w)?;
    w.strings("key", &[key.to_string()])?;
    let skipped: Vec<String> = skipped.iter().map(|(n, r)| format!("{n}\t{r}")).collect();
    w.strings("skipped", &skipped)?;
    w.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv_matches_reference_values() {
        assert_eq!(fnv1a64(b""), 0xcbf29ce484222325);
        assert_eq!(fnv1a64(b"a"), 0xaf63dc4c8601ec8c);
    }

    #[test]
    fn cache_dir_resolution() {
        assert_eq!(CacheDir::Off.resolve(), None);
        assert_eq!(CacheDir::At("x".into()).resolve(), Some(PathBuf::from("x")));
    }
}
