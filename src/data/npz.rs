//! NPZ exchange: read and write datasets as numpy `.npz` archives.
//!
//! Layout (the Keras/numpy convention): `X` float32 `(N, frames, n_mels, 1)`, `y` integer
//! `(N,)`, optionally `track` (unicode, one song name per segment), `song` (integer song id
//! per segment) and `genres` (unicode class names in label order). `np.load` reads ours;
//! we read numpy's (`np.savez`, stored or deflated). Every array is checked (dtype, rank,
//! sizes, label range) and its declared size is checked against the archive entry before
//! anything is allocated, so a corrupt file gives an `Error`, never a panic or a huge
//! allocation.

use super::{Dataset, SongInfo};
use crate::{Error, Result};
use npyz::{DType, NpyFile, TypeChar, TypeStr, WriterBuilder};
use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, BufWriter, Cursor, Read, Seek};
use std::path::{Path, PathBuf};

/// Which arrays of an npz hold what. `Default` = `X`, `y`, `track`, `song`, `genres`.
#[derive(Clone, Debug)]
pub struct NpzKeys {
    pub x: String,
    pub y: String,
    pub track: String,
    pub song: String,
    pub genres: String,
}

impl Default for NpzKeys {
    fn default() -> Self {
        NpzKeys {
            x: "X".into(),
            y: "y".into(),
            track: "track".into(),
            song: "song".into(),
            genres: "genres".into(),
        }
    }
}

impl NpzKeys {
    /// The excerpts of the shared reference file: `clips_X`, `clips_y`, `clips_file`.
    pub fn clips() -> Self {
        NpzKeys {
            x: "clips_X".into(),
            y: "clips_y".into(),
            track: "clips_file".into(),
            ..NpzKeys::default()
        }
    }
}

/// A numeric array read from an npz: values in C order and the shape.
pub struct Array<T> {
    pub data: Vec<T>,
    pub shape: Vec<usize>,
}

/// An array entry ready to read: the npy reader, its dtype and its shape.
/// An array entry opened for streaming: its npy reader (past the header), dtype and shape.
type OpenedArray<'z, R> = (
    NpyFile<BufReader<zip::read::ZipFile<'z, R>>>,
    TypeStr,
    Vec<usize>,
);

/// Deflate cannot expand data more than about 1032:1, so an entry declaring more is corrupt.
const MAX_DEFLATE_RATIO: u64 = 1032;

/// Reads the arrays of one `.npz` archive.
pub struct NpzReader<R: Read + Seek = BufReader<File>> {
    /// Names the source in errors (`<memory>` for bytes).
    path: PathBuf,
    zip: zip::ZipArchive<R>,
    /// Bytes in the whole archive: no entry can hold more compressed data.
    archive_len: u64,
}

impl NpzReader {
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let file = File::open(&path).map_err(|e| Error::io(&path, e))?;
        Self::new(BufReader::new(file), path)
    }
}

impl<'a> NpzReader<Cursor<&'a [u8]>> {
    /// Reads an archive held in memory (errors name it `<memory>`).
    pub fn from_bytes(bytes: &'a [u8]) -> Result<Self> {
        Self::new(Cursor::new(bytes), PathBuf::from("<memory>"))
    }
}

impl<R: Read + Seek> NpzReader<R> {
    /// Reads an archive from any seekable reader; `name` labels errors.
    pub fn new(mut reader: R, name: PathBuf) -> Result<Self> {
        let archive_len = reader
            .seek(std::io::SeekFrom::End(0))
            .map_err(|e| Error::io(&name, e))?;
        let zip = zip::ZipArchive::new(reader)
            .map_err(|e| Error::format(&name, format!("not a readable npz (zip) archive: {e}")))?;
        Ok(NpzReader {
            path: name,
            zip,
            archive_len,
        })
    }

    /// Array names in the archive (`X`, `y`, …).
    pub fn names(&self) -> Vec<String> {
        self.zip
            .file_names()
            .filter_map(|name| {
                let name = name.ok()?;
                npyz::npz::array_name_from_file_name(&name).map(str::to_string)
            })
            .collect()
    }

