//! Convolution layers: `Conv2d` (NCHW) and `Conv1d` (NCL), initialised as Keras does
//! (Glorot-uniform kernel with fan_in = C·kh·kw, fan_out = O·kh·kw; zero bias).

use super::init::glorot_uniform;
use super::pool::{MaxPool1d, MaxPool2d};
use super::{Ctx, Layer};
use crate::ops::conv::{
    conv1d, conv1d_output_shape, conv2d, conv2d_output_shape, Conv1dOptions, Conv2dOptions, Padding,
};
use crate::ops::conv1d_seq::conv1d_seq_act_max_pool;
use crate::ops::conv_pool::{conv1d_act_max_pool, conv2d_act_max_pool};
use crate::{Error, Float, Param, Result, Tensor, Var};
use rand::Rng;

fn describe_padding(p: &Padding) -> String {
    match p {
        Padding::Valid => "valid".into(),
        Padding::Same => "same".into(),
        Padding::Explicit {
            top,
            bottom,
            left,
            right,
        } => {
            format!("pad {top},{bottom},{left},{right}")
        }
    }
}

/// A 2-d convolution layer: weight (O, C, kh, kw), bias (O).
pub struct Conv2d<T: Float> {
    pub weight: Param<T>,
    pub bias: Option<Param<T>>,
    pub options: Conv2dOptions,
}

impl<T: Float> Conv2d<T> {
    /// `in_channels → out_channels` with a kh×kw kernel, biased; see [`Self::without_bias`].
    pub fn new(
        in_channels: usize,
        out_channels: usize,
        (kh, kw): (usize, usize),
        options: Conv2dOptions,
        rng: &mut impl Rng,
    ) -> Result<Self> {
        if [in_channels, out_channels, kh, kw].contains(&0) {
            return Err(Error::invalid(format!(
                "Conv2d: channels and kernel must be positive, got {in_channels}→{out_channels}, {kh}×{kw}"
            )));
        }
        if options.stride.0 == 0 || options.stride.1 == 0 {
            return Err(Error::invalid(format!(
                "Conv2d: stride {:?}",
                options.stride
            )));
        }
        let shape = [out_channels, in_channels, kh, kw];
        let weight = glorot_uniform(&shape, in_channels * kh * kw, out_channels * kh * kw, rng);
        Ok(Conv2d {
            weight: Param::new("weight", weight),
            bias: Some(Param::new("bias", Tensor::zeros(&[out_channels]))),
            options,
        })
    }
    pub fn without_bias(mut self) -> Self {
        self.bias = None;
        self
    }
    pub fn in_channels(&self) -> usize {
        self.weight.value.shape()[1]
    }
    pub fn out_channels(&self) -> usize {
        self.weight.value.shape()[0]
    }
    pub fn kernel(&self) -> (usize, usize) {
        let s = self.weight.value.shape();
        (s[2], s[3])
    }
}

impl<T: Float> Conv2d<T> {
    /// `pool(act(self(x)))` with `act(v) = v` for `v > 0`, `slope·v` otherwise, as one
    /// op ([`conv2d_act_max_pool`]): the same values and gradients as the three layers
    /// in turn, without the full-size convolution output in memory.
    pub fn forward_act_pool(
        &mut self,
        x: &Var<T>,
        slope: T,
        pool: &MaxPool2d,
        ctx: &mut Ctx<T>,
    ) -> Result<Var<T>> {
        let w = ctx.param(&self.weight);
        let b = self.bias.as_ref().map(|b| ctx.param(b));
        conv2d_act_max_pool(
            x,
            &w,
            b.as_ref(),
            &self.options,
            slope,
            pool.pool,
            pool.stride,
        )
    }
}

