//! Multilayer-perceptron baselines: the whole spectrogram as one flat vector.

use super::parallel_cnn::prefix;
use super::{prepare_input, Model, Summary, INPUT_SHAPE};
use crate::nn::{Ctx, Dropout, Layer, Linear};
use crate::{Float, Param, Result, Var};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// `Flatten (6400) → [Dense h_i → ReLU → Dropout p]* → Dense n_classes`.
///
/// With `hidden = []` it is multinomial logistic regression; the CLI's `mlp` is
/// `[512, 128]` with dropout 0.3. It ignores all locality in time and frequency, which is
/// what the CNNs are measured against.
pub struct Mlp<T: Float> {
    hidden: Vec<Linear<T>>,
    dropout: Dropout,
    output: Linear<T>,
    n_classes: usize,
}

impl<T: Float> Mlp<T> {
    /// `dropout` of 0 makes the plain MLP.
    pub fn new(hidden: &[usize], dropout: f64, n_classes: usize, seed: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut width = INPUT_SHAPE.iter().product();
        let mut layers = Vec::new();
        for (i, &h) in hidden.iter().enumerate() {
            let mut l = Linear::new(width, h, &mut rng);
            prefix(&mut l, &format!("dense{}", i + 1));
            layers.push(l);
            width = h;
        }
        let mut output = Linear::new(width, n_classes, &mut rng);
        prefix(&mut output, "output");
        Mlp {
            hidden: layers,
            dropout: Dropout::new(dropout).expect("dropout rate in [0, 1)"),
            output,
            n_classes,
        }
    }
}

impl<T: Float> Model<T> for Mlp<T> {
    fn kind(&self) -> &'static str {
        "mlp"
    }
    fn num_classes(&self) -> usize {
        self.n_classes
    }
    fn forward(&mut self, x: &Var<T>, ctx: &mut Ctx<T>) -> Result<Var<T>> {
        let x = &prepare_input(self.kind(), x)?;
        let mut h = x.flatten()?;
        for (i, layer) in self.hidden.iter_mut().enumerate() {
            h = layer.forward(&h, ctx)?.relu();
            ctx.observe(&format!("dense{}", i + 1), &h);
            h = self.dropout.forward(&h, ctx)?;
        }
        let logits = self.output.forward(&h, ctx)?;
        ctx.observe("output", &logits);
        Ok(logits)
    }
    fn summary(&self) -> Result<Summary> {
        let mut s = Summary::new(self.kind());
        let mut h = vec![INPUT_SHAPE.iter().product()];
        s.row("flatten", "Flatten".into(), &h, 0);
        for (i, layer) in self.hidden.iter().enumerate() {
            h = s.layer(&format!("dense{}", i + 1), layer, &h)?;
            s.row(&format!("relu{}", i + 1), "ReLU".into(), &h, 0);
            s.layer(
                &format!("dropout{}", i + 1),
                &self.dropout as &dyn Layer<T>,
                &h,
            )?;
        }
        s.layer("output", &self.output, &h)?;
        Ok(s)
    }
    fn params(&self) -> Vec<&Param<T>> {
        let mut p: Vec<&Param<T>> = self.hidden.iter().flat_map(|l| l.params()).collect();
        p.extend(self.output.params());
        p
    }
    fn params_mut(&mut self) -> Vec<&mut Param<T>> {
        let mut p: Vec<&mut Param<T>> = self
            .hidden
            .iter_mut()
            .flat_map(|l| l.params_mut())
            .collect();
        p.extend(self.output.params_mut());
        p
    }
}