    pub fn contains(&self, name: &str) -> bool {
        self.names().iter().any(|n| n == name)
    }

    fn err(&self, detail: impl Into<String>) -> Error {
        Error::format(&self.path, detail)
    }

    /// Opens array `name` for streaming and checks its header against the entry's size.
    ///
    /// The values are then read straight from the (decompressing) entry into their final
    /// vector, so a 300 MB `X` occupies 300 MB, not a copy of its bytes as well. Sizes
    /// declared in the zip and npy headers bound that allocation, so both are checked
    /// first: the entry's compressed size against the archive, its size against what
    /// deflate can expand to, the array's declared bytes against the entry.
    fn open_array(&mut self, name: &str) -> Result<OpenedArray<'_, R>> {
        let path = self.path.clone();
        let err = |d: String| Error::format(&path, d);
        let archive_len = self.archive_len;
        let entry = match self
            .zip
            .by_name(&npyz::npz::file_name_from_array_name(name))
        {
            Ok(entry) => entry,
            Err(zip::result::ZipError::FileNotFound) => {
                return Err(err(format!("no array '{name}' in the archive")))
            }
            Err(e) => return Err(err(format!("array '{name}': {e}"))),
        };
        let (entry_size, packed) = (entry.size(), entry.compressed_size());
        if packed > archive_len || entry_size > packed.saturating_mul(MAX_DEFLATE_RATIO).max(packed)
        {
            return Err(err(format!(
                "array '{name}': the zip entry declares {entry_size} bytes from {packed} compressed \
                 in a {archive_len}-byte archive (corrupt or truncated?)"
            )));
        }
        let npy = NpyFile::new(BufReader::with_capacity(1 << 20, entry))
            .map_err(|e| err(format!("array '{name}': bad npy header: {e}")))?;
        let DType::Plain(type_str) = npy.dtype() else {
            return Err(err(format!(
                "array '{name}': structured dtypes are not supported"
            )));
        };
        let shape: Vec<usize> = npy
            .shape()
            .iter()
            .map(|&d| {
                usize::try_from(d)
                    .map_err(|_| err(format!("array '{name}': dimension {d} too large")))
            })
            .collect::<Result<_>>()?;
        if shape.len() > 1 && npy.order() == npyz::Order::Fortran {
            return Err(err(format!("array '{name}': Fortran-order arrays are not supported (save with np.ascontiguousarray)")));
        }
        let item = type_str.num_bytes().unwrap_or(0).max(1) as u64;
        let declared = shape
            .iter()
            .try_fold(item, |acc, &d| acc.checked_mul(d as u64))
            .ok_or_else(|| err(format!("array '{name}': shape {shape:?} overflows")))?;
        if declared > entry_size {
            return Err(err(format!(
                "array '{name}': header declares {declared} bytes of {type_str} {shape:?} but the entry holds {entry_size} (truncated?)"
            )));
        }
        Ok((npy, type_str, shape))
    }

    /// A floating-point array as f32 (`<f4` read as is, `<f8` narrowed).
    pub fn f32_array(&mut self, name: &str) -> Result<Array<f32>> {
        let path = self.path.clone();
        let err = |d: String| Error::format(&path, d);
        let (npy, ts, shape) = self.open_array(name)?;
        let data = match (ts.type_char(), ts.size_field()) {
            (TypeChar::Float, 4) => {
                // Exactly the declared length (checked against the entry), so the vector
                // never regrows: a regrowth would briefly hold the array one and a half
                // times over.
                let n: usize = shape.iter().product();
                let mut out = Vec::with_capacity(n);
                npy.data::<f32>()
                    .map_err(std::io::Error::other)
                    .and_then(|values| {
                        for v in values {
                            out.push(v?);
                        }
                        Ok(out)
                    })
            }
            (TypeChar::Float, 8) => npy
                .into_vec::<f64>()
                .map(|v| v.into_iter().map(|x| x as f32).collect()),
            _ => {
                return Err(err(format!(
                    "array '{name}': dtype {ts} is not float32/float64"
                )))
            }
        }
        .map_err(|e| err(format!("array '{name}': {e}")))?;
        Ok(Array { data, shape })
    }

    /// An integer array (any of i1…i8, u1…u8) as i64.
    pub fn int_array(&mut self, name: &str) -> Result<Array<i64>> {
        let path = self.path.clone();
        let err = |d: String| Error::format(&path, d);
        let (npy, ts, shape) = self.open_array(name)?;
        fn widen<T: Into<i128>>(v: std::io::Result<Vec<T>>) -> std::io::Result<Vec<i128>> {
            v.map(|v| v.into_iter().map(Into::into).collect())
        }
        let wide = match (ts.type_char(), ts.size_field()) {
            (TypeChar::Int, 1) => widen(npy.into_vec::<i8>()),
            (TypeChar::Int, 2) => widen(npy.into_vec::<i16>()),
            (TypeChar::Int, 4) => widen(npy.into_vec::<i32>()),
            (TypeChar::Int, 8) => widen(npy.into_vec::<i64>()),
            (TypeChar::Uint, 1) => widen(npy.into_vec::<u8>()),
            (TypeChar::Uint, 2) => widen(npy.into_vec::<u16>()),
            (TypeChar::Uint, 4) => widen(npy.into_vec::<u32>()),
            (TypeChar::Uint, 8) => widen(npy.into_vec::<u64>()),
            _ => {
                return Err(err(format!(
                    "array '{name}': dtype {ts} is not an integer type"
                )))
            }
        }
        .map_err(|e| err(format!("array '{name}': {e}")))?;
        let data = wide
            .into_iter()
            .map(|v| {
                i64::try_from(v).map_err(|_| err(format!("array '{name}': value {v} exceeds i64")))
            })
            .collect::<Result<_>>()?;
        Ok(Array { data, shape })
    }

    /// A 1-d array of strings (`<U…` unicode or `|S…` bytes).
    pub fn strings(&mut self, name: &str) -> Result<Vec<String>> {
        let path = self.path.clone();
        let err = |d: String| Error::format(&path, d);
        let (npy, ts, shape) = self.open_array(name)?;
        if shape.len() != 1 {
            return Err(err(format!(
                "array '{name}': strings must be 1-d, shape is {shape:?}"
            )));
        }
        match ts.type_char() {
            TypeChar::UnicodeStr => npy.into_vec::<String>(),
            TypeChar::ByteStr => npy.into_vec::<Vec<u8>>().map(|v| {
                v.into_iter()
                    .map(|b| String::from_utf8_lossy(&b).into_owned())
                    .collect()
            }),
            _ => {
                return Err(err(format!(
                    "array '{name}': dtype {ts} is not a string type"
                )))
            }
        }
        .map_err(|e| err(format!("array '{name}': {e}")))
    }
}

