//! Classification metrics: accuracy, confusion matrix, per-class precision / recall / F1,
//! song-level accuracy from segment probabilities, and multi-label ROC-AUC / PR-AUC.
//!
//! Conventions (the same as scikit-learn's, so numbers can be compared directly):
//! - argmax ties go to the lowest class index (as `numpy.argmax`);
//! - a precision or recall whose denominator is zero is **0** (scikit-learn's
//!   `zero_division=0`), and F1 is 0 when precision + recall = 0; macro averages are
//!   unweighted means over *all* classes, zero-support ones included; macro F1 is the mean
//!   of the per-class F1 scores (not the F1 of the macro precision and recall);
//! - a tag without positives (or, for ROC-AUC, without negatives) has an undefined AUC:
//!   it is reported as `None` and left out of the macro mean.

mod auc;
mod song;

pub use auc::{average_precision, multilabel_auc, roc_auc, MultiLabelAuc};
pub use song::{song_level_accuracy, song_predictions, SongPredictions};

use crate::{Error, Float, Result, Tensor};

/// Index of the largest value of `row` (first one on ties); an error on NaN or empty rows.
pub fn argmax<T: Float>(row: &[T]) -> Result<usize> {
    let mut best: Option<(usize, T)> = None;
    for (i, &v) in row.iter().enumerate() {
        if v.to_f64().is_nan() {
            return Err(Error::NonFinite(format!("argmax: NaN at index {i}")));
        }
        if best.is_none_or(|(_, b)| v > b) {
            best = Some((i, v));
        }
    }
    best.map(|(i, _)| i)
        .ok_or_else(|| Error::invalid("argmax of an empty row"))
}

/// The predicted class of each row of a `[N, C]` score (or probability) tensor.
pub fn argmax_rows<T: Float>(scores: &Tensor<T>) -> Result<Vec<usize>> {
    let &[_, n_classes] = scores.shape() else {
        return Err(Error::shape(
            "argmax_rows",
            format!("scores must be [N, C], got {:?}", scores.shape()),
        ));
    };
    if n_classes == 0 {
        return Err(Error::shape("argmax_rows", "scores have 0 classes"));
    }
    scores.data().chunks(n_classes).map(argmax).collect()
}

/// Fraction of `predicted[i] == truth[i]`; an error on empty or unequal-length inputs.
pub fn accuracy(truth: &[usize], predicted: &[usize]) -> Result<f64> {
    check_pairs("accuracy", truth, predicted)?;
    let correct = truth.iter().zip(predicted).filter(|(t, p)| t == p).count();
    Ok(correct as f64 / truth.len() as f64)
}

fn check_pairs(what: &str, truth: &[usize], predicted: &[usize]) -> Result<()> {
    if truth.len() != predicted.len() {
        return Err(Error::invalid(format!(
            "{what}: {} labels but {} predictions",
            truth.len(),
            predicted.len()
        )));
    }
    if truth.is_empty() {
        return Err(Error::invalid(format!(
            "{what} of zero samples is undefined"
        )));
    }
    Ok(())
}

/// Counts of (true class, predicted class) pairs: row = true class, column = predicted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfusionMatrix {
    n_classes: usize,
    counts: Vec<usize>,
}

impl ConfusionMatrix {
    pub fn new(n_classes: usize) -> Self {
        ConfusionMatrix {
            n_classes,
            counts: vec![0; n_classes * n_classes],
        }
    }

    pub fn from_predictions(
        truth: &[usize],
        predicted: &[usize],
        n_classes: usize,
    ) -> Result<Self> {
        check_pairs("confusion matrix", truth, predicted)?;
        let mut cm = Self::new(n_classes);
        for (&t, &p) in truth.iter().zip(predicted) {
            cm.add(t, p)?;
        }
        Ok(cm)
    }

