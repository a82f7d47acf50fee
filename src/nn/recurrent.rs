//! `Lstm` and `Gru` layers over `(N, T, F)` sequences, with Keras' initialisers.

use super::{init, Ctx, Layer};
use crate::{ops, Error, Float, Param, Result, Tensor, Var};
use rand::Rng;

/// Kernel `(F, G·H)` Glorot-uniform and recurrent kernel `(H, G·H)` orthogonal.
fn kernels<T: Float>(
    features: usize,
    units: usize,
    gates: usize,
    rng: &mut impl Rng,
) -> (Param<T>, Param<T>) {
    let g = gates * units;
    (
        Param::new(
            "kernel",
            init::glorot_uniform(&[features, g], features, g, rng),
        ),
        Param::new("recurrent_kernel", init::orthogonal(units, g, rng)),
    )
}

/// `(N, T, H)` or `(N, H)` for an input `(N, T, F)`, else an error.
fn sequence_output(
    layer: &str,
    input: &[usize],
    features: usize,
    units: usize,
    seq: bool,
) -> Result<Vec<usize>> {
    match *input {
        [n, t, f] if f == features && t > 0 => Ok(if seq {
            vec![n, t, units]
        } else {
            vec![n, units]
        }),
        _ => Err(Error::shape(
            "recurrent layer",
            format!("{layer} expects (N, T, {features}) with T > 0, got {input:?}"),
        )),
    }
}

/// Keras `LSTM(units)`: gates i, f, g, o; bias zero except the forget gate at 1
/// (`unit_forget_bias`). Parameters: 4·H·(F + H + 1).
pub struct Lstm<T: Float> {
    pub kernel: Param<T>,
    pub recurrent_kernel: Param<T>,
    pub bias: Param<T>,
    pub return_sequences: bool,
}

impl<T: Float> Lstm<T> {
    pub fn new(features: usize, units: usize, return_sequences: bool, rng: &mut impl Rng) -> Self {
        let (kernel, recurrent_kernel) = kernels(features, units, 4, rng);
        let bias = Tensor::from_fn(
            &[4 * units],
            |j| if j / units == 1 { T::ONE } else { T::ZERO },
        );
        Lstm {
            kernel,
            recurrent_kernel,
            bias: Param::new("bias", bias),
            return_sequences,
        }
    }
    pub fn features(&self) -> usize {
        self.kernel.value.shape()[0]
    }
    pub fn units(&self) -> usize {
        self.recurrent_kernel.value.shape()[0]
    }
}

impl<T: Float> Layer<T> for Lstm<T> {
    fn forward(&mut self, x: &Var<T>, ctx: &mut Ctx<T>) -> Result<Var<T>> {
        let (w, u, b) = (
            ctx.param(&self.kernel),
            ctx.param(&self.recurrent_kernel),
            ctx.param(&self.bias),
        );
        ops::lstm(x, &w, &u, &b, None, None, self.return_sequences)
    }
    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        sequence_output(
            "Lstm",
            input,
            self.features(),
            self.units(),
            self.return_sequences,
        )
    }
    fn describe(&self) -> String {
        let seq = if self.return_sequences {
            ", sequences"
        } else {
            ""
        };
        format!("Lstm({}→{}{seq})", self.features(), self.units())
    }
    fn params(&self) -> Vec<&Param<T>> {
        vec![&self.kernel, &self.recurrent_kernel, &self.bias]
    }
    fn params_mut(&mut self) -> Vec<&mut Param<T>> {
        vec![&mut self.kernel, &mut self.recurrent_kernel, &mut self.bias]
    }
}

/// Keras `GRU(units)` with `reset_after = True`: gates z, r, h̃; bias `(2, 3H)` (input,
/// recurrent), zero. Parameters: 3·H·(F + H + 2).
pub struct Gru<T: Float> {
    pub kernel: Param<T>,
    pub recurrent_kernel: Param<T>,
    pub bias: Param<T>,
    pub return_sequences: bool,
}