/// Writes an `.npz` atomically: arrays go to a temporary file beside the target, which is
/// renamed over it by [`NpzWriter::finish`] (dropping the writer unfinished leaves no file).
pub struct NpzWriter {
    path: PathBuf,
    tmp: PathBuf,
    zip: Option<zip::ZipWriter<BufWriter<File>>>,
}

impl NpzWriter {
    pub fn create(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let unique = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut tmp_name = path.file_name().unwrap_or_default().to_os_string();
        tmp_name.push(format!(".tmp-{}-{unique}", std::process::id()));
        let tmp = path.with_file_name(tmp_name);
        let file = File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
        Ok(NpzWriter {
            path,
            tmp,
            zip: Some(zip::ZipWriter::new(BufWriter::new(file))),
        })
    }

    fn write<T: npyz::Serialize + ?Sized>(
        &mut self,
        name: &str,
        dtype: DType,
        shape: &[usize],
        items: &mut dyn Iterator<Item = &T>,
    ) -> Result<()> {
        let tmp = self.tmp.clone();
        let io_err = |e: std::io::Error| Error::io(&tmp, e);
        let zip = self.zip.as_mut().expect("NpzWriter used after finish");
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored)
            .large_file(true);
        zip.start_file(npyz::npz::file_name_from_array_name(name), options)
            .map_err(|e| io_err(e.into()))?;
        let shape: Vec<u64> = shape.iter().map(|&d| d as u64).collect();
        let mut writer = npyz::WriteOptions::<T>::new()
            .dtype(dtype)
            .shape(&shape)
            .writer(zip)
            .begin_nd()
            .map_err(io_err)?;
        for item in items {
            writer.push(item).map_err(io_err)?;
        }
        writer.finish().map_err(io_err)
    }

    pub fn f32_array(&mut self, name: &str, shape: &[usize], data: &[f32]) -> Result<()> {
        check_len(name, shape, data.len())?;
        self.write::<f32>(
            name,
            DType::Plain("<f4".parse().expect("valid dtype")),
            shape,
            &mut data.iter(),
        )
    }

    pub fn i64_array(&mut self, name: &str, shape: &[usize], data: &[i64]) -> Result<()> {
        check_len(name, shape, data.len())?;
        self.write::<i64>(
            name,
            DType::Plain("<i8".parse().expect("valid dtype")),
            shape,
            &mut data.iter(),
        )
    }

    /// A 1-d unicode array (numpy `<U{longest}`).
    pub fn strings(&mut self, name: &str, data: &[String]) -> Result<()> {
        let longest = data
            .iter()
            .map(|s| s.chars().count())
            .max()
            .unwrap_or(0)
            .max(1);
        let dtype = DType::Plain(format!("<U{longest}").parse().expect("valid dtype"));
        self.write::<str>(
            name,
            dtype,
            &[data.len()],
            &mut data.iter().map(String::as_str),
        )
    }

    /// Completes the archive and renames it into place.
    pub fn finish(mut self) -> Result<()> {
        let zip = self.zip.take().expect("finish called once");
        let tmp = self.tmp.clone();
        let writer = zip.finish().map_err(|e| Error::io(&tmp, e.into()))?;
        let file = writer
            .into_inner()
            .map_err(|e| Error::io(&tmp, e.into_error()))?;
        file.sync_all().map_err(|e| Error::io(&tmp, e))?;
        std::fs::rename(&tmp, &self.path).map_err(|e| Error::io(&self.path, e))
    }
}