    /// Count one sample; an error if a class index is out of range.
    pub fn add(&mut self, truth: usize, predicted: usize) -> Result<()> {
        let n = self.n_classes;
        if truth >= n || predicted >= n {
            return Err(Error::invalid(format!(
                "confusion matrix: class pair (true {truth}, predicted {predicted}) outside 0..{n}"
            )));
        }
        self.counts[truth * n + predicted] += 1;
        Ok(())
    }

    /// Add every count of `other` (e.g. to combine the matrices of several batches).
    pub fn merge(&mut self, other: &ConfusionMatrix) -> Result<()> {
        if other.n_classes != self.n_classes {
            return Err(Error::invalid(format!(
                "cannot merge confusion matrices of {} and {} classes",
                self.n_classes, other.n_classes
            )));
        }
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        Ok(())
    }

    pub fn n_classes(&self) -> usize {
        self.n_classes
    }
    /// Number of samples of class `truth` predicted as `predicted` (panics out of range,
    /// like slice indexing).
    pub fn get(&self, truth: usize, predicted: usize) -> usize {
        assert!(truth < self.n_classes && predicted < self.n_classes);
        self.counts[truth * self.n_classes + predicted]
    }
    /// The counts of true class `truth` over all predicted classes.
    pub fn row(&self, truth: usize) -> &[usize] {
        &self.counts[truth * self.n_classes..(truth + 1) * self.n_classes]
    }
    pub fn total(&self) -> usize {
        self.counts.iter().sum()
    }
    pub fn correct(&self) -> usize {
        (0..self.n_classes).map(|c| self.get(c, c)).sum()
    }
    /// `None` for an empty matrix.
    pub fn accuracy(&self) -> Option<f64> {
        let total = self.total();
        (total > 0).then(|| self.correct() as f64 / total as f64)
    }

    /// Per-class precision, recall, F1 and support, with macro averages.
    pub fn class_report(&self) -> Result<ClassReport> {
        let total = self.total();
        if total == 0 {
            return Err(Error::invalid("class report of an empty confusion matrix"));
        }
        let n = self.n_classes;
        let per_class: Vec<ClassMetrics> = (0..n)
            .map(|c| {
                let tp = self.get(c, c) as f64;
                let predicted: usize = (0..n).map(|t| self.get(t, c)).sum();
                let support: usize = self.row(c).iter().sum();
                let precision = ratio_or_zero(tp, predicted as f64);
                let recall = ratio_or_zero(tp, support as f64);
                let f1 = ratio_or_zero(2.0 * precision * recall, precision + recall);
                ClassMetrics {
                    precision,
                    recall,
                    f1,
                    support,
                }
            })
            .collect();
        let mean = |f: fn(&ClassMetrics) -> f64| per_class.iter().map(f).sum::<f64>() / n as f64;
        Ok(ClassReport {
            macro_precision: mean(|m| m.precision),
            macro_recall: mean(|m| m.recall),
            macro_f1: mean(|m| m.f1),
            accuracy: self.correct() as f64 / total as f64,
            total,
            per_class,
        })
    }
}

/// `num / den`, or 0 when `den` is 0 (scikit-learn's `zero_division=0`).
fn ratio_or_zero(num: f64, den: f64) -> f64 {
    if den == 0.0 {
        0.0
    } else {
        num / den
    }
}

/// Precision, recall and F1 of one class, and its support (number of true samples).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ClassMetrics {
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    pub support: usize,
}

/// Per-class metrics (indexed by class) and their macro averages.
#[derive(Clone, Debug, PartialEq)]
pub struct ClassReport {
    pub per_class: Vec<ClassMetrics>,
    pub macro_precision: f64,
    pub macro_recall: f64,
    pub macro_f1: f64,
    pub accuracy: f64,
    pub total: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn argmax_takes_first_of_ties_and_rejects_nan() {
        assert_eq!(argmax(&[0.1f32, 0.7, 0.7, 0.2]).unwrap(), 1);
        assert_eq!(argmax(&[-1.0f64]).unwrap(), 0);
        assert!(argmax::<f32>(&[]).is_err());
        assert!(argmax(&[0.1f32, f32::NAN]).is_err());
        let t = Tensor::new(vec![0.1f32, 0.9, 0.8, 0.2, 0.5, 0.5], &[3, 2]).unwrap();
        assert_eq!(argmax_rows(&t).unwrap(), vec![1, 0, 0]);
        assert!(argmax_rows(&t.reshape(&[6]).unwrap()).is_err());
    }

