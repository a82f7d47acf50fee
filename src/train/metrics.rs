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

/// Area under the ROC curve of one tag: the probability that a random positive scores
/// higher than a random negative, ties counting ½ (Mann–Whitney U with average ranks;
/// equal to the trapezoidal area scikit-learn computes). `None` without positives or
/// without negatives. Scores must not be NaN.
pub fn roc_auc(scores: &[f64], positive: &[bool]) -> Result<Option<f64>> {
    let sorted = sorted_by_score(scores, positive, false)?;
    let n_pos = positive.iter().filter(|&&p| p).count();
    let n_neg = positive.len() - n_pos;
    if n_pos == 0 || n_neg == 0 {
        return Ok(None);
    }
    // Sum of the (1-based, tie-averaged) ranks of the positives in ascending score order.
    let mut rank_sum_pos = 0.0;
    for_each_tie_group(&sorted, |start, end, pos_in_group| {
        let mean_rank = (start + 1 + end) as f64 / 2.0;
        rank_sum_pos += mean_rank * pos_in_group as f64;
    });
    let (p, n) = (n_pos as f64, n_neg as f64);
    Ok(Some((rank_sum_pos - p * (p + 1.0) / 2.0) / (p * n)))
}

/// Average precision of one tag: Σₖ (Rₖ − Rₖ₋₁)·Pₖ over the distinct score thresholds in
/// decreasing order (tied scores form one threshold), as scikit-learn's
/// `average_precision_score`. `None` without positives. Scores must not be NaN.
pub fn average_precision(scores: &[f64], positive: &[bool]) -> Result<Option<f64>> {
    let sorted = sorted_by_score(scores, positive, true)?;
    let n_pos = positive.iter().filter(|&&p| p).count();
    if n_pos == 0 {
        return Ok(None);
    }
    let (mut true_pos, mut ap) = (0usize, 0.0);
    for_each_tie_group(&sorted, |_start, end, pos_in_group| {
        if pos_in_group > 0 {
            true_pos += pos_in_group;
            let precision = true_pos as f64 / end as f64;
            let recall_step = pos_in_group as f64 / n_pos as f64;
            ap += recall_step * precision;
        }
    });
    Ok(Some(ap))
}

fn sorted_by_score(
    scores: &[f64],
    positive: &[bool],
    descending: bool,
) -> Result<Vec<(f64, bool)>> {
    if scores.len() != positive.len() {
        return Err(Error::invalid(format!(
            "{} scores but {} labels",
            scores.len(),
            positive.len()
        )));
    }
    if let Some(i) = scores.iter().position(|s| s.is_nan()) {
        return Err(Error::NonFinite(format!("score {i} is NaN")));
    }
    let mut pairs: Vec<(f64, bool)> = scores
        .iter()
        .copied()
        .zip(positive.iter().copied())
        .collect();
    pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
    if descending {
        pairs.reverse();
    }
    Ok(pairs)
}

/// Calls `f(start, end, positives)` for each run of equal scores `sorted[start..end]`.
fn for_each_tie_group(sorted: &[(f64, bool)], mut f: impl FnMut(usize, usize, usize)) {
    let mut start = 0;
    while start < sorted.len() {
        let mut end = start;
        let mut positives = 0;
        while end < sorted.len() && sorted[end].0 == sorted[start].0 {
            positives += sorted[end].1 as usize;
            end += 1;
        }
        f(start, end, positives);
        start = end;
    }
}

/// ROC-AUC and PR-AUC (average precision) per tag, and their macro means over the tags
/// where they are defined.
#[derive(Clone, Debug, PartialEq)]
pub struct MultiLabelAuc {
    pub roc_auc: Vec<Option<f64>>,
    pub pr_auc: Vec<Option<f64>>,
    /// Mean over defined tags; `None` if no tag is defined.
    pub macro_roc_auc: Option<f64>,
    pub macro_pr_auc: Option<f64>,
}

/// Per-tag and macro ROC-AUC / PR-AUC for `scores` and 0/1 `targets`, both `[N, tags]`.
pub fn multilabel_auc<T: Float>(scores: &Tensor<T>, targets: &Tensor<T>) -> Result<MultiLabelAuc> {
    let &[n, n_tags] = scores.shape() else {
        return Err(Error::shape(
            "multilabel_auc",
            format!("scores must be [N, tags], got {:?}", scores.shape()),
        ));
    };
    if targets.shape() != scores.shape() {
        return Err(Error::shape(
            "multilabel_auc",
            format!(
                "scores {:?} vs targets {:?}",
                scores.shape(),
                targets.shape()
            ),
        ));
    }
    if let Some(i) = targets
        .data()
        .iter()
        .position(|&t| t != T::ZERO && t != T::ONE)
    {
        return Err(Error::invalid(format!(
            "multilabel_auc: target [{}, {}] is {}, not 0 or 1",
            i / n_tags.max(1),
            i % n_tags.max(1),
            targets.data()[i].to_f64()
        )));
    }
    let (mut roc, mut pr) = (Vec::with_capacity(n_tags), Vec::with_capacity(n_tags));
    let mut column = Vec::with_capacity(n);
    let mut positive = Vec::with_capacity(n);
    for tag in 0..n_tags {
        column.clear();
        positive.clear();
        for i in 0..n {
            column.push(scores.data()[i * n_tags + tag].to_f64());
            positive.push(targets.data()[i * n_tags + tag] == T::ONE);
        }
        roc.push(roc_auc(&column, &positive)?);
        pr.push(average_precision(&column, &positive)?);
    }
    Ok(MultiLabelAuc {
        macro_roc_auc: mean_of_defined(&roc),
        macro_pr_auc: mean_of_defined(&pr),
        roc_auc: roc,
        pr_auc: pr,
    })
}