impl Drop for NpzWriter {
    fn drop(&mut self) {
        if self.zip.is_some() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

fn check_len(name: &str, shape: &[usize], len: usize) -> Result<()> {
    if shape.iter().product::<usize>() != len {
        return Err(Error::shape(
            "npz write",
            format!("array '{name}': {len} values for shape {shape:?}"),
        ));
    }
    Ok(())
}

impl Dataset {
    /// Reads `X`, `y` and, when present, `song`, `track` and `genres` (see [`NpzKeys`]).
    ///
    /// Songs come from `song` ids, else from grouping equal `track` names, else each
    /// segment is its own song (then song-level splits equal segment-level ones). Without
    /// `genres`, classes are named `class0`, `class1`, …
    pub fn read_npz(path: impl AsRef<Path>) -> Result<Dataset> {
        Self::read_npz_with(path, &NpzKeys::default())
    }

    pub fn read_npz_with(path: impl AsRef<Path>, keys: &NpzKeys) -> Result<Dataset> {
        Self::from_npz_reader(NpzReader::open(path)?, keys)
    }

    /// Reads an npz held in memory (see [`Dataset::read_npz`]).
    pub fn read_npz_bytes(bytes: &[u8], keys: &NpzKeys) -> Result<Dataset> {
        Self::from_npz_reader(NpzReader::from_bytes(bytes)?, keys)
    }

    fn from_npz_reader<R: Read + Seek>(mut npz: NpzReader<R>, keys: &NpzKeys) -> Result<Dataset> {
        let path = npz.path.clone();
        let path = path.as_path();
        let err = |d: String| Error::format(path, d);
        let x = npz.f32_array(&keys.x)?;
        let (n, frames, n_mels) = match x.shape[..] {
            [n, f, m, 1] | [n, f, m] => (n, f, m),
            _ => {
                return Err(err(format!(
                    "'{}' must be (N, frames, n_mels, 1), got {:?}",
                    keys.x, x.shape
                )))
            }
        };
        if frames == 0 || n_mels == 0 {
            return Err(err(format!(
                "'{}' has an empty segment shape {:?}",
                keys.x, x.shape
            )));
        }
        let y = labels(&mut npz, &keys.y, n, "labels")?;
        let genres = if npz.contains(&keys.genres) {
            npz.strings(&keys.genres)?
        } else {
            let classes = y.iter().max().map_or(0, |m| m + 1);
            (0..classes).map(|c| format!("class{c}")).collect()
        };
        if let Some(bad) = y.iter().find(|&&label| label >= genres.len()) {
            return Err(err(format!(
                "label {bad} out of range for {} genres {genres:?}",
                genres.len()
            )));
        }
        let tracks = if npz.contains(&keys.track) {
            let t = npz.strings(&keys.track)?;
            if t.len() != n {
                return Err(err(format!(
                    "'{}' has {} names for {n} segments",
                    keys.track,
                    t.len()
                )));
            }
            Some(t)
        } else {
            None
        };
        let song_ids = if npz.contains(&keys.song) {
            Some(labels(&mut npz, &keys.song, n, "song ids")?)
        } else {
            None
        };
        let (song, songs) = songs_from(&y, song_ids, tracks).map_err(err)?;
        Dataset::new(x.data, y, song, songs, genres, frames, n_mels)
            .map_err(|e| Error::format(path, e.to_string()))
    }

    /// Writes `X` `(N, frames, n_mels, 1)` f32, `y` i64, `song` i64, `track` (song name
    /// per segment) and `genres`, atomically.
    pub fn write_npz(&self, path: impl AsRef<Path>) -> Result<()> {
        let mut w = NpzWriter::create(path)?;
        self.write_arrays(&mut w)?;
        w.finish()
    }

    /// Writes this dataset's arrays into an open archive (used by the feature cache too).
    pub(crate) fn write_arrays(&self, w: &mut NpzWriter) -> Result<()> {
        w.f32_array("X", &[self.len(), self.frames, self.n_mels, 1], &self.x)?;
        let as_i64 = |v: &[usize]| v.iter().map(|&i| i as i64).collect::<Vec<_>>();
        w.i64_array("y", &[self.len()], &as_i64(&self.y))?;
        w.i64_array("song", &[self.len()], &as_i64(&self.song))?;
        let tracks: Vec<String> = self
            .song
            .iter()
            .map(|&s| self.songs[s].name.clone())
            .collect();
        w.strings("track", &tracks)?;
        w.strings("genres", &self.genres)
    }
}

/// A 1-d non-negative integer array of length `n`.
fn labels<R: Read + Seek>(
    npz: &mut NpzReader<R>,
    name: &str,
    n: usize,
    what: &str,
) -> Result<Vec<usize>> {
    let arr = npz.int_array(name)?;
    if arr.shape.len() != 1 || arr.shape[0] != n {
        return Err(npz.err(format!(
            "{what} '{name}' must have shape ({n},) to match X, got {:?}",
            arr.shape
        )));
    }
    arr.data
        .iter()
        .map(|&v| {
            usize::try_from(v).map_err(|_| npz.err(format!("{what} '{name}': negative value {v}")))
        })
        .collect()
}

/// Song index per segment and the song table, from ids and/or names.
fn songs_from(
    y: &[usize],
    ids: Option<Vec<usize>>,
    tracks: Option<Vec<String>>,
) -> std::result::Result<(Vec<usize>, Vec<SongInfo>), String> {
    let n = y.len();
    // Key each segment by its song id, else its track name, else its own index.
    let keys: Vec<String> = match (&ids, &tracks) {
        (Some(ids), _) => ids.iter().map(|i| i.to_string()).collect(),
        (None, Some(t)) => t.clone(),
        (None, None) => (0..n).map(|i| i.to_string()).collect(),
    };
    let mut index: HashMap<&str, usize> = HashMap::new();
    let mut song = Vec::with_capacity(n);
    let mut songs: Vec<SongInfo> = Vec::new();
    for (i, key) in keys.iter().enumerate() {
        let s = *index.entry(key).or_insert_with(|| {
            let name = match (&tracks, &ids) {
                (Some(t), _) => t[i].clone(),
                (None, Some(_)) => format!("song{key}"),
                (None, None) => format!("segment{key}"),
            };
            songs.push(SongInfo {
                name,
                path: None,
                genre: y[i],
            });
            songs.len() - 1
        });
        if songs[s].genre != y[i] {
            return Err(format!(
                "song '{}' has segments labelled {} and {}",
                songs[s].name, songs[s].genre, y[i]
            ));
        }
        song.push(s);
    }
    Ok((song, songs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::dataset::tests::toy;

    #[test]
    fn roundtrip_keeps_everything() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("toy.npz");
        let ds = toy(3, 2, 4);
        ds.write_npz(&path).unwrap();
        let back = Dataset::read_npz(&path).unwrap();
        assert_eq!(back.x, ds.x);
        assert_eq!(back.y, ds.y);
        assert_eq!(back.song, ds.song);
        assert_eq!(back.genres, ds.genres);
        assert_eq!(
            back.songs.iter().map(|s| &s.name).collect::<Vec<_>>(),
            ds.songs.iter().map(|s| &s.name).collect::<Vec<_>>()
        );
        assert_eq!(back.segment_shape(), [4, 3]);
        // No temporary file left behind.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(
            Dataset::read_npz_bytes(&bytes, &NpzKeys::default()).unwrap(),
            back
        );
    }

    /// Writes an npz with the given arrays through the low-level writer.
    fn write_custom(path: &Path, f: impl FnOnce(&mut NpzWriter) -> Result<()>) {
        let mut w = NpzWriter::create(path).unwrap();
        f(&mut w).unwrap();
        w.finish().unwrap();
    }

    #[test]
    fn minimal_npz_without_songs_or_genres_reads() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("min.npz");
        write_custom(&path, |w| {
            w.f32_array("X", &[3, 2, 2], &[0.0; 12])?;
            w.i64_array("y", &[3], &[0, 2, 1])
        });
        let ds = Dataset::read_npz(&path).unwrap();
        assert_eq!(ds.genres, vec!["class0", "class1", "class2"]);
        assert_eq!(ds.songs.len(), 3, "each segment its own song");
    }

    #[test]
    fn bad_npz_files_give_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let p = |n: &str| dir.path().join(n);
        let expect_err = |path: &Path, needle: &str| {
            let err = Dataset::read_npz(path).unwrap_err().to_string();
            assert!(err.contains(needle), "expected '{needle}' in: {err}");
        };
        // y length ≠ N
        write_custom(&p("len.npz"), |w| {
            w.f32_array("X", &[3, 2, 2, 1], &[0.0; 12])?;
            w.i64_array("y", &[2], &[0, 1])
        });
        expect_err(&p("len.npz"), "must have shape (3,)");
        // wrong dtype for X (integers)
        write_custom(&p("dtype.npz"), |w| {
            w.i64_array("X", &[1, 2, 2, 1], &[0; 4])?;
            w.i64_array("y", &[1], &[0])
        });
        expect_err(&p("dtype.npz"), "not float32");
        // wrong rank / channel count
        write_custom(&p("shape.npz"), |w| {
            w.f32_array("X", &[1, 2, 2, 3], &[0.0; 12])?;
            w.i64_array("y", &[1], &[0])
        });
        expect_err(&p("shape.npz"), "(N, frames, n_mels, 1)");
        // label out of range for the named genres
        write_custom(&p("range.npz"), |w| {
            w.f32_array("X", &[1, 2, 2, 1], &[0.0; 4])?;
            w.i64_array("y", &[1], &[5])?;
            w.strings("genres", &["a".into(), "b".into()])
        });
        expect_err(&p("range.npz"), "out of range");
        // negative label
        write_custom(&p("neg.npz"), |w| {
            w.f32_array("X", &[1, 2, 2, 1], &[0.0; 4])?;
            w.i64_array("y", &[1], &[-1])
        });
        expect_err(&p("neg.npz"), "negative");
        // missing array
        write_custom(&p("missing.npz"), |w| {
            w.f32_array("X", &[1, 2, 2, 1], &[0.0; 4])
        });
        expect_err(&p("missing.npz"), "no array 'y'");
        // truncated archive, and not a zip at all
        toy(2, 2, 2).write_npz(p("good.npz")).unwrap();
        let bytes = std::fs::read(p("good.npz")).unwrap();
        std::fs::write(p("trunc.npz"), &bytes[..bytes.len() / 2]).unwrap();
        assert!(Dataset::read_npz(p("trunc.npz")).is_err());
        std::fs::write(p("junk.npz"), b"not a zip").unwrap();
        expect_err(&p("junk.npz"), "not a readable npz");
    }

