//! `Dropout`: inverted dropout in train mode, the identity in eval mode.

use super::{Ctx, Layer};
use crate::{ops, Error, Float, Result, Var};

pub struct Dropout {
    rate: f64,
}

impl Dropout {
    /// `rate` is the probability of dropping a unit, in [0, 1).
    pub fn new(rate: f64) -> Result<Self> {
        if !(0.0..1.0).contains(&rate) {
            return Err(Error::invalid(format!(
                "Dropout: rate must be in [0, 1), got {rate}"
            )));
        }
        Ok(Dropout { rate })
    }
    pub fn rate(&self) -> f64 {
        self.rate
    }
}

impl<T: Float> Layer<T> for Dropout {
    fn forward(&mut self, x: &Var<T>, ctx: &mut Ctx<T>) -> Result<Var<T>> {
        if ctx.is_training() {
            ops::dropout(x, self.rate, ctx.rng())
        } else {
            Ok(x.clone())
        }
    }
    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        Ok(input.to_vec())
    }
    fn describe(&self) -> String {
        format!("Dropout({})", self.rate)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Tape, Tensor};

    #[test]
    fn dropout_is_identity_in_eval_and_seeded_in_train() {
        let mut d = Dropout::new(0.5).unwrap();
        assert!(Dropout::new(1.0).is_err());
        let x = Var::constant(Tensor::<f64>::ones(&[50, 20]));
        let y = d.forward(&x, &mut Ctx::eval()).unwrap();
        assert_eq!(y.value(), x.value());
        let tape = Tape::new();
        let a = d.forward(&x, &mut Ctx::train(&tape, 7)).unwrap();
        let b = d.forward(&x, &mut Ctx::train(&tape, 7)).unwrap();
        assert_eq!(a.value(), b.value());
        assert!(a.value().data().contains(&0.0) && a.value().data().contains(&2.0));
    }
}
