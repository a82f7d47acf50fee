//! `Dataset`: labelled log-mel segments with the song each came from.

use crate::{Error, Result};
use std::path::PathBuf;

/// One song (track) of a dataset.
#[derive(Clone, Debug, PartialEq)]
pub struct SongInfo {
    /// Name relative to the dataset root, e.g. `blues/blues.00000.wav` (a bare file name
    /// when read from an npz that stores only that).
    pub name: String,
    /// Where the audio was read from, when it came from a file.
    pub path: Option<PathBuf>,
    /// Index into [`Dataset::genres`].
    pub genre: usize,
}

impl SongInfo {
    /// The file name without folders (`blues.00000.wav`): how split lists and npz files
    /// written by other tools are matched to songs.
    pub fn file_name(&self) -> &str {
        self.name.rsplit(['/', '\\']).next().unwrap_or(&self.name)
    }
}

/// Segments (`x`, time-major, `frames × n_mels` each), their labels and their songs.
#[derive(Clone, Debug, PartialEq)]
pub struct Dataset {
    /// `len() × frames × n_mels` values: Keras `(N, frames, n_mels, 1)` = NCHW `(N, 1, frames, n_mels)`.
    pub x: Vec<f32>,
    /// Genre index of each segment.
    pub y: Vec<usize>,
    /// Song index (into `songs`) of each segment.
    pub song: Vec<usize>,
    pub songs: Vec<SongInfo>,
    /// Class names in label order.
    pub genres: Vec<String>,
    /// Time frames per segment.
    pub frames: usize,
    /// Mel bands per segment.
    pub n_mels: usize,
}

impl Dataset {
    /// Builds a dataset after checking that every part agrees with the others.
    pub fn new(
        x: Vec<f32>,
        y: Vec<usize>,
        song: Vec<usize>,
        songs: Vec<SongInfo>,
        genres: Vec<String>,
        frames: usize,
        n_mels: usize,
    ) -> Result<Self> {
        let ds = Dataset {
            x,
            y,
            song,
            songs,
            genres,
            frames,
            n_mels,
        };
        ds.validate()?;
        Ok(ds)
    }

    /// Checks sizes, label ranges and that each segment's label is its song's genre.
    pub fn validate(&self) -> Result<()> {
        let n = self.y.len();
        if self.frames == 0 || self.n_mels == 0 {
            return Err(Error::invalid(
                "dataset segments must have positive frames and n_mels",
            ));
        }
        if self.x.len() != n * self.segment_len() {
            return Err(Error::shape(
                "Dataset",
                format!(
                    "{} values are not {n} segments of {} × {}",
                    self.x.len(),
                    self.frames,
                    self.n_mels
                ),
            ));
        }
        if self.song.len() != n {
            return Err(Error::shape(
                "Dataset",
                format!("{} song ids for {n} segments", self.song.len()),
            ));
        }
        for (i, (&label, &song)) in self.y.iter().zip(&self.song).enumerate() {
            if label >= self.genres.len() {
                return Err(Error::invalid(format!(
                    "segment {i}: label {label} out of range for {} genres",
                    self.genres.len()
                )));
            }
            let Some(info) = self.songs.get(song) else {
                return Err(Error::invalid(format!(
                    "segment {i}: song {song} out of range for {} songs",
                    self.songs.len()
                )));
            };
            if info.genre != label {
                return Err(Error::invalid(format!(
                    "segment {i}: label {label} differs from its song {}'s genre {}",
                    info.name, info.genre
                )));
            }
        }
        Ok(())
    }

    /// Number of segments.
    pub fn len(&self) -> usize {
        self.y.len()
    }
    pub fn is_empty(&self) -> bool {
        self.y.is_empty()
    }
    /// `[frames, n_mels]` of one segment.
    pub fn segment_shape(&self) -> [usize; 2] {
        [self.frames, self.n_mels]
    }
    /// Values in one segment.
    pub fn segment_len(&self) -> usize {
        self.frames * self.n_mels
    }
    /// Segment `i`, time-major. Panics if `i >= len()`, like slice indexing.
    pub fn segment(&self, i: usize) -> &[f32] {
        let len = self.segment_len();
        &self.x[i * len..(i + 1) * len]
    }
    pub fn n_classes(&self) -> usize {
        self.genres.len()
    }

    /// Segment indices grouped by song (`result[s]` lists song `s`'s segments in order).
    pub fn segments_by_song(&self) -> Vec<Vec<usize>> {
        let mut by_song = vec![Vec::new(); self.songs.len()];
        for (i, &s) in self.song.iter().enumerate() {
            by_song[s].push(i);
        }
        by_song
    }

