//! `Linear`: Keras' `Dense` without its activation (the model applies activations).

use super::{init, Ctx, Layer};
use crate::{ops, Error, Float, Param, Result, Var};
use rand::Rng;

/// `y = x·W + b` with `W: (in, out)` Glorot-uniform and `b: (out)` zero. Accepts
/// `(N, in)` or `(B, T, in)`.
pub struct Linear<T: Float> {
    pub kernel: Param<T>,
    pub bias: Option<Param<T>>,
}

impl<T: Float> Linear<T> {
    /// A dense layer `in_features → out_features` with a bias.
    pub fn new(in_features: usize, out_features: usize, rng: &mut impl Rng) -> Self {
        Self::build(in_features, out_features, true, rng)
    }
    /// The same without a bias (e.g. before a batch norm, whose β plays its part).
    pub fn without_bias(in_features: usize, out_features: usize, rng: &mut impl Rng) -> Self {
        Self::build(in_features, out_features, false, rng)
    }
    fn build(in_features: usize, out_features: usize, use_bias: bool, rng: &mut impl Rng) -> Self {
        let shape = [in_features, out_features];
        Linear {
            kernel: Param::new(
                "kernel",
                init::glorot_uniform(&shape, in_features, out_features, rng),
            ),
            bias: use_bias.then(|| Param::new("bias", crate::Tensor::zeros(&[out_features]))),
        }
    }
    pub fn in_features(&self) -> usize {
        self.kernel.value.shape()[0]
    }
    pub fn out_features(&self) -> usize {
        self.kernel.value.shape()[1]
    }
}

impl<T: Float> Layer<T> for Linear<T> {
    fn forward(&mut self, x: &Var<T>, ctx: &mut Ctx<T>) -> Result<Var<T>> {
        let w = ctx.param(&self.kernel);
        let b = self.bias.as_ref().map(|b| ctx.param(b));
        ops::linear(x, &w, b.as_ref())
    }
    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        match input {
            [.., last] if (2..=3).contains(&input.len()) && *last == self.in_features() => {
                let mut out = input.to_vec();
                *out.last_mut().expect("non-empty") = self.out_features();
                Ok(out)
            }
            _ => Err(Error::shape(
                "Linear",
                format!(
                    "expects (N, {0}) or (B, T, {0}), got {input:?}",
                    self.in_features()
                ),
            )),
        }
    }
    fn describe(&self) -> String {
        format!("Linear({}→{})", self.in_features(), self.out_features())
    }
    fn params(&self) -> Vec<&Param<T>> {
        std::iter::once(&self.kernel).chain(&self.bias).collect()
    }
    fn params_mut(&mut self) -> Vec<&mut Param<T>> {
        std::iter::once(&mut self.kernel)
            .chain(&mut self.bias)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::count_params;
    use crate::Tensor;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn dense_parameter_count_and_shapes() {
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let mut dense = Linear::<f32>::new(32, 200, &mut rng);
        assert_eq!(count_params(&dense.params()), 6_600);
        assert_eq!(
            count_params(&Linear::<f32>::without_bias(32, 200, &mut rng).params()),
            6_400
        );
        assert_eq!(dense.output_shape(&[8, 32]).unwrap(), vec![8, 200]);
        assert_eq!(dense.output_shape(&[8, 3, 32]).unwrap(), vec![8, 3, 200]);
        assert!(dense.output_shape(&[8, 31]).is_err());
        let y = dense
            .forward(&Var::constant(Tensor::ones(&[8, 32])), &mut Ctx::eval())
            .unwrap();
        assert_eq!(y.shape(), &[8, 200]);
        let limit = (6.0f32 / 232.0).sqrt();
        assert!(dense.kernel.value.data().iter().all(|v| v.abs() <= limit));
    }
}
