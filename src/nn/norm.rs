//! `BatchNorm`: Keras' `BatchNormalization` over channel axis 1 of `(N, C)`,
//! `(N, C, L)` or `(N, C, H, W)`.

use super::{Ctx, Layer, MaxPool2d};
use crate::ops::{self, batch_norm_relu_max_pool2d, BatchNormConfig, PoolWindow, RunningStats};
use crate::{Error, Float, Param, Result, Tensor, Var};

/// γ (ones) and β (zeros) are trained; the running mean (zeros) and variance (ones) are
/// buffers, updated in train mode (see [`ops::norm`] for the rule) and used in eval mode.
pub struct BatchNorm<T: Float> {
    pub gamma: Param<T>,
    pub beta: Param<T>,
    pub moving_mean: Param<T>,
    pub moving_variance: Param<T>,
    pub config: BatchNormConfig,
}

impl<T: Float> BatchNorm<T> {
    /// Keras defaults: momentum 0.99, epsilon 1e-3.
    pub fn new(channels: usize) -> Self {
        Self::with_config(channels, BatchNormConfig::default())
    }
    pub fn with_config(channels: usize, config: BatchNormConfig) -> Self {
        let stats = RunningStats::<T>::new(channels);
        BatchNorm {
            gamma: Param::new("gamma", Tensor::ones(&[channels])),
            beta: Param::new("beta", Tensor::zeros(&[channels])),
            moving_mean: Param::new("moving_mean", stats.mean),
            moving_variance: Param::new("moving_variance", stats.var),
            config,
        }
    }
    pub fn channels(&self) -> usize {
        self.gamma.value.len()
    }
}

impl<T: Float> BatchNorm<T> {
    /// `pool(relu(self(x)))` as one op ([`batch_norm_relu_max_pool2d`]), or `relu(self(x))`
    /// with `pool` None: the values, gradients and running statistics of the layers in
    /// turn, without their full-size intermediate tensors.
    pub fn forward_relu_pool(
        &mut self,
        x: &Var<T>,
        pool: Option<&MaxPool2d>,
        ctx: &mut Ctx<T>,
    ) -> Result<Var<T>> {
        let window = pool.map(|p| PoolWindow {
            size: p.pool,
            stride: p.stride,
        });
        self.with_stats(ctx, |gamma, beta, stats, training, config| {
            batch_norm_relu_max_pool2d(x, gamma, beta, stats, training, config, window)
        })
    }

    /// Run a batch-norm op with this layer's γ, β and running statistics, keeping the
    /// statistics it leaves (updated in train mode).
    fn with_stats(
        &mut self,
        ctx: &mut Ctx<T>,
        op: impl FnOnce(
            &Var<T>,
            &Var<T>,
            &mut RunningStats<T>,
            bool,
            &BatchNormConfig,
        ) -> Result<Var<T>>,
    ) -> Result<Var<T>> {
        let (gamma, beta) = (ctx.param(&self.gamma), ctx.param(&self.beta));
        let mut stats = RunningStats {
            mean: self.moving_mean.value.clone(),
            var: self.moving_variance.value.clone(),
        };
        let y = op(&gamma, &beta, &mut stats, ctx.is_training(), &self.config)?;
        self.moving_mean.value = stats.mean;
        self.moving_variance.value = stats.var;
        Ok(y)
    }
}

impl<T: Float> Layer<T> for BatchNorm<T> {
    fn forward(&mut self, x: &Var<T>, ctx: &mut Ctx<T>) -> Result<Var<T>> {
        self.with_stats(ctx, |gamma, beta, stats, training, config| {
            ops::batch_norm(x, gamma, beta, stats, training, config)
        })
    }
    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        if (2..=4).contains(&input.len()) && input[1] == self.channels() {
            Ok(input.to_vec())
        } else {
            Err(Error::shape(
                "BatchNorm",
                format!(
                    "expects (N, {}, …) of rank 2 to 4, got {input:?}",
                    self.channels()
                ),
            ))
        }
    }
    fn describe(&self) -> String {
        format!("BatchNorm({})", self.channels())
    }
    fn params(&self) -> Vec<&Param<T>> {
        vec![&self.gamma, &self.beta]
    }
    fn params_mut(&mut self) -> Vec<&mut Param<T>> {
        vec![&mut self.gamma, &mut self.beta]
    }
    fn buffers(&self) -> Vec<&Param<T>> {
        vec![&self.moving_mean, &self.moving_variance]
    }
    fn buffers_mut(&mut self) -> Vec<&mut Param<T>> {
        vec![&mut self.moving_mean, &mut self.moving_variance]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Tape;

    #[test]
    fn train_updates_running_stats_and_eval_uses_them() {
        let mut bn = BatchNorm::<f64>::new(2);
        assert_eq!(crate::nn::count_params(&bn.params()), 4);
        assert_eq!(bn.buffers().len(), 2);
        let x = Var::constant(Tensor::new(vec![1.0, 10.0, 3.0, 20.0], &[2, 2]).unwrap());
        let tape = Tape::new();
        bn.forward(&x, &mut Ctx::train(&tape, 0)).unwrap();
        assert!((bn.moving_mean.value.data()[1] - 0.15).abs() < 1e-12);
        let before = bn.moving_mean.value.clone();
        let y = bn.forward(&x, &mut Ctx::eval()).unwrap();
        assert_eq!(
            bn.moving_mean.value, before,
            "eval must not update the statistics"
        );
        let (mu, var) = (
            bn.moving_mean.value.data()[0],
            bn.moving_variance.value.data()[0],
        );
        let want = (1.0 - mu) / (var + 1e-3).sqrt();
        assert!((y.value().data()[0] - want).abs() < 1e-12);
        assert_eq!(bn.output_shape(&[5, 2, 7, 7]).unwrap(), vec![5, 2, 7, 7]);
        assert!(bn.output_shape(&[5, 3]).is_err());
    }

    #[test]
    fn fused_forward_updates_the_statistics_as_the_layers_do() {
        let x = Tensor::from_fn(&[4, 2, 4, 6], |i| ((i * 37) % 23) as f64 * 0.1 - 1.0);
        let (mut fused, mut separate) = (BatchNorm::<f64>::new(2), BatchNorm::<f64>::new(2));
        let mut pool = MaxPool2d::square(2).unwrap();
        let tape = Tape::new();
        let x = tape.leaf(x);
        let y = fused
            .forward_relu_pool(&x, Some(&pool), &mut Ctx::train(&tape, 0))
            .unwrap();
        let mut ctx = Ctx::train(&tape, 0);
        let h = separate.forward(&x, &mut ctx).unwrap().relu();
        let want = pool.forward(&h, &mut ctx).unwrap();
        assert!(y.value().max_abs_diff(want.value()).unwrap() < 1e-12);
        for (a, b) in fused.buffers().iter().zip(separate.buffers()) {
            assert!(a.value.max_abs_diff(&b.value).unwrap() < 1e-12);
        }
        let y = fused.forward_relu_pool(&x, None, &mut Ctx::eval()).unwrap();
        assert_eq!(y.shape(), &[4, 2, 4, 6]);
    }
}
