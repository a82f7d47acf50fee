//! Losses, each a scalar (0-d) mean over the batch, with the derivative written out.
//! The classification losses are fused with their final activation: the fused gradient is
//! simpler and stable where the separate pieces would overflow.

use super::tensor_from;
use crate::kernels::reduce as k;
use crate::{Error, Float, Result, Tensor, Var};

/// Softmax cross-entropy on integer labels, averaged over the batch:
///
/// `L = −(1/N) Σₙ log softmax(xₙ)[labelₙ] = (1/N) Σₙ (logsumexp(xₙ) − xₙ[labelₙ])`,
///
/// `∂L/∂xₙᵢ = (softmax(xₙ)ᵢ − [i = labelₙ]) / N`.
///
/// `logits` is `(N, C)`; `labels` has `N` entries, each `< C`. Stable for any finite
/// logits (log-softmax subtracts the row max).
pub fn softmax_cross_entropy<T: Float>(logits: &Var<T>, labels: &[usize]) -> Result<Var<T>> {
    const OP: &str = "softmax_cross_entropy";
    let &[n, c] = logits.shape() else {
        return Err(Error::shape(
            OP,
            format!("logits must be (N, C), got {:?}", logits.shape()),
        ));
    };
    if labels.len() != n {
        return Err(Error::shape(
            OP,
            format!("{} labels for {n} rows of logits", labels.len()),
        ));
    }
    if n == 0 || c == 0 {
        return Err(Error::shape(
            OP,
            format!("empty logits {:?}", logits.shape()),
        ));
    }
    if let Some((row, &bad)) = labels.iter().enumerate().find(|(_, &l)| l >= c) {
        return Err(Error::invalid(format!(
            "{OP}: label {bad} at row {row} is not < {c} classes"
        )));
    }
    let mut logp = vec![T::ZERO; n * c];
    k::log_softmax_rows(logits.value().data(), c, &mut logp);
    let inv_n = T::ONE / T::from_usize(n);
    let total: T = labels
        .iter()
        .enumerate()
        .map(|(r, &l)| logp[r * c + l])
        .sum();
    let loss = Tensor::scalar(-total * inv_n);
    let labels = labels.to_vec();
    Ok(Var::from_op(OP, loss, &[logits], move |g, _| {
        let scale = g.data()[0] * inv_n;
        let mut dx: Vec<T> = logp.iter().map(|&lp| lp.exp() * scale).collect();
        for (r, &l) in labels.iter().enumerate() {
            dx[r * c + l] -= scale;
        }
        vec![Some(tensor_from(dx, &[n, c]))]
    }))
}

/// Binary cross-entropy with logits for multi-label targets `t ∈ [0, 1]`, averaged over
/// all `M` elements (`M = N·K` for `(N, K)` logits):
///
/// `L = (1/M) Σ −t·log σ(x) − (1−t)·log(1 − σ(x)) = (1/M) Σ max(x,0) − x·t + log(1 + e^−|x|)`
/// (the second form never overflows),
///
/// `∂L/∂x = (σ(x) − t) / M`. The targets are data: no gradient flows to them.
pub fn sigmoid_bce_with_logits<T: Float>(logits: &Var<T>, targets: &Tensor<T>) -> Result<Var<T>> {
    const OP: &str = "sigmoid_bce_with_logits";
    if logits.shape() != targets.shape() {
        return Err(Error::shape(
            OP,
            format!(
                "logits {:?} vs targets {:?}",
                logits.shape(),
                targets.shape()
            ),
        ));
    }
    let m = targets.len();
    if m == 0 {
        return Err(Error::shape(OP, "empty logits"));
    }
    if let Some(bad) = targets
        .data()
        .iter()
        .find(|&&t| !(t >= T::ZERO && t <= T::ONE))
    {
        return Err(Error::invalid(format!(
            "{OP}: target {bad} is outside [0, 1]"
        )));
    }
    let x = logits.value().clone();
    let t = targets.clone();
    let total: T = x
        .data()
        .iter()
        .zip(t.data())
        .map(|(&x, &t)| x.max(T::ZERO) - x * t + (-x.abs()).exp().ln_1p())
        .sum();
    let inv_m = T::ONE / T::from_usize(m);
    Ok(Var::from_op(
        OP,
        Tensor::scalar(total * inv_m),
        &[logits],
        move |g, _| {
            let scale = g.data()[0] * inv_m;
            let dx = x.zip_map(&t, |x, t| (x.sigmoid() - t) * scale);
            vec![Some(dx.expect("logits and targets share a shape"))]
        },
    ))
}

