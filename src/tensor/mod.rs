//! `Tensor<T>`: an n-d array with contiguous row-major storage and a shape.
//!
//! Storage sits behind an `Arc`, so cloning a tensor (to keep it for a backward pass, or
//! to hand a parameter to the tape) costs a pointer copy; writing through
//! [`Tensor::data_mut`] copies only when the storage is shared.

mod broadcast;
mod shape;

pub use broadcast::{broadcast_shapes, broadcast_strides};
pub use shape::{numel, Shape};

use crate::{Error, Float, Result};
use rand::{Rng, RngExt};
use std::sync::Arc;

#[derive(Clone, PartialEq)]
pub struct Tensor<T> {
    data: Arc<Vec<T>>,
    shape: Shape,
}

impl<T: Float> Tensor<T> {
    /// A tensor over `data` with `shape`; the element count must match.
    pub fn new(data: Vec<T>, shape: &[usize]) -> Result<Self> {
        if data.len() != numel(shape) {
            return Err(Error::shape(
                "Tensor::new",
                format!("{} elements do not fill shape {shape:?}", data.len()),
            ));
        }
        Ok(Tensor {
            data: Arc::new(data),
            shape: Shape::from(shape),
        })
    }

    pub fn full(shape: &[usize], value: T) -> Self {
        Tensor {
            data: Arc::new(vec![value; numel(shape)]),
            shape: Shape::from(shape),
        }
    }
    pub fn zeros(shape: &[usize]) -> Self {
        Self::full(shape, T::ZERO)
    }
    pub fn ones(shape: &[usize]) -> Self {
        Self::full(shape, T::ONE)
    }
    /// A 0-d tensor holding one value.
    pub fn scalar(value: T) -> Self {
        Self::full(&[], value)
    }
    /// Element `i` (in row-major order) is `f(i)`.
    pub fn from_fn(shape: &[usize], f: impl FnMut(usize) -> T) -> Self {
        Tensor {
            data: Arc::new((0..numel(shape)).map(f).collect()),
            shape: Shape::from(shape),
        }
    }
    /// Uniform samples in `[low, high)`.
    pub fn uniform(shape: &[usize], low: f64, high: f64, rng: &mut impl Rng) -> Self {
        Self::from_fn(shape, |_| T::from_f64(rng.random_range(low..high)))
    }
    /// Normal samples with mean 0 and standard deviation `std` (Box–Muller).
    pub fn randn(shape: &[usize], std: f64, rng: &mut impl Rng) -> Self {
        Self::from_fn(shape, |_| {
            let u1: f64 = rng.random_range(f64::EPSILON..1.0);
            let u2: f64 = rng.random_range(0.0..1.0);
            T::from_f64(std * (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos())
        })
    }

    pub fn shape(&self) -> &[usize] {
        self.shape.dims()
    }
    pub fn rank(&self) -> usize {
        self.shape.rank()
    }
    pub fn len(&self) -> usize {
        self.data.len()
    }
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }
    pub fn data(&self) -> &[T] {
        &self.data
    }
    /// Mutable access; copies the storage first if another tensor shares it.
    pub fn data_mut(&mut self) -> &mut [T] {
        Arc::make_mut(&mut self.data).as_mut_slice()
    }
    pub fn into_vec(self) -> Vec<T> {
        Arc::try_unwrap(self.data).unwrap_or_else(|shared| (*shared).clone())
    }
    /// The single value of a tensor with one element.
    pub fn item(&self) -> Result<T> {
        match self.data.as_slice() {
            [v] => Ok(*v),
            _ => Err(Error::shape(
                "item",
                format!("tensor of shape {:?} is not a single value", self.shape()),
            )),
        }
    }

    /// The same elements under a new shape with equal element count (no copy).
    pub fn reshape(&self, shape: &[usize]) -> Result<Self> {
        if numel(shape) != self.len() {
            return Err(Error::shape(
                "reshape",
                format!("cannot view {:?} as {shape:?}", self.shape()),
            ));
        }
        Ok(Tensor {
            data: self.data.clone(),
            shape: Shape::from(shape),
        })
    }

    pub fn map(&self, f: impl Fn(T) -> T) -> Self {
        Tensor {
            data: Arc::new(self.data.iter().map(|&v| f(v)).collect()),
            shape: self.shape.clone(),
        }
    }

    /// [`Tensor::map`] on the thread pool, in runs of at least 16 Ki elements: for
    /// batch-sized elementwise passes (a CnnLstm batch's input rescale, 819 Ki values,
    /// was 4 % of its training step on one thread). Each element is computed alone, so
    /// the result does not depend on the thread count.
    pub fn par_map(&self, f: impl Fn(T) -> T + Sync) -> Self {
        use rayon::prelude::*;
        Tensor {
            data: Arc::new(
                self.data
                    .par_iter()
                    .with_min_len(1 << 14)
                    .map(|&v| f(v))
                    .collect(),
            ),
            shape: self.shape.clone(),
        }
    }
    /// Elementwise `f(a, b)` over two tensors of the same shape.
    pub fn zip_map(&self, other: &Self, f: impl Fn(T, T) -> T) -> Result<Self> {
        if self.shape != other.shape {
            return Err(Error::shape(
                "zip_map",
                format!("{:?} vs {:?}", self.shape(), other.shape()),
            ));
        }
        Ok(Tensor {
            data: Arc::new(
                self.data
                    .iter()
                    .zip(other.data.iter())
                    .map(|(&a, &b)| f(a, b))
                    .collect(),
            ),
            shape: self.shape.clone(),
        })
    }
    /// `self += other` elementwise; shapes must match. Used to accumulate gradients.
    pub fn add_assign(&mut self, other: &Self) -> Result<()> {
        if self.shape != other.shape {
            return Err(Error::shape(
                "add_assign",
                format!("{:?} += {:?}", self.shape(), other.shape()),
            ));
        }
        for (a, &b) in self.data_mut().iter_mut().zip(other.data.iter()) {
            *a += b;
        }
        Ok(())
    }
    /// Convert every element to another float type (f32 ↔ f64).
    pub fn cast<U: Float>(&self) -> Tensor<U> {
        Tensor {
            data: Arc::new(self.data.iter().map(|v| U::from_f64(v.to_f64())).collect()),
            shape: self.shape.clone(),
        }
    }
    pub fn sum_all(&self) -> T {
        self.data.iter().copied().sum()
    }
    /// True when every element is finite (no NaN, no ±inf).
    pub fn all_finite(&self) -> bool {
        self.data.iter().all(|v| v.is_finite())
    }
    /// The largest |self − other| over all elements (shapes must match).
    pub fn max_abs_diff(&self, other: &Self) -> Result<f64> {
        let d = self.zip_map(other, |a, b| (a - b).abs())?;
        Ok(d.data.iter().fold(0.0, |m, v| m.max(v.to_f64())))
    }
}

impl<T: Float> std::fmt::Debug for Tensor<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        const SHOWN: usize = 8;
        write!(f, "Tensor<{}>{:?} [", T::NAME, self.shape())?;
        for (i, v) in self.data.iter().take(SHOWN).enumerate() {
            if i > 0 {
                write!(f, ", ")?;
            }
            write!(f, "{v:.5}")?;
        }
        if self.len() > SHOWN {
            write!(f, ", … ({} more)", self.len() - SHOWN)?;
        }
        write!(f, "]")
    }
}
