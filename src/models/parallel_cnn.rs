//! The two-branch parallel CNN of the coursework (P1.1).

use super::{prepare_input, Model, Summary, INPUT_SHAPE};
use crate::nn::{Conv2d, Ctx, Layer, Linear, MaxPool2d};
use crate::ops::conv::Conv2dOptions;
use crate::ops::shape::concat;
use crate::{Float, Param, Result, Var};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

const LEAKY_SLOPE: f64 = 0.3;

/// Two convolutional branches read the same spectrogram at two scales, and a dense layer
/// reads both:
///
/// ```text
/// input (N, 1, 80, 80)
/// ├─ A: Conv2d 1→3, 8×8 'same' → LeakyReLU(0.3) → MaxPool 4×4 → (N, 3, 20, 20) → flatten 1200
/// └─ B: Conv2d 1→4, 4×4 'same' → LeakyReLU(0.3) → MaxPool 2×2 → (N, 4, 40, 40) → flatten 6400
/// concat (N, 7600) → Dense(n_classes) → logits
/// ```
///
/// Parameters: 195 + 68 + 7600·n + n = 61,071 for 8 genres, as Keras counts them.
pub struct ParallelCnn<T: Float> {
    conv_a: Conv2d<T>,
    pool_a: MaxPool2d,
    conv_b: Conv2d<T>,
    pool_b: MaxPool2d,
    dense: Linear<T>,
    n_classes: usize,
}

impl<T: Float> ParallelCnn<T> {
    pub fn new(n_classes: usize, seed: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let same = Conv2dOptions::same();
        let mut conv_a = Conv2d::new(1, 3, (8, 8), same, &mut rng).expect("valid spec");
        let mut conv_b = Conv2d::new(1, 4, (4, 4), same, &mut rng).expect("valid spec");
        let mut dense = Linear::new(3 * 20 * 20 + 4 * 40 * 40, n_classes, &mut rng);
        prefix(&mut conv_a, "branch_a.conv");
        prefix(&mut conv_b, "branch_b.conv");
        prefix(&mut dense, "dense");
        ParallelCnn {
            conv_a,
            pool_a: MaxPool2d::square(4).expect("valid spec"),
            conv_b,
            pool_b: MaxPool2d::square(2).expect("valid spec"),
            dense,
            n_classes,
        }
    }
}

/// Name a layer's parameters after its place in the model.
pub(crate) fn prefix<T: Float>(layer: &mut dyn Layer<T>, path: &str) {
    for p in layer.params_mut() {
        p.add_prefix(path);
    }
    for b in layer.buffers_mut() {
        b.add_prefix(path);
    }
}

impl<T: Float> Model<T> for ParallelCnn<T> {
    fn kind(&self) -> &'static str {
        "parallel-cnn"
    }
    fn num_classes(&self) -> usize {
        self.n_classes
    }
    fn forward(&mut self, x: &Var<T>, ctx: &mut Ctx<T>) -> Result<Var<T>> {
        let x = &prepare_input(self.kind(), x)?;
        let slope = T::from_f64(LEAKY_SLOPE);
        // Each branch's Conv → LeakyReLU → MaxPool runs as one fused op (same maths,
        // without the full-size convolution output in memory).
        let a = self.conv_a.forward_act_pool(x, slope, &self.pool_a, ctx)?;
        ctx.observe("branch_a", &a);
        let b = self.conv_b.forward_act_pool(x, slope, &self.pool_b, ctx)?;
        ctx.observe("branch_b", &b);
        let (a, b) = (a.flatten()?, b.flatten()?);
        let joined = concat(&[&a, &b], 1)?;
        let logits = self.dense.forward(&joined, ctx)?;
        ctx.observe("dense", &logits);
        Ok(logits)
    }
    fn summary(&self) -> Result<Summary> {
        let mut s = Summary::new(self.kind());
        s.row("input", "Input".into(), &INPUT_SHAPE, 0);
        let a = s.layer("branch_a.conv", &self.conv_a, &INPUT_SHAPE)?;
        s.row("branch_a.act", "LeakyReLU(0.3)".into(), &a, 0);
        let a = s.layer::<T>("branch_a.pool", &self.pool_a, &a)?;
        let a: usize = a.iter().product();
        s.row("branch_a.flatten", "Flatten".into(), &[a], 0);
        let b = s.layer("branch_b.conv", &self.conv_b, &INPUT_SHAPE)?;
        s.row("branch_b.act", "LeakyReLU(0.3)".into(), &b, 0);
        let b = s.layer::<T>("branch_b.pool", &self.pool_b, &b)?;
        let b: usize = b.iter().product();
        s.row("branch_b.flatten", "Flatten".into(), &[b], 0);
        s.row("concat", "Concatenate".into(), &[a + b], 0);
        s.layer("dense", &self.dense, &[a + b])?;
        Ok(s)
    }
    fn params(&self) -> Vec<&Param<T>> {
        let mut p = self.conv_a.params();
        p.extend(self.conv_b.params());
        p.extend(self.dense.params());
        p
    }
    fn params_mut(&mut self) -> Vec<&mut Param<T>> {
        let mut p = self.conv_a.params_mut();
        p.extend(self.conv_b.params_mut());
        p.extend(self.dense.params_mut());
        p
    }
}