fn mean_of_defined(values: &[Option<f64>]) -> Option<f64> {
    let defined: Vec<f64> = values.iter().flatten().copied().collect();
    (!defined.is_empty()).then(|| defined.iter().sum::<f64>() / defined.len() as f64)
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

    // Hand-computed: positives score {0.9, 0.4, 0.1}, negatives {0.4, 0.4, 0.7}.
    // Pairs won: 0.9 → 3; 0.4 → ½ + ½ (ties) = 1; 0.1 → 0. AUC = 4/9.
    // AP: thresholds 0.9 (P=1, R=1/3), 0.7 (no positive), 0.4 (TP 2 of 5, R=2/3),
    // 0.1 (TP 3 of 6, R=1): AP = 1/3·1 + 1/3·2/5 + 1/3·1/2 = 0.6333…
    // scikit-learn: roc_auc_score → 0.4444444444444445, average_precision_score → 0.6333333333333333
    #[test]
    fn auc_with_ties_hand_case() {
        let s = [0.9, 0.4, 0.4, 0.4, 0.1, 0.7];
        let y = [true, false, true, false, true, false];
        assert!(close(roc_auc(&s, &y).unwrap().unwrap(), 4.0 / 9.0));
        assert!(close(
            average_precision(&s, &y).unwrap().unwrap(),
            0.6333333333333333
        ));
        // All scores tied: AUC ½, AP = prevalence (sklearn: 0.5, 0.5).
        let tied = [0.5; 4];
        let y = [false, true, true, false];
        assert!(close(roc_auc(&tied, &y).unwrap().unwrap(), 0.5));
        assert!(close(average_precision(&tied, &y).unwrap().unwrap(), 0.5));
    }

    #[test]
    fn auc_undefined_cases_and_errors() {
        assert_eq!(roc_auc(&[0.1, 0.2], &[false, false]).unwrap(), None);
        assert_eq!(roc_auc(&[0.1, 0.2], &[true, true]).unwrap(), None);
        assert_eq!(
            average_precision(&[0.1, 0.2], &[false, false]).unwrap(),
            None
        );
        // All positive: AP is 1 (sklearn: average_precision_score([1,1,1], ...) = 1.0).
        assert_eq!(
            average_precision(&[0.2, 0.1, 0.3], &[true; 3]).unwrap(),
            Some(1.0)
        );
        assert!(roc_auc(&[f64::NAN, 0.1], &[true, false]).is_err());
        assert!(roc_auc(&[0.1], &[true, false]).is_err());
    }

    // Reference values from scikit-learn 1.9.1 (/work/venv):
    //   s = np.array([[((7*i + 3*t) % 11) / 10 for t in range(3)] for i in range(20)])
    //   y = np.array([[int((i*(t+2)) % 3 == 0) for t in range(3)] for i in range(20)])
    //   roc_auc_score(y[:,t], s[:,t]); average_precision_score(y[:,t], s[:,t])
    //   t=0: 0.7032967032967032, 0.5174912389198103
    //   t=1: all positive → ROC undefined (sklearn warns, nan), AP 0.9999999999999999
    //   t=2: 0.23076923076923075, 0.2578923061065918
    // plus a 4th tag with no positives (undefined for both).
    #[test]
    fn multilabel_auc_matches_scikit_learn() {
        let (n, tags) = (20, 4);
        let scores = Tensor::<f64>::from_fn(&[n, tags], |k| {
            let (i, t) = (k / tags, k % tags);
            ((7 * i + 3 * t) % 11) as f64 / 10.0
        });
        let targets = Tensor::<f64>::from_fn(&[n, tags], |k| {
            let (i, t) = (k / tags, k % tags);
            (t < 3 && (i * (t + 2)) % 3 == 0) as u8 as f64
        });
        let r = multilabel_auc(&scores, &targets).unwrap();
        let roc = [
            Some(0.7032967032967032),
            None,
            Some(0.23076923076923075),
            None,
        ];
        let pr = [
            Some(0.5174912389198103),
            Some(0.9999999999999999),
            Some(0.2578923061065918),
            None,
        ];
        for t in 0..tags {
            assert_eq!(r.roc_auc[t].is_some(), roc[t].is_some(), "tag {t}");
            assert_eq!(r.pr_auc[t].is_some(), pr[t].is_some(), "tag {t}");
            if let (Some(a), Some(b)) = (r.roc_auc[t], roc[t]) {
                assert!((a - b).abs() < 1e-12, "roc tag {t}: {a} vs {b}");
            }
            if let (Some(a), Some(b)) = (r.pr_auc[t], pr[t]) {
                assert!((a - b).abs() < 1e-12, "pr tag {t}: {a} vs {b}");
            }
        }
        let macro_roc = (0.7032967032967032 + 0.23076923076923075) / 2.0;
        let macro_pr = (0.5174912389198103 + 1.0 + 0.2578923061065918) / 3.0;
        assert!((r.macro_roc_auc.unwrap() - macro_roc).abs() < 1e-12);
        assert!((r.macro_pr_auc.unwrap() - macro_pr).abs() < 1e-12);
    }

    #[test]
    fn multilabel_auc_rejects_bad_targets_and_shapes() {
        let s = Tensor::<f32>::zeros(&[2, 2]);
        let bad = Tensor::new(vec![0.0f32, 0.5, 1.0, 0.0], &[2, 2]).unwrap();
        assert!(multilabel_auc(&s, &bad).is_err());
        assert!(multilabel_auc(&s, &Tensor::zeros(&[2, 3])).is_err());
        let none = multilabel_auc(&s, &Tensor::zeros(&[2, 2])).unwrap();
        assert_eq!(none.macro_roc_auc, None);
        assert_eq!(none.macro_pr_auc, None);
    }
}
