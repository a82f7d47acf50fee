//! Multi-label ranking metrics: ROC-AUC and average precision (PR-AUC), per tag and
//! macro-averaged over the tags where they are defined.

use crate::{Error, Float, Result, Tensor};

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