/// Mean squared error `L = (1/M) Σ (aᵢ − bᵢ)²` over the `M` elements of two same-shape
/// tensors; `∂L/∂a = 2(a − b)/M`, `∂L/∂b = −2(a − b)/M`.
pub fn mse<T: Float>(a: &Var<T>, b: &Var<T>) -> Result<Var<T>> {
    if a.shape() != b.shape() {
        return Err(Error::shape(
            "mse",
            format!("{:?} vs {:?}", a.shape(), b.shape()),
        ));
    }
    let m = a.value().len();
    if m == 0 {
        return Err(Error::shape("mse", "empty tensors"));
    }
    let diff = a.value().zip_map(b.value(), |a, b| a - b)?;
    let inv_m = T::ONE / T::from_usize(m);
    let loss = Tensor::scalar(k::dot(diff.data(), diff.data()) * inv_m);
    Ok(Var::from_op("mse", loss, &[a, b], move |g, needs| {
        let scale = T::from_f64(2.0) * g.data()[0] * inv_m;
        vec![
            needs[0].then(|| diff.map(|d| d * scale)),
            needs[1].then(|| diff.map(|d| -d * scale)),
        ]
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::autograd::{gradcheck, GradcheckOptions};

    fn logits() -> Tensor<f64> {
        Tensor::from_fn(&[4, 5], |i| ((i * 7) % 11) as f64 * 0.4 - 2.0)
    }

    #[test]
    fn cross_entropy_gradcheck_and_value() {
        let labels = [0, 4, 2, 2];
        let r = gradcheck(
            |v| softmax_cross_entropy(&v[0], &labels),
            &[logits()],
            &GradcheckOptions::default(),
        );
        r.unwrap().check(1e-6).unwrap();
        // Value against the unfused definition: −mean log softmax at the label.
        let lp = Var::constant(logits()).log_softmax().unwrap();
        let want = -labels
            .iter()
            .enumerate()
            .map(|(r, &l)| lp.value().data()[r * 5 + l])
            .sum::<f64>()
            / 4.0;
        let got = softmax_cross_entropy(&Var::constant(logits()), &labels).unwrap();
        assert!((got.value().item().unwrap() - want).abs() < 1e-12);
    }

    #[test]
    fn cross_entropy_is_stable_for_huge_logits() {
        let x = Tensor::new(vec![1000.0, -1000.0, 0.0, -1000.0, 1000.0, 1000.0], &[2, 3]).unwrap();
        let tape = crate::Tape::new();
        let v = tape.leaf(x);
        let loss = softmax_cross_entropy(&v, &[0, 0]).unwrap();
        let value = loss.value().item().unwrap();
        // Row 0 is certain and right (loss 0); row 1 puts the label 2000 below the max,
        // so its loss is 2000 + ln 2.
        assert!((value - (2000.0 + 2f64.ln()) / 2.0).abs() < 1e-9, "{value}");
        let g = loss.backward().unwrap();
        assert!(g.get(&v).unwrap().all_finite());
        let f32_loss = softmax_cross_entropy(
            &Var::constant(Tensor::<f32>::new(vec![1000.0, -1000.0], &[1, 2]).unwrap()),
            &[1],
        );
        assert_eq!(f32_loss.unwrap().value().item().unwrap(), 2000.0);
    }

    #[test]
    fn cross_entropy_rejects_bad_labels() {
        let v = Var::constant(logits());
        assert!(softmax_cross_entropy(&v, &[0, 1, 2]).is_err());
        let e = softmax_cross_entropy(&v, &[0, 1, 5, 2])
            .unwrap_err()
            .to_string();
        assert!(e.contains("label 5"), "{e}");
        let flat = Var::constant(Tensor::<f64>::zeros(&[5]));
        assert!(softmax_cross_entropy(&flat, &[0]).is_err());
    }

    #[test]
    fn bce_gradcheck_value_and_stability() {
        let targets = Tensor::from_fn(&[4, 5], |i| (i % 3) as f64 * 0.5);
        let r = gradcheck(
            |v| sigmoid_bce_with_logits(&v[0], &targets),
            &[logits()],
            &GradcheckOptions::default(),
        );
        r.unwrap().check(1e-6).unwrap();
        let x = logits();
        let naive: f64 = x
            .data()
            .iter()
            .zip(targets.data())
            .map(|(&x, &t)| {
                let s = 1.0 / (1.0 + (-x).exp());
                -t * s.ln() - (1.0 - t) * (1.0 - s).ln()
            })
            .sum::<f64>()
            / 20.0;
        let got = sigmoid_bce_with_logits(&Var::constant(x), &targets).unwrap();
        assert!((got.value().item().unwrap() - naive).abs() < 1e-12);
        let huge = Tensor::new(vec![1000.0, -1000.0], &[1, 2]).unwrap();
        let t = Tensor::new(vec![0.0, 0.0], &[1, 2]).unwrap();
        let l = sigmoid_bce_with_logits(&Var::constant(huge), &t).unwrap();
        assert_eq!(l.value().item().unwrap(), 500.0);
    }

    #[test]
    fn bce_rejects_bad_targets() {
        let v = Var::constant(logits());
        assert!(sigmoid_bce_with_logits(&v, &Tensor::full(&[4, 5], 1.5)).is_err());
        assert!(sigmoid_bce_with_logits(&v, &Tensor::full(&[4, 5], f64::NAN)).is_err());
        assert!(sigmoid_bce_with_logits(&v, &Tensor::zeros(&[5, 4])).is_err());
    }

    #[test]
    fn mse_gradcheck() {
        let b = logits().map(|v| v * 0.5 + 0.1);
        let r = gradcheck(
            |v| mse(&v[0], &v[1]),
            &[logits(), b],
            &GradcheckOptions::default(),
        );
        r.unwrap().check(1e-6).unwrap();
        let a = Var::constant(Tensor::<f64>::zeros(&[2]));
        assert!(mse(&a, &Var::constant(Tensor::zeros(&[3]))).is_err());
    }
}