    /// Segments per class among `indices`.
    pub fn class_counts(&self, indices: &[usize]) -> Vec<usize> {
        let mut counts = vec![0; self.genres.len()];
        for &i in indices {
            counts[self.y[i]] += 1;
        }
        counts
    }

    /// Keep only the segments of the `chosen` genres (names), relabelled in `chosen` order.
    /// Used for data that was extracted with more genres than a run wants (e.g. an npz).
    pub fn select_genres(&self, chosen: &[String]) -> Result<Dataset> {
        let mut new_label = vec![usize::MAX; self.genres.len()];
        for (new, name) in chosen.iter().enumerate() {
            let Some(old) = self.genres.iter().position(|g| g == name) else {
                return Err(Error::invalid(format!(
                    "unknown genre '{name}'; known genres: {}",
                    self.genres.join(", ")
                )));
            };
            new_label[old] = new;
        }
        let keep: Vec<usize> = (0..self.len())
            .filter(|&i| new_label[self.y[i]] != usize::MAX)
            .collect();
        let mut ds = self.subset(&keep)?;
        ds.y.iter_mut().for_each(|y| *y = new_label[*y]);
        ds.songs
            .iter_mut()
            .for_each(|s| s.genre = new_label[s.genre]);
        ds.genres = chosen.to_vec();
        ds.validate()?;
        Ok(ds)
    }

    /// A new dataset with the segments at `indices` (in that order), keeping only their songs.
    pub fn subset(&self, indices: &[usize]) -> Result<Dataset> {
        let mut new_song_id = vec![usize::MAX; self.songs.len()];
        let mut songs = Vec::new();
        let mut x = Vec::with_capacity(indices.len() * self.segment_len());
        let (mut y, mut song) = (Vec::new(), Vec::new());
        for &i in indices {
            if i >= self.len() {
                return Err(Error::invalid(format!(
                    "subset: index {i} out of range for {} segments",
                    self.len()
                )));
            }
            let s = self.song[i];
            if new_song_id[s] == usize::MAX {
                new_song_id[s] = songs.len();
                songs.push(self.songs[s].clone());
            }
            x.extend_from_slice(self.segment(i));
            y.push(self.y[i]);
            song.push(new_song_id[s]);
        }
        Dataset::new(
            x,
            y,
            song,
            songs,
            self.genres.clone(),
            self.frames,
            self.n_mels,
        )
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A small dataset: `songs_per_genre` songs per genre, `segs` segments per song of
    /// 4 × 3, every value = the segment's index.
    pub(crate) fn toy(n_genres: usize, songs_per_genre: usize, segs: usize) -> Dataset {
        let genres = (0..n_genres).map(|g| format!("g{g}")).collect();
        let mut songs = Vec::new();
        let (mut x, mut y, mut song) = (Vec::new(), Vec::new(), Vec::new());
        for g in 0..n_genres {
            for k in 0..songs_per_genre {
                let s = songs.len();
                songs.push(SongInfo {
                    name: format!("g{g}/g{g}.{k:05}.wav"),
                    path: None,
                    genre: g,
                });
                for _ in 0..segs {
                    x.extend(std::iter::repeat_n(y.len() as f32, 12));
                    y.push(g);
                    song.push(s);
                }
            }
        }
        Dataset::new(x, y, song, songs, genres, 4, 3).unwrap()
    }

    #[test]
    fn validate_catches_inconsistencies() {
        let ds = toy(2, 2, 3);
        assert_eq!(ds.len(), 12);
        assert_eq!(ds.segment(5)[0], 5.0);
        let mut bad = ds.clone();
        bad.y[0] = 1; // label differs from its song's genre
        assert!(bad.validate().is_err());
        let mut bad = ds.clone();
        bad.x.pop();
        assert!(bad.validate().is_err());
        let mut bad = ds.clone();
        bad.song[0] = 99;
        assert!(bad.validate().is_err());
    }

    #[test]
    fn subset_keeps_only_used_songs() {
        let ds = toy(2, 2, 3);
        let sub = ds.subset(&[11, 0, 1]).unwrap();
        assert_eq!(sub.len(), 3);
        assert_eq!(sub.songs.len(), 2);
        assert_eq!(sub.segment(0)[0], 11.0);
        assert_eq!(sub.song, vec![0, 1, 1]);
        assert!(ds.subset(&[12]).is_err());
    }
}
