//! Song-level accuracy: segment probabilities averaged per song, then argmax.

use super::{argmax, ConfusionMatrix};
use crate::{Error, Float, Result, Tensor};

/// Song-level predictions: the segment probabilities of each song averaged, then argmax.
#[derive(Clone, Debug, PartialEq)]
pub struct SongPredictions {
    /// Song ids in order of first appearance among the segments.
    pub song_ids: Vec<usize>,
    pub truth: Vec<usize>,
    pub predicted: Vec<usize>,
    /// `[songs × classes]` mean probabilities, row-major.
    pub mean_probs: Vec<f64>,
    pub n_classes: usize,
}

impl SongPredictions {
    pub fn accuracy(&self) -> f64 {
        let correct = self
            .truth
            .iter()
            .zip(&self.predicted)
            .filter(|(t, p)| t == p);
        correct.count() as f64 / self.truth.len() as f64
    }
    pub fn confusion(&self) -> Result<ConfusionMatrix> {
        ConfusionMatrix::from_predictions(&self.truth, &self.predicted, self.n_classes)
    }
}

/// Aggregate segment predictions into song predictions, as the KAIST GTZAN baseline does:
/// average the class probabilities of all segments of a song and take the argmax.
///
/// `probs` is `[segments, classes]`; `song_ids[s]` and `labels[s]` are the song and the
/// true class of segment `s`. Every segment of a song must carry the same label.
pub fn song_predictions<T: Float>(
    probs: &Tensor<T>,
    song_ids: &[usize],
    labels: &[usize],
) -> Result<SongPredictions> {
    let &[n_segments, n_classes] = probs.shape() else {
        return Err(Error::shape(
            "song_predictions",
            format!(
                "probabilities must be [segments, classes], got {:?}",
                probs.shape()
            ),
        ));
    };
    if song_ids.len() != n_segments || labels.len() != n_segments {
        return Err(Error::invalid(format!(
            "song_predictions: {n_segments} segments but {} song ids and {} labels",
            song_ids.len(),
            labels.len()
        )));
    }
    if n_segments == 0 || n_classes == 0 {
        return Err(Error::invalid(
            "song_predictions: no segments or no classes",
        ));
    }
    let mut index_of = std::collections::HashMap::new();
    let mut out = SongPredictions {
        song_ids: Vec::new(),
        truth: Vec::new(),
        predicted: Vec::new(),
        mean_probs: Vec::new(),
        n_classes,
    };
    let mut segment_counts: Vec<usize> = Vec::new();
    for (s, row) in probs.data().chunks(n_classes).enumerate() {
        let (song, label) = (song_ids[s], labels[s]);
        if label >= n_classes {
            return Err(Error::invalid(format!(
                "segment {s}: label {label} outside 0..{n_classes}"
            )));
        }
        let k = *index_of.entry(song).or_insert_with(|| {
            out.song_ids.push(song);
            out.truth.push(label);
            out.mean_probs.extend(std::iter::repeat_n(0.0, n_classes));
            segment_counts.push(0);
            out.song_ids.len() - 1
        });
        if out.truth[k] != label {
            return Err(Error::invalid(format!(
                "song {song} has segments labelled {} and {label}",
                out.truth[k]
            )));
        }
        segment_counts[k] += 1;
        for (acc, &p) in out.mean_probs[k * n_classes..][..n_classes]
            .iter_mut()
            .zip(row)
        {
            *acc += p.to_f64();
        }
    }
    for (k, &count) in segment_counts.iter().enumerate() {
        let mean = &mut out.mean_probs[k * n_classes..][..n_classes];
        mean.iter_mut().for_each(|v| *v /= count as f64);
        out.predicted.push(argmax(mean)?);
    }
    Ok(out)
}

/// Song-level accuracy (see [`song_predictions`]).
pub fn song_level_accuracy<T: Float>(
    probs: &Tensor<T>,
    song_ids: &[usize],
    labels: &[usize],
) -> Result<f64> {
    Ok(song_predictions(probs, song_ids, labels)?.accuracy())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::metrics::{accuracy, argmax_rows};

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn song_level_averages_segment_probabilities() {
        // Song 7 (label 0): segments say 1, 1, 0 by argmax, but the mean favours class 0:
        // mean = [(0.45 + 0.45 + 0.95) / 3, (0.55 + 0.55 + 0.05) / 3] = [0.6167, 0.3833].
        // Song 3 (label 1): one segment, predicts 0. Majority vote would get song 7 wrong.
        let probs = Tensor::new(
            vec![0.45f32, 0.55, 0.45, 0.55, 0.95, 0.05, 0.6, 0.4],
            &[4, 2],
        )
        .unwrap();
        let p = song_predictions(&probs, &[7, 7, 7, 3], &[0, 0, 0, 1]).unwrap();
        assert_eq!(p.song_ids, vec![7, 3]);
        assert_eq!(p.truth, vec![0, 1]);
        assert_eq!(p.predicted, vec![0, 0]);
        assert!((p.mean_probs[0] - 1.85 / 3.0).abs() < 1e-6);
        assert!(close(p.accuracy(), 0.5));
        assert_eq!(p.confusion().unwrap().get(1, 0), 1);
        assert!(close(
            song_level_accuracy(&probs, &[7, 7, 7, 3], &[0, 0, 0, 1]).unwrap(),
            0.5
        ));
        // Segment-level accuracy for comparison: only segment 2 is right.
        let seg = accuracy(&[0, 0, 0, 1], &argmax_rows(&probs).unwrap()).unwrap();
        assert!(close(seg, 0.25));
    }

    #[test]
    fn song_level_rejects_inconsistent_input() {
        let probs = Tensor::new(vec![0.5f32, 0.5, 0.2, 0.8], &[2, 2]).unwrap();
        assert!(song_predictions(&probs, &[1, 1], &[0, 1]).is_err()); // mixed labels
        assert!(song_predictions(&probs, &[1], &[0, 0]).is_err());
        assert!(song_predictions(&probs, &[1, 2], &[0, 2]).is_err()); // label out of range
    }
}
