//! Pooling: max pooling ('valid' windows, as Keras) and global average pooling.
//!
//! Max pooling: `y[n, c, i, j] = max_{ki<ph, kj<pw} x[n, c, i·sh + ki, j·sw + kj]`. The
//! max is piecewise the identity of its winning input, so
//! `∂y[i, j]/∂x[p] = 1` if p is the window's argmax and 0 otherwise, giving
//! `dx[p] = Σ_{windows won by p} dy[i, j]` — the forward pass stores the argmax indices and
//! backward scatters through them. Overlapping windows (stride < pool) just add up.
//! (At ties the first maximum takes the gradient: a subgradient, as in every library.)
//!
//! Global average pooling: `y[n, c] = (1/HW) Σ_{h,w} x[n, c, h, w]`, so
//! `dx[n, c, h, w] = dy[n, c] / HW`.

use crate::kernels::pool::{
    global_avg_pool_backward, global_avg_pool_forward, max_pool2d_backward, max_pool2d_forward,
    PoolGeometry,
};
use crate::kernels::Float;
use crate::{Error, Result, Tensor, Var};
use rayon::prelude::*;

/// Check a (N, C, H, W) shape against a pool window and stride.
pub(crate) fn pool_geometry(
    op: &'static str,
    x: &[usize],
    pool: (usize, usize),
    stride: (usize, usize),
) -> Result<(usize, usize, PoolGeometry)> {
    let &[n, c, h, w] = x else {
        return Err(Error::shape(
            op,
            format!("input must be 4-d NCHW, got {x:?}"),
        ));
    };
    if pool.0 == 0 || pool.1 == 0 || stride.0 == 0 || stride.1 == 0 {
        return Err(Error::invalid(format!(
            "{op}: pool {pool:?} and stride {stride:?} must be positive"
        )));
    }
    let g = PoolGeometry {
        height: h,
        width: w,
        pool_h: pool.0,
        pool_w: pool.1,
        stride_h: stride.0,
        stride_w: stride.1,
    };
    if !g.is_valid() {
        return Err(Error::shape(
            op,
            format!("window {pool:?} larger than input {h}×{w}"),
        ));
    }
    Ok((n, c, g))
}

/// Max pooling over the 4-d `x` reshaped as (N, C, H, W), returning the output with
/// shape `out_shape` (same memory layout).
fn max_pool<T: Float>(
    op: &'static str,
    x: &Var<T>,
    (n, c, g): (usize, usize, PoolGeometry),
    out_shape: Vec<usize>,
) -> Result<Var<T>> {
    let (in_len, out_len) = (c * g.plane_len(), c * g.out_len());
    let mut y = vec![T::ZERO; n * out_len];
    let mut argmax = vec![0u32; n * out_len];
    y.par_chunks_mut(out_len.max(1))
        .zip(argmax.par_chunks_mut(out_len.max(1)))
        .zip(x.value().data().par_chunks(in_len.max(1)))
        .for_each(|((y_n, a_n), x_n)| max_pool2d_forward(x_n, &g, y_n, a_n));
    let y = Tensor::new(y, &out_shape)?;
    let x_shape = x.shape().to_vec();
    Ok(Var::from_op(op, y, &[x], move |dy, _| {
        let mut dx = vec![T::ZERO; n * in_len];
        dx.par_chunks_mut(in_len.max(1))
            .zip(argmax.par_chunks(out_len.max(1)))
            .zip(dy.data().par_chunks(out_len.max(1)))
            .for_each(|((dx_n, a_n), dy_n)| max_pool2d_backward(dy_n, a_n, &g, dx_n));
        vec![Some(Tensor::new(dx, &x_shape).expect("input's size"))]
    }))
}

/// 2-d max pooling of `x` (N, C, H, W) with a `pool` = (ph, pw) window moved by `stride`
/// = (sh, sw), no padding: output (N, C, ⌊(H−ph)/sh⌋+1, ⌊(W−pw)/sw⌋+1).
pub fn max_pool2d<T: Float>(
    x: &Var<T>,
    pool: (usize, usize),
    stride: (usize, usize),
) -> Result<Var<T>> {
    let (n, c, g) = pool_geometry("max_pool2d", x.shape(), pool, stride)?;
    max_pool("max_pool2d", x, (n, c, g), vec![n, c, g.out_h(), g.out_w()])
}

/// The output shape of [`max_pool2d`].
pub fn max_pool2d_output_shape(
    input: &[usize],
    pool: (usize, usize),
    stride: (usize, usize),
) -> Result<Vec<usize>> {
    let (n, c, g) = pool_geometry("max_pool2d", input, pool, stride)?;
    Ok(vec![n, c, g.out_h(), g.out_w()])
}

fn as_1d(op: &'static str, x: &[usize]) -> Result<[usize; 4]> {
    match *x {
        [n, c, l] => Ok([n, c, 1, l]),
        _ => Err(Error::shape(
            op,
            format!("input must be 3-d NCL, got {x:?}"),
        )),
    }
}