    #[test]
    fn header_larger_than_entry_is_rejected_before_allocating() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("huge.npz");
        // An npy entry whose header claims 10^12 floats but holds 16 bytes.
        let mut npy = Vec::new();
        let header =
            "{'descr': '<f4', 'fortran_order': False, 'shape': (1000000, 1000000, 1, 1), }";
        let pad = 64 - (10 + header.len() + 1) % 64;
        npy.extend_from_slice(b"\x93NUMPY\x01\x00");
        npy.extend_from_slice(&((header.len() + pad + 1) as u16).to_le_bytes());
        npy.extend_from_slice(header.as_bytes());
        npy.extend(std::iter::repeat_n(b' ', pad));
        npy.push(b'\n');
        npy.extend_from_slice(&[0u8; 16]);
        let mut zip = zip::ZipWriter::new(File::create(&path).unwrap());
        zip.start_file("X.npy", zip::write::SimpleFileOptions::default())
            .unwrap();
        std::io::Write::write_all(&mut zip, &npy).unwrap();
        zip.finish().unwrap();
        let err = Dataset::read_npz(&path).unwrap_err().to_string();
        assert!(err.contains("truncated"), "{err}");
    }

    #[test]
    fn int32_labels_are_accepted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("i32.npz");
        write_custom(&path, |w| {
            w.f32_array("X", &[2, 1, 1, 1], &[1.0, 2.0])?;
            w.write::<i32>(
                "y",
                DType::Plain("<i4".parse().unwrap()),
                &[2],
                &mut [1i32, 0].iter(),
            )
        });
        assert_eq!(Dataset::read_npz(&path).unwrap().y, vec![1, 0]);
    }

    #[test]
    fn reads_the_shared_librosa_reference() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../shared/data/reference/librosa_logmel.npz");
        if !path.exists() {
            eprintln!("skipped: {} not found (../shared absent)", path.display());
            return;
        }
        let ds = Dataset::read_npz(&path).unwrap();
        assert_eq!((ds.len(), ds.frames, ds.n_mels), (1500, 80, 80));
        assert_eq!(ds.songs.len(), 100);
        assert_eq!(ds.genres.len(), 10);
        assert_eq!(ds.genres[0], "blues");
        assert_eq!(ds.songs[0].name, "blues.00000.wav");
        assert!(ds.x.iter().all(|v| (-80.0..=0.0).contains(v)));
        let clips = Dataset::read_npz_with(&path, &NpzKeys::clips()).unwrap();
        assert_eq!((clips.len(), clips.songs.len()), (200, 200));
        assert_eq!(clips.songs[0].name, "blues/blues.00010.wav");
    }
}
