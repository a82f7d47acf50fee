//! Atomic file writes: a crash (or a full disk) at any moment leaves either the old file
//! or the new one, never a half-written mix.
//!
//! The bytes go to a temporary file in the destination's directory (same file system, so
//! the rename is atomic), are flushed to disk with `fsync`, and only then renamed over
//! the destination. The directory is synced afterwards so the rename itself survives a
//! power loss (best effort: not every platform can open a directory).

use crate::{Error, Result};
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

static NEXT_TEMP_ID: AtomicU64 = AtomicU64::new(0);

/// The temporary path used while writing `path`: hidden, in the same directory, unique
/// per process and call so concurrent writers never share one.
pub(crate) fn temp_path_for(path: &Path) -> Result<PathBuf> {
    let file_name = path
        .file_name()
        .ok_or_else(|| Error::invalid(format!("{} is not a file path", path.display())))?;
    let unique = NEXT_TEMP_ID.fetch_add(1, Ordering::Relaxed);
    let temp_name = format!(
        ".{}.tmp-{}-{unique}",
        file_name.to_string_lossy(),
        std::process::id()
    );
    Ok(path.with_file_name(temp_name))
}

/// Write `bytes` to `path` atomically (temp file, fsync, rename, directory fsync).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let temp = temp_path_for(path)?;
    let result = write_and_sync(&temp, bytes).and_then(|()| {
        fs::rename(&temp, path).map_err(|e| Error::io(path, e))?;
        sync_parent_dir(path);
        Ok(())
    });
    if result.is_err() {
        // Leave no stray temp file behind; the destination is untouched.
        let _ = fs::remove_file(&temp);
    }
    result
}

/// Create (or truncate) `path`, write `bytes`, and flush them to the disk.
pub(crate) fn write_and_sync(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut file = File::create(path).map_err(|e| Error::io(path, e))?;
    file.write_all(bytes).map_err(|e| Error::io(path, e))?;
    file.sync_all().map_err(|e| Error::io(path, e))
}

fn sync_parent_dir(path: &Path) {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_content_and_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.txt");
        write_atomic(&path, b"first").unwrap();
        write_atomic(&path, b"second").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"second");
        let names: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "stray files: {names:?}");
    }

    #[test]
    fn missing_directory_is_an_io_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("no/such/dir/a.txt");
        let err = write_atomic(&path, b"x").unwrap_err();
        assert!(matches!(err, Error::Io { .. }), "{err}");
    }

    #[test]
    fn temp_path_is_in_the_same_directory() {
        let p = Path::new("/some/dir/model.safetensors");
        let t = temp_path_for(p).unwrap();
        assert_eq!(t.parent(), p.parent());
        assert_ne!(t, p);
        assert!(temp_path_for(Path::new("/")).is_err());
    }
}