impl<T: Float> Gru<T> {
    pub fn new(features: usize, units: usize, return_sequences: bool, rng: &mut impl Rng) -> Self {
        let (kernel, recurrent_kernel) = kernels(features, units, 3, rng);
        Gru {
            kernel,
            recurrent_kernel,
            bias: Param::new("bias", Tensor::zeros(&[2, 3 * units])),
            return_sequences,
        }
    }
    pub fn features(&self) -> usize {
        self.kernel.value.shape()[0]
    }
    pub fn units(&self) -> usize {
        self.recurrent_kernel.value.shape()[0]
    }
}

impl<T: Float> Layer<T> for Gru<T> {
    fn forward(&mut self, x: &Var<T>, ctx: &mut Ctx<T>) -> Result<Var<T>> {
        let (w, u, b) = (
            ctx.param(&self.kernel),
            ctx.param(&self.recurrent_kernel),
            ctx.param(&self.bias),
        );
        ops::gru(x, &w, &u, &b, None, self.return_sequences)
    }
    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        sequence_output(
            "Gru",
            input,
            self.features(),
            self.units(),
            self.return_sequences,
        )
    }
    fn describe(&self) -> String {
        let seq = if self.return_sequences {
            ", sequences"
        } else {
            ""
        };
        format!("Gru({}→{}{seq})", self.features(), self.units())
    }
    fn params(&self) -> Vec<&Param<T>> {
        vec![&self.kernel, &self.recurrent_kernel, &self.bias]
    }
    fn params_mut(&mut self) -> Vec<&mut Param<T>> {
        vec![&mut self.kernel, &mut self.recurrent_kernel, &mut self.bias]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::count_params;
    use crate::Tape;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn parameter_counts_match_keras() {
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        assert_eq!(
            count_params(&Layer::<f32>::params(&Lstm::<f32>::new(
                6, 128, true, &mut rng
            ))),
            69_120
        );
        assert_eq!(
            count_params(&Layer::<f32>::params(&Lstm::<f32>::new(
                128, 32, false, &mut rng
            ))),
            20_608
        );
        assert_eq!(
            count_params(&Layer::<f32>::params(&Gru::<f32>::new(
                6, 64, false, &mut rng
            ))),
            13_824
        );
    }

    #[test]
    fn lstm_bias_has_unit_forget_gate() {
        let lstm = Lstm::<f64>::new(3, 2, false, &mut ChaCha8Rng::seed_from_u64(0));
        assert_eq!(
            lstm.bias.value.data(),
            &[0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0]
        );
        assert_eq!(lstm.recurrent_kernel.value.shape(), &[2, 8]);
    }

    #[test]
    fn layers_run_and_train_their_parameters() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let x = Tensor::<f64>::uniform(&[2, 5, 3], -1.0, 1.0, &mut rng);
        let mut lstm = Lstm::new(3, 4, true, &mut rng);
        let mut gru = Gru::new(4, 2, false, &mut rng);
        assert_eq!(lstm.output_shape(&[2, 5, 3]).unwrap(), vec![2, 5, 4]);
        assert_eq!(gru.output_shape(&[2, 5, 4]).unwrap(), vec![2, 2]);
        assert!(lstm.output_shape(&[2, 5, 4]).is_err());
        assert!(gru.output_shape(&[2, 4]).is_err());
        let tape = Tape::new();
        let mut ctx = Ctx::train(&tape, 0);
        let h = lstm.forward(&tape.leaf(x), &mut ctx).unwrap();
        let y = gru.forward(&h, &mut ctx).unwrap();
        assert_eq!(y.shape(), &[2, 2]);
        let loss = Var::from_op("sum", Tensor::scalar(y.value().sum_all()), &[&y], |g, _| {
            vec![Some(Tensor::full(&[2, 2], g.data()[0]))]
        });
        let grads = loss.backward().unwrap();
        for p in Layer::<f64>::params(&lstm)
            .into_iter()
            .chain(Layer::<f64>::params(&gru))
        {
            let g = grads
                .param(p)
                .unwrap_or_else(|| panic!("no gradient for {}", p.name()));
            assert!(
                g.data().iter().any(|&v| v != 0.0),
                "{} has a zero gradient",
                p.name()
            );
        }
    }
}
