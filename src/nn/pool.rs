//! Pooling layers (no parameters): max pooling ('valid', as Keras) and global average.

use super::{Ctx, Layer};
use crate::ops::pool::{
    global_avg_pool1d, global_avg_pool2d, max_pool1d, max_pool1d_output_shape, max_pool2d,
    max_pool2d_output_shape,
};
use crate::{Error, Float, Result, Var};

/// 2-d max pooling over (N, C, H, W); Keras' default stride is the pool size.
#[derive(Clone, Copy, Debug)]
pub struct MaxPool2d {
    pub pool: (usize, usize),
    pub stride: (usize, usize),
}

impl MaxPool2d {
    pub fn new(pool: (usize, usize), stride: (usize, usize)) -> Result<Self> {
        if [pool.0, pool.1, stride.0, stride.1].contains(&0) {
            return Err(Error::invalid(format!(
                "MaxPool2d: pool {pool:?}, stride {stride:?}"
            )));
        }
        Ok(MaxPool2d { pool, stride })
    }
    /// Non-overlapping windows: stride = pool (Keras' `MaxPooling2D(pool)`).
    pub fn square(pool: usize) -> Result<Self> {
        Self::new((pool, pool), (pool, pool))
    }
}

impl<T: Float> Layer<T> for MaxPool2d {
    fn forward(&mut self, x: &Var<T>, _ctx: &mut Ctx<T>) -> Result<Var<T>> {
        max_pool2d(x, self.pool, self.stride)
    }
    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        max_pool2d_output_shape(input, self.pool, self.stride)
    }
    fn describe(&self) -> String {
        let (p, s) = (self.pool, self.stride);
        format!("MaxPool2d({}×{}, stride {}×{})", p.0, p.1, s.0, s.1)
    }
}

/// 1-d max pooling over (N, C, L).
#[derive(Clone, Copy, Debug)]
pub struct MaxPool1d {
    pub pool: usize,
    pub stride: usize,
}

impl MaxPool1d {
    pub fn new(pool: usize, stride: usize) -> Result<Self> {
        if pool == 0 || stride == 0 {
            return Err(Error::invalid(format!(
                "MaxPool1d: pool {pool}, stride {stride}"
            )));
        }
        Ok(MaxPool1d { pool, stride })
    }
}

impl<T: Float> Layer<T> for MaxPool1d {
    fn forward(&mut self, x: &Var<T>, _ctx: &mut Ctx<T>) -> Result<Var<T>> {
        max_pool1d(x, self.pool, self.stride)
    }
    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        max_pool1d_output_shape(input, self.pool, self.stride)
    }
    fn describe(&self) -> String {
        format!("MaxPool1d({}, stride {})", self.pool, self.stride)
    }
}

fn global_shape(op: &'static str, input: &[usize], rank: usize) -> Result<Vec<usize>> {
    if input.len() != rank || input[2..].contains(&0) {
        return Err(Error::shape(
            op,
            format!("input must be {rank}-d, got {input:?}"),
        ));
    }
    Ok(input[..2].to_vec())
}

/// Global average pooling (N, C, H, W) → (N, C).
#[derive(Clone, Copy, Debug, Default)]
pub struct GlobalAvgPool2d;

impl<T: Float> Layer<T> for GlobalAvgPool2d {
    fn forward(&mut self, x: &Var<T>, _ctx: &mut Ctx<T>) -> Result<Var<T>> {
        global_avg_pool2d(x)
    }
    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        global_shape("GlobalAvgPool2d", input, 4)
    }
    fn describe(&self) -> String {
        "GlobalAvgPool2d".into()
    }
}

/// Global average pooling (N, C, L) → (N, C).
#[derive(Clone, Copy, Debug, Default)]
pub struct GlobalAvgPool1d;

impl<T: Float> Layer<T> for GlobalAvgPool1d {
    fn forward(&mut self, x: &Var<T>, _ctx: &mut Ctx<T>) -> Result<Var<T>> {
        global_avg_pool1d(x)
    }
    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        global_shape("GlobalAvgPool1d", input, 3)
    }
    fn describe(&self) -> String {
        "GlobalAvgPool1d".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Tensor;

    #[test]
    fn pool_layers() {
        let mut pool = MaxPool2d::square(4).unwrap();
        assert_eq!(Layer::<f32>::describe(&pool), "MaxPool2d(4×4, stride 4×4)");
        assert_eq!(
            Layer::<f32>::output_shape(&pool, &[8, 3, 80, 80]).unwrap(),
            vec![8, 3, 20, 20]
        );
        let x = Var::constant(Tensor::<f32>::from_fn(&[1, 1, 4, 4], |i| i as f32));
        let y = pool.forward(&x, &mut Ctx::eval()).unwrap();
        assert_eq!(y.value().data(), &[15.0]);
        assert!(MaxPool2d::new((2, 2), (0, 2)).is_err());
        assert!(MaxPool1d::new(0, 1).is_err());
        let mut gap = GlobalAvgPool2d;
        let y = gap.forward(&x, &mut Ctx::eval()).unwrap();
        assert_eq!(
            (y.shape(), y.value().data()),
            (&[1usize, 1][..], &[7.5f32][..])
        );
        assert!(Layer::<f32>::output_shape(&gap, &[1, 2, 3]).is_err());
        assert_eq!(
            Layer::<f32>::output_shape(&GlobalAvgPool1d, &[1, 2, 3]).unwrap(),
            vec![1, 2]
        );
        let m1 = MaxPool1d::new(3, 2).unwrap();
        assert_eq!(
            Layer::<f32>::output_shape(&m1, &[2, 4, 9]).unwrap(),
            vec![2, 4, 4]
        );
    }
}