impl<T: Float> Layer<T> for Conv2d<T> {
    fn forward(&mut self, x: &Var<T>, ctx: &mut Ctx<T>) -> Result<Var<T>> {
        let w = ctx.param(&self.weight);
        let b = self.bias.as_ref().map(|b| ctx.param(b));
        conv2d(x, &w, b.as_ref(), &self.options)
    }
    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        conv2d_output_shape(input, self.weight.value.shape(), &self.options)
    }
    fn describe(&self) -> String {
        let (kh, kw) = self.kernel();
        let mut s = format!(
            "Conv2d({}→{}, {kh}×{kw}, {}",
            self.in_channels(),
            self.out_channels(),
            describe_padding(&self.options.padding)
        );
        if self.options.stride != (1, 1) {
            s += &format!(
                ", stride {}×{}",
                self.options.stride.0, self.options.stride.1
            );
        }
        if self.bias.is_none() {
            s += ", no bias";
        }
        s + ")"
    }
    fn params(&self) -> Vec<&Param<T>> {
        std::iter::once(&self.weight).chain(&self.bias).collect()
    }
    fn params_mut(&mut self) -> Vec<&mut Param<T>> {
        std::iter::once(&mut self.weight)
            .chain(&mut self.bias)
            .collect()
    }
}

/// A 1-d convolution layer: weight (O, C, k), bias (O).
pub struct Conv1d<T: Float> {
    pub weight: Param<T>,
    pub bias: Option<Param<T>>,
    pub options: Conv1dOptions,
}

impl<T: Float> Conv1d<T> {
    pub fn new(
        in_channels: usize,
        out_channels: usize,
        kernel: usize,
        options: Conv1dOptions,
        rng: &mut impl Rng,
    ) -> Result<Self> {
        if [in_channels, out_channels, kernel, options.stride].contains(&0) {
            return Err(Error::invalid(format!(
                "Conv1d: channels, kernel and stride must be positive, got {in_channels}→{out_channels}, k {kernel}, stride {}",
                options.stride
            )));
        }
        let shape = [out_channels, in_channels, kernel];
        let weight = glorot_uniform(&shape, in_channels * kernel, out_channels * kernel, rng);
        Ok(Conv1d {
            weight: Param::new("weight", weight),
            bias: Some(Param::new("bias", Tensor::zeros(&[out_channels]))),
            options,
        })
    }
    pub fn without_bias(mut self) -> Self {
        self.bias = None;
        self
    }
}

impl<T: Float> Conv1d<T> {
    /// The 1-d form of [`Conv2d::forward_act_pool`] ([`conv1d_act_max_pool`]).
    pub fn forward_act_pool(
        &mut self,
        x: &Var<T>,
        slope: T,
        pool: &MaxPool1d,
        ctx: &mut Ctx<T>,
    ) -> Result<Var<T>> {
        let w = ctx.param(&self.weight);
        let b = self.bias.as_ref().map(|b| ctx.param(b));
        conv1d_act_max_pool(
            x,
            &w,
            b.as_ref(),
            &self.options,
            slope,
            pool.pool,
            pool.stride,
        )
    }
}

impl<T: Float> Conv1d<T> {
    /// The same block on a channels-last sequence `x: (N, L, C)` (time in rows, as Keras'
    /// Conv1D and as recurrent layers read it), giving `(N, P, O)`. With 'valid' padding
    /// this is [`conv1d_seq_act_max_pool`], which convolves the sequence where it lies;
    /// other paddings go through the channels-first op between two transposes.
    pub fn forward_seq_act_pool(
        &mut self,
        x: &Var<T>,
        slope: T,
        pool: &MaxPool1d,
        ctx: &mut Ctx<T>,
    ) -> Result<Var<T>> {
        if self.options.padding != Padding::Valid {
            let y = self.forward_act_pool(&x.permute(&[0, 2, 1])?, slope, pool, ctx)?;
            return y.permute(&[0, 2, 1]);
        }
        let w = ctx.param(&self.weight);
        let b = self.bias.as_ref().map(|b| ctx.param(b));
        let pooling = (pool.pool, pool.stride);
        conv1d_seq_act_max_pool(x, &w, b.as_ref(), self.options.stride, slope, pooling)
    }
}