/// 1-d max pooling of `x` (N, C, L): window `pool`, step `stride`, no padding; output
/// (N, C, ⌊(L−pool)/stride⌋+1). The 2-d case with H = 1.
pub fn max_pool1d<T: Float>(x: &Var<T>, pool: usize, stride: usize) -> Result<Var<T>> {
    let shape = as_1d("max_pool1d", x.shape())?;
    let (n, c, g) = pool_geometry("max_pool1d", &shape, (1, pool), (1, stride))?;
    max_pool("max_pool1d", x, (n, c, g), vec![n, c, g.out_w()])
}

/// The output shape of [`max_pool1d`].
pub fn max_pool1d_output_shape(input: &[usize], pool: usize, stride: usize) -> Result<Vec<usize>> {
    let shape = as_1d("max_pool1d", input)?;
    let (n, c, g) = pool_geometry("max_pool1d", &shape, (1, pool), (1, stride))?;
    Ok(vec![n, c, g.out_w()])
}

/// Mean over every axis after the first two: (N, C, ...) → (N, C).
fn global_avg_pool<T: Float>(op: &'static str, x: &Var<T>, rank: usize) -> Result<Var<T>> {
    let shape = x.shape().to_vec();
    if shape.len() != rank || shape[2..].contains(&0) {
        return Err(Error::shape(
            op,
            format!("input must be {rank}-d with non-empty spatial axes, got {shape:?}"),
        ));
    }
    let plane: usize = shape[2..].iter().product();
    let mut y = vec![T::ZERO; shape[0] * shape[1]];
    global_avg_pool_forward(x.value().data(), plane, &mut y);
    let y = Tensor::new(y, &shape[..2])?;
    Ok(Var::from_op(op, y, &[x], move |dy, _| {
        let mut dx = vec![T::ZERO; shape.iter().product()];
        global_avg_pool_backward(dy.data(), plane, &mut dx);
        vec![Some(Tensor::new(dx, &shape).expect("input's size"))]
    }))
}

/// Global average pooling (N, C, H, W) → (N, C).
pub fn global_avg_pool2d<T: Float>(x: &Var<T>) -> Result<Var<T>> {
    global_avg_pool("global_avg_pool2d", x, 4)
}

/// Global average pooling (N, C, L) → (N, C).
pub fn global_avg_pool1d<T: Float>(x: &Var<T>) -> Result<Var<T>> {
    global_avg_pool("global_avg_pool1d", x, 3)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::autograd::{gradcheck, GradcheckOptions};

    /// Distinct values, well separated (no ties, gaps ≫ the finite-difference step).
    fn distinct(shape: &[usize]) -> Tensor<f64> {
        let n: usize = shape.iter().product();
        Tensor::from_fn(shape, |i| ((i * 7919) % n) as f64 * 0.1 - 0.05 * n as f64)
    }

    fn check(f: impl Fn(&Var<f64>) -> Result<Var<f64>>, shape: &[usize]) {
        gradcheck(
            |v| f(&v[0]),
            &[distinct(shape)],
            &GradcheckOptions::default(),
        )
        .unwrap()
        .check(1e-6)
        .unwrap();
    }

    #[test]
    fn max_pool2d_gradcheck() {
        check(|x| max_pool2d(x, (2, 2), (2, 2)), &[2, 3, 6, 6]);
        check(|x| max_pool2d(x, (3, 2), (2, 3)), &[1, 2, 7, 8]);
    }

    #[test]
    fn overlapping_max_pool_gradcheck() {
        check(|x| max_pool2d(x, (3, 3), (1, 2)), &[2, 2, 6, 7]);
        check(|x| max_pool1d(x, 4, 2), &[2, 3, 11]);
    }

    #[test]
    fn max_pool1d_gradcheck() {
        check(|x| max_pool1d(x, 3, 3), &[2, 2, 10]);
    }

    #[test]
    fn global_avg_pool_gradcheck() {
        check(global_avg_pool2d, &[2, 3, 4, 5]);
        check(global_avg_pool1d, &[3, 2, 7]);
    }

    #[test]
    fn max_pool_values_and_shapes() {
        let x = Var::constant(Tensor::from_fn(&[1, 1, 4, 4], |i| i as f32));
        let y = max_pool2d(&x, (2, 2), (2, 2)).unwrap();
        assert_eq!(y.shape(), &[1, 1, 2, 2]);
        assert_eq!(y.value().data(), &[5.0, 7.0, 13.0, 15.0]);
        assert_eq!(
            max_pool2d_output_shape(&[128, 3, 80, 80], (4, 4), (4, 4)).unwrap(),
            vec![128, 3, 20, 20]
        );
        assert_eq!(
            max_pool1d_output_shape(&[2, 3, 10], 3, 2).unwrap(),
            vec![2, 3, 4]
        );
    }

    #[test]
    fn bad_pool_arguments_are_errors() {
        let x = Var::constant(Tensor::<f32>::zeros(&[1, 2, 4, 4]));
        assert!(max_pool2d(&x, (5, 1), (1, 1)).is_err());
        assert!(max_pool2d(&x, (2, 2), (0, 1)).is_err());
        assert!(max_pool2d(&x, (0, 2), (1, 1)).is_err());
        assert!(max_pool1d(&x, 2, 2).is_err(), "4-d into max_pool1d");
        assert!(global_avg_pool1d(&x).is_err());
        assert!(global_avg_pool2d(&Var::constant(Tensor::<f32>::zeros(&[1, 2, 0, 3]))).is_err());
    }
}