    #[test]
    fn accuracy_counts_matches() {
        assert!(close(accuracy(&[0, 1, 2, 1], &[0, 2, 2, 1]).unwrap(), 0.75));
        assert!(accuracy(&[], &[]).is_err());
        assert!(accuracy(&[1], &[1, 2]).is_err());
    }

    // Hand-worked case, cross-checked with scikit-learn 1.9:
    //   yt=[0,0,1,1,2,2,2,3]; yp=[0,1,1,1,2,0,2,0]
    //   confusion_matrix(yt, yp) = [[1,1,0,0],[0,2,0,0],[1,0,2,0],[1,0,0,0]]
    //   precision_recall_fscore_support(yt, yp, zero_division=0)
    //     P = [1/3, 2/3, 1, 0], R = [1/2, 1, 2/3, 0], F1 = [0.4, 0.8, 0.8, 0], support [2,2,3,1]
    //   macro: P 0.5, R 0.5416666666666666, F1 0.5
    #[test]
    fn confusion_matrix_and_class_report() {
        let truth = [0, 0, 1, 1, 2, 2, 2, 3];
        let pred = [0, 1, 1, 1, 2, 0, 2, 0];
        let cm = ConfusionMatrix::from_predictions(&truth, &pred, 4).unwrap();
        let rows: Vec<&[usize]> = (0..4).map(|r| cm.row(r)).collect();
        assert_eq!(
            rows,
            [[1, 1, 0, 0], [0, 2, 0, 0], [1, 0, 2, 0], [1, 0, 0, 0]]
        );
        assert_eq!((cm.total(), cm.correct()), (8, 5));
        assert!(close(cm.accuracy().unwrap(), 5.0 / 8.0));

        let r = cm.class_report().unwrap();
        let expect = [
            (1.0 / 3.0, 0.5, 0.4, 2),
            (2.0 / 3.0, 1.0, 0.8, 2),
            (1.0, 2.0 / 3.0, 0.8, 3),
            (0.0, 0.0, 0.0, 1), // never predicted: precision 0/0 → 0
        ];
        for (m, (p, rc, f, s)) in r.per_class.iter().zip(expect) {
            assert!(
                close(m.precision, p) && close(m.recall, rc) && close(m.f1, f),
                "{m:?}"
            );
            assert_eq!(m.support, s);
        }
        assert!(close(r.macro_precision, 0.5));
        assert!(close(r.macro_recall, 0.5416666666666666));
        assert!(close(r.macro_f1, 0.5));
        assert!(close(r.accuracy, 0.625));
    }

    #[test]
    fn class_without_samples_has_zero_recall_and_counts_in_macro() {
        // Class 2 has no true samples and is never predicted: P = R = F1 = 0.
        let cm = ConfusionMatrix::from_predictions(&[0, 1], &[0, 1], 3).unwrap();
        let r = cm.class_report().unwrap();
        assert_eq!(r.per_class[2].support, 0);
        assert_eq!(r.per_class[2].recall, 0.0);
        assert!(close(r.macro_f1, 2.0 / 3.0));
    }

    #[test]
    fn confusion_matrix_rejects_bad_input() {
        let mut cm = ConfusionMatrix::new(3);
        assert!(cm.add(3, 0).is_err());
        assert!(cm.add(0, 3).is_err());
        assert!(cm.class_report().is_err());
        assert_eq!(cm.accuracy(), None);
        assert!(cm.merge(&ConfusionMatrix::new(2)).is_err());
        cm.add(1, 2).unwrap();
        let mut twice = cm.clone();
        twice.merge(&cm).unwrap();
        assert_eq!(twice.get(1, 2), 2);
    }
}