impl<T: Float> Layer<T> for Conv1d<T> {
    fn forward(&mut self, x: &Var<T>, ctx: &mut Ctx<T>) -> Result<Var<T>> {
        let w = ctx.param(&self.weight);
        let b = self.bias.as_ref().map(|b| ctx.param(b));
        conv1d(x, &w, b.as_ref(), &self.options)
    }
    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        conv1d_output_shape(input, self.weight.value.shape(), &self.options)
    }
    fn describe(&self) -> String {
        let s = self.weight.value.shape();
        let mut d = format!(
            "Conv1d({}→{}, {}, {}",
            s[1],
            s[0],
            s[2],
            describe_padding(&self.options.padding)
        );
        if self.options.stride != 1 {
            d += &format!(", stride {}", self.options.stride);
        }
        if self.bias.is_none() {
            d += ", no bias";
        }
        d + ")"
    }
    fn params(&self) -> Vec<&Param<T>> {
        std::iter::once(&self.weight).chain(&self.bias).collect()
    }
    fn params_mut(&mut self) -> Vec<&mut Param<T>> {
        std::iter::once(&mut self.weight)
            .chain(&mut self.bias)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Tape;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn conv2d_layer_shapes_names_and_init() {
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let mut conv = Conv2d::<f32>::new(1, 3, (8, 8), Conv2dOptions::same(), &mut rng).unwrap();
        assert_eq!(conv.describe(), "Conv2d(1→3, 8×8, same)");
        assert_eq!(
            conv.output_shape(&[4, 1, 80, 80]).unwrap(),
            vec![4, 3, 80, 80]
        );
        assert!(conv.output_shape(&[4, 2, 80, 80]).is_err());
        let names: Vec<&str> = conv.params().iter().map(|p| p.name()).collect();
        assert_eq!(names, ["weight", "bias"]);
        // Keras fans: 1·64 in, 3·64 out.
        let limit = (6.0f32 / 256.0).sqrt();
        let w = conv.weight.value.data();
        assert!(w.iter().all(|v| v.abs() <= limit) && w.iter().any(|v| v.abs() > 0.8 * limit));
        assert!(conv
            .bias
            .as_ref()
            .unwrap()
            .value
            .data()
            .iter()
            .all(|&b| b == 0.0));

        let tape = Tape::new();
        let x = tape.leaf(Tensor::<f32>::ones(&[2, 1, 10, 9]));
        let y = conv.forward(&x, &mut Ctx::train(&tape, 0)).unwrap();
        assert_eq!(y.shape(), &[2, 3, 10, 9]);
        let mut loss_seed = Tensor::ones(y.shape());
        loss_seed.data_mut()[0] = 2.0;
        let grads = y.backward_with(loss_seed).unwrap();
        assert_eq!(grads.param(&conv.weight).unwrap().shape(), &[3, 1, 8, 8]);
        assert_eq!(
            grads.param(conv.bias.as_ref().unwrap()).unwrap().data()[1],
            180.0
        );
    }

    #[test]
    fn conv1d_layer() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let opts = Conv1dOptions {
            stride: 2,
            ..Conv1dOptions::default()
        };
        let mut conv = Conv1d::<f64>::new(3, 5, 4, opts, &mut rng)
            .unwrap()
            .without_bias();
        assert_eq!(conv.describe(), "Conv1d(3→5, 4, valid, stride 2, no bias)");
        assert_eq!(conv.output_shape(&[2, 3, 11]).unwrap(), vec![2, 5, 4]);
        let y = conv
            .forward(&Var::constant(Tensor::zeros(&[2, 3, 11])), &mut Ctx::eval())
            .unwrap();
        assert_eq!(y.shape(), &[2, 5, 4]);
        assert_eq!(conv.params().len(), 1);
        assert!(Conv1d::<f32>::new(3, 5, 0, Conv1dOptions::default(), &mut rng).is_err());
        assert!(Conv2d::<f32>::new(
            1,
            3,
            (8, 8),
            Conv2dOptions::same().with_stride(0, 1),
            &mut rng
        )
        .is_err());
    }
}
