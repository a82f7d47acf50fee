//! Diagnosing a loss that became NaN or infinite: which layer produced the first
//! non-finite output?
//!
//! The trainer checks the loss after each step with [`check_loss`]; when it is not
//! finite, it re-runs the forward pass on the same batch collecting each layer's output
//! (in forward order) and calls [`nonfinite_loss_error`], giving an error such as
//! `loss became NaN at epoch 3 step 17; first non-finite output: layer conv2 (12 NaN,
//! 0 inf of 4096 values, first at index 7)`.

use crate::{Error, Float, Result, Tensor};

/// The first layer output containing NaN or ±inf, with counts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NonFiniteOutput {
    pub layer: String,
    /// Position of the layer in the list given.
    pub position: usize,
    pub nan: usize,
    pub inf: usize,
    pub len: usize,
    /// Row-major index of the first non-finite element.
    pub first_index: usize,
}

impl std::fmt::Display for NonFiniteOutput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "layer {} ({} NaN, {} inf of {} values, first at index {})",
            self.layer, self.nan, self.inf, self.len, self.first_index
        )
    }
}

/// The first `(layer name, output)` pair, in the order given, whose output is not all
/// finite; `None` if every output is finite.
pub fn first_nonfinite<T: Float>(outputs: &[(&str, &Tensor<T>)]) -> Option<NonFiniteOutput> {
    outputs
        .iter()
        .enumerate()
        .find_map(|(position, (layer, output))| {
            let data = output.data();
            let first_index = data.iter().position(|v| !v.is_finite())?;
            let nan = data.iter().filter(|v| v.to_f64().is_nan()).count();
            let inf = data.iter().filter(|v| v.to_f64().is_infinite()).count();
            Some(NonFiniteOutput {
                layer: layer.to_string(),
                position,
                nan,
                inf,
                len: data.len(),
                first_index,
            })
        })
}

/// `Ok` for a finite loss; otherwise an [`Error::NonFinite`] naming the epoch and step.
pub fn check_loss(loss: f64, epoch: usize, step: usize) -> Result<()> {
    if loss.is_finite() {
        Ok(())
    } else {
        Err(Error::NonFinite(loss_message(loss, epoch, step)))
    }
}

fn loss_message(loss: f64, epoch: usize, step: usize) -> String {
    let what = if loss.is_nan() { "NaN" } else { "infinite" };
    format!("loss became {what} ({loss}) at epoch {epoch} step {step}")
}

/// The error for a non-finite `loss`, naming the first layer (in forward order) whose
/// output was not finite — or saying that every layer output was finite, which points at
/// the loss computation itself (e.g. log of a zero probability).
pub fn nonfinite_loss_error<T: Float>(
    loss: f64,
    epoch: usize,
    step: usize,
    layer_outputs: &[(&str, &Tensor<T>)],
) -> Error {
    let culprit = match first_nonfinite(layer_outputs) {
        Some(found) => format!("first non-finite output: {found}"),
        None => format!(
            "all {} layer outputs are finite, so the loss computation itself overflowed",
            layer_outputs.len()
        ),
    };
    Error::NonFinite(format!("{}; {culprit}", loss_message(loss, epoch, step)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_first_bad_layer_in_order() {
        let ok = Tensor::<f32>::ones(&[2, 3]);
        let bad = Tensor::new(vec![1.0f32, f32::NAN, f32::INFINITY, f32::NAN], &[4]).unwrap();
        let worse = Tensor::full(&[2], f32::NAN);
        let outputs = [("conv1", &ok), ("conv2", &bad), ("dense", &worse)];
        let found = first_nonfinite(&outputs).unwrap();
        assert_eq!(
            found,
            NonFiniteOutput {
                layer: "conv2".into(),
                position: 1,
                nan: 2,
                inf: 1,
                len: 4,
                first_index: 1
            }
        );
        assert_eq!(first_nonfinite(&outputs[..1]), None);
        assert_eq!(first_nonfinite::<f64>(&[]), None);
        let neg_inf = Tensor::new(vec![0.0f64, f64::NEG_INFINITY], &[2]).unwrap();
        assert_eq!(first_nonfinite(&[("x", &neg_inf)]).unwrap().inf, 1);
    }

    #[test]
    fn loss_checks_and_messages() {
        assert!(check_loss(0.5, 1, 1).is_ok());
        let e = check_loss(f64::NAN, 3, 17).unwrap_err().to_string();
        assert!(
            e.contains("loss became NaN (NaN) at epoch 3 step 17"),
            "{e}"
        );
        let e = check_loss(f64::INFINITY, 1, 2).unwrap_err().to_string();
        assert!(
            e.contains("loss became infinite (inf) at epoch 1 step 2"),
            "{e}"
        );

        let ok = Tensor::<f32>::ones(&[2]);
        let bad = Tensor::new(vec![1.0f32, f32::NAN], &[2]).unwrap();
        let e = nonfinite_loss_error(f64::NAN, 3, 17, &[("conv1", &ok), ("conv2", &bad)]);
        assert!(matches!(e, Error::NonFinite(_)));
        let msg = e.to_string();
        assert!(
            msg.ends_with("at epoch 3 step 17; first non-finite output: layer conv2 (1 NaN, 0 inf of 2 values, first at index 1)"),
            "{msg}"
        );
        let msg = nonfinite_loss_error(f64::INFINITY, 1, 1, &[("conv1", &ok)]).to_string();
        assert!(msg.contains("all 1 layer outputs are finite"), "{msg}");
    }
}
