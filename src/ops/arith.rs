//! Arithmetic: `+ − × ÷` with NumPy broadcasting, and the pointwise ops built on scalars
//! (negation, `x + c`, `c·x`, `x^p`, `√x`, `x²`).
//!
//! For a broadcast binary op `z = a ∘ b`, each input element feeds every output element it
//! was stretched to, so its gradient is the pointwise gradient summed over the broadcast
//! axes ([`unbroadcast`]).

use super::broadcast::{broadcast_binary, unbroadcast};
use super::{map_elementwise, zip_elementwise};
use crate::kernels::elementwise::{binary, binary_vs, BinaryOp};
use crate::{Float, Result, Tensor, Var};

/// A broadcast binary op in a backward pass, where the shapes are known to fit.
fn bin<T: Float>(name: &'static str, op: BinaryOp, a: &Tensor<T>, b: &Tensor<T>) -> Tensor<T> {
    broadcast_binary(name, op, a, b).expect("shapes were checked in the forward pass")
}

/// `z = a + b` (broadcasting). `∂z/∂a = 1`, `∂z/∂b = 1`:
/// `da = Σ_broadcast dz`, `db = Σ_broadcast dz`.
pub fn add<T: Float>(a: &Var<T>, b: &Var<T>) -> Result<Var<T>> {
    let z = broadcast_binary("add", BinaryOp::Add, a.value(), b.value())?;
    let (sa, sb) = (a.shape().to_vec(), b.shape().to_vec());
    Ok(Var::from_op("add", z, &[a, b], move |g, needs| {
        vec![
            needs[0].then(|| unbroadcast(g, &sa)),
            needs[1].then(|| unbroadcast(g, &sb)),
        ]
    }))
}

/// `z = a − b` (broadcasting). `da = Σ_broadcast dz`, `db = −Σ_broadcast dz`.
pub fn sub<T: Float>(a: &Var<T>, b: &Var<T>) -> Result<Var<T>> {
    let z = broadcast_binary("sub", BinaryOp::Sub, a.value(), b.value())?;
    let (sa, sb) = (a.shape().to_vec(), b.shape().to_vec());
    Ok(Var::from_op("sub", z, &[a, b], move |g, needs| {
        vec![
            needs[0].then(|| unbroadcast(g, &sa)),
            needs[1].then(|| negate(&unbroadcast(g, &sb))),
        ]
    }))
}

/// `z = a · b` elementwise (broadcasting). `∂z/∂a = b`, `∂z/∂b = a`:
/// `da = Σ_broadcast dz·b`, `db = Σ_broadcast dz·a`.
pub fn mul<T: Float>(a: &Var<T>, b: &Var<T>) -> Result<Var<T>> {
    let z = broadcast_binary("mul", BinaryOp::Mul, a.value(), b.value())?;
    let (av, bv) = (a.value().clone(), b.value().clone());
    Ok(Var::from_op("mul", z, &[a, b], move |g, needs| {
        vec![
            needs[0].then(|| unbroadcast(&bin("mul", BinaryOp::Mul, g, &bv), av.shape())),
            needs[1].then(|| unbroadcast(&bin("mul", BinaryOp::Mul, g, &av), bv.shape())),
        ]
    }))
}

/// `z = a / b` elementwise (broadcasting). `∂z/∂a = 1/b`, `∂z/∂b = −a/b² = −z/b`:
/// `da = Σ_broadcast dz/b`, `db = −Σ_broadcast dz·z/b`.
pub fn div<T: Float>(a: &Var<T>, b: &Var<T>) -> Result<Var<T>> {
    let z = broadcast_binary("div", BinaryOp::Div, a.value(), b.value())?;
    let sa = a.shape().to_vec();
    let bv = b.value().clone();
    let zv = z.clone();
    Ok(Var::from_op("div", z, &[a, b], move |g, needs| {
        let da = needs[0].then(|| unbroadcast(&bin("div", BinaryOp::Div, g, &bv), &sa));
        let db = needs[1].then(|| {
            let gz = zip_elementwise(g, &zv, |g, z, out| binary(BinaryOp::Mul, g, z, out));
            negate(&unbroadcast(
                &bin("div", BinaryOp::Div, &gz, &bv),
                bv.shape(),
            ))
        });
        vec![da, db]
    }))
}

fn negate<T: Float>(t: &Tensor<T>) -> Tensor<T> {
    map_elementwise(t, |x, out| binary_vs(BinaryOp::Mul, x, -T::ONE, out))
}

/// `y = −x`; `dx = −dy`.
pub fn neg<T: Float>(x: &Var<T>) -> Var<T> {
    Var::from_op("neg", negate(x.value()), &[x], |g, _| vec![Some(negate(g))])
}

/// `y = x + c` for a constant `c`; `dx = dy`.
pub fn add_scalar<T: Float>(x: &Var<T>, c: T) -> Var<T> {
    let y = map_elementwise(x.value(), |x, out| binary_vs(BinaryOp::Add, x, c, out));
    Var::from_op("add_scalar", y, &[x], |g, _| vec![Some(g.clone())])
}

/// `y = c·x` for a constant `c`; `dx = c·dy`.
pub fn mul_scalar<T: Float>(x: &Var<T>, c: T) -> Var<T> {
    let scale =
        move |t: &Tensor<T>| map_elementwise(t, |x, out| binary_vs(BinaryOp::Mul, x, c, out));
    Var::from_op("mul_scalar", scale(x.value()), &[x], move |g, _| {
        vec![Some(scale(g))]
    })
}

/// `y = xᵖ` for a constant `p`; `dx = dy · p·xᵖ⁻¹`. Integer `p` uses repeated
/// multiplication (exact for negative `x`); other `p` need `x > 0` (else NaN, as `powf`).
pub fn pow_scalar<T: Float>(x: &Var<T>, p: T) -> Var<T> {
    let pow = move |v: T, e: T| {
        let r = e.to_f64().round();
        if r == e.to_f64() && r.abs() <= i32::MAX as f64 {
            v.powi(r as i32)
        } else {
            v.powf(e)
        }
    };
    let y = x.value().map(|v| pow(v, p));
    let xv = x.value().clone();
    Var::from_op("pow_scalar", y, &[x], move |g, _| {
        let dx = g.zip_map(&xv, |g, x| g * p * pow(x, p - T::ONE));
        vec![Some(dx.expect("gradient has the output's shape"))]
    })
}

/// `y = √x`; `dx = dy / (2√x) = dy / (2y)`.
pub fn sqrt<T: Float>(x: &Var<T>) -> Var<T> {
    let y = x.value().map(Float::sqrt);
    let yv = y.clone();
    Var::from_op("sqrt", y, &[x], move |g, _| {
        let half = T::from_f64(0.5);
        let dx = g.zip_map(&yv, |g, y| half * g / y);
        vec![Some(dx.expect("gradient has the output's shape"))]
    })
}

/// `y = x²`; `dx = 2x·dy`.
pub fn square<T: Float>(x: &Var<T>) -> Var<T> {
    let xv = x.value().clone();
    let y = zip_elementwise(&xv, &xv, |a, b, out| binary(BinaryOp::Mul, a, b, out));
    Var::from_op("square", y, &[x], move |g, _| {
        let two = T::from_f64(2.0);
        let dx = g.zip_map(&xv, |g, x| two * x * g);
        vec![Some(dx.expect("gradient has the output's shape"))]
    })
}

impl<T: Float> Var<T> {
    /// [`add`]: `self + other` with broadcasting.
    pub fn add(&self, other: &Var<T>) -> Result<Var<T>> {
        add(self, other)
    }
    /// [`sub`]: `self − other` with broadcasting.
    pub fn sub(&self, other: &Var<T>) -> Result<Var<T>> {
        sub(self, other)
    }
    /// [`mul`]: `self · other` elementwise with broadcasting.
    pub fn mul(&self, other: &Var<T>) -> Result<Var<T>> {
        mul(self, other)
    }
    /// [`div`]: `self / other` elementwise with broadcasting.
    pub fn div(&self, other: &Var<T>) -> Result<Var<T>> {
        div(self, other)
    }
    /// [`neg`]: `−self`.
    pub fn neg(&self) -> Var<T> {
        neg(self)
    }
    /// [`add_scalar`]: `self + c`.
    pub fn add_scalar(&self, c: T) -> Var<T> {
        add_scalar(self, c)
    }
    /// [`mul_scalar`]: `c · self`.
    pub fn mul_scalar(&self, c: T) -> Var<T> {
        mul_scalar(self, c)
    }
    /// [`pow_scalar`]: `selfᵖ`.
    pub fn pow_scalar(&self, p: T) -> Var<T> {
        pow_scalar(self, p)
    }
    /// [`square`]: `self²`.
    pub fn square(&self) -> Var<T> {
        square(self)
    }
    /// [`sqrt`]: `√self`.
    pub fn sqrt(&self) -> Var<T> {
        sqrt(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::autograd::{gradcheck, GradcheckOptions};
    use crate::Tensor;

    fn check(f: impl Fn(&[Var<f64>]) -> Result<Var<f64>>, inputs: &[Tensor<f64>]) {
        let r = gradcheck(f, inputs, &GradcheckOptions::default()).unwrap();
        r.check(1e-6).unwrap();
    }

    /// Values in [0.5, 2) with alternating signs: away from 0 so ÷ and √ are smooth.
    fn t(shape: &[usize], seed: usize) -> Tensor<f64> {
        Tensor::from_fn(shape, |i| {
            let v = 0.5 + ((i * 7 + seed * 13) % 11) as f64 * 0.137;
            if (i + seed).is_multiple_of(3) {
                -v
            } else {
                v
            }
        })
    }
    fn pos(shape: &[usize], seed: usize) -> Tensor<f64> {
        t(shape, seed).map(f64::abs)
    }

    #[test]
    fn binary_ops_gradcheck_same_shape() {
        let (a, b) = (t(&[3, 4], 1), t(&[3, 4], 2));
        check(|v| add(&v[0], &v[1]), &[a.clone(), b.clone()]);
        check(|v| sub(&v[0], &v[1]), &[a.clone(), b.clone()]);
        check(|v| mul(&v[0], &v[1]), &[a.clone(), b.clone()]);
        check(|v| div(&v[0], &v[1]), &[a, b]);
    }

    #[test]
    fn binary_ops_gradcheck_broadcast() {
        // (N,C) + (C): a bias row; (N,1)·(N,C): a per-sample scale; a 0-d scalar.
        let cases: [(&[usize], &[usize]); 5] = [
            (&[4, 3], &[3]),
            (&[4, 1], &[4, 3]),
            (&[2, 3], &[]),
            (&[2, 1, 3], &[4, 1]),
            (&[1], &[2, 2]),
        ];
        for (sa, sb) in cases {
            let (a, b) = (t(sa, 3), t(sb, 4));
            check(|v| add(&v[0], &v[1]), &[a.clone(), b.clone()]);
            check(|v| sub(&v[0], &v[1]), &[a.clone(), b.clone()]);
            check(|v| mul(&v[0], &v[1]), &[a.clone(), b.clone()]);
            check(|v| div(&v[0], &v[1]), &[a.clone(), b.clone()]);
            check(|v| div(&v[1], &v[0]), &[a, b]);
        }
    }

    #[test]
    fn unary_ops_gradcheck() {
        let x = t(&[2, 5], 5);
        check(|v| Ok(neg(&v[0])), std::slice::from_ref(&x));
        check(|v| Ok(add_scalar(&v[0], 1.5)), std::slice::from_ref(&x));
        check(|v| Ok(mul_scalar(&v[0], -2.5)), std::slice::from_ref(&x));
        check(|v| Ok(square(&v[0])), std::slice::from_ref(&x));
        check(|v| Ok(pow_scalar(&v[0], 3.0)), std::slice::from_ref(&x));
        check(|v| Ok(pow_scalar(&v[0], -2.0)), &[x]);
        let p = pos(&[2, 5], 6);
        check(|v| Ok(pow_scalar(&v[0], 1.7)), std::slice::from_ref(&p));
        check(|v| Ok(sqrt(&v[0])), &[p]);
    }

    #[test]
    fn values_are_right() {
        let a = Var::constant(Tensor::new(vec![1.0, 2.0, 3.0, 4.0], &[2, 2]).unwrap());
        let b = Var::constant(Tensor::new(vec![10.0, 20.0], &[2]).unwrap());
        assert_eq!(a.add(&b).unwrap().value().data(), &[11.0, 22.0, 13.0, 24.0]);
        assert_eq!(a.div(&b).unwrap().value().data(), &[0.1, 0.1, 0.3, 0.2]);
        assert_eq!(pow_scalar(&a, 2.0).value().data(), &[1.0, 4.0, 9.0, 16.0]);
        let neg_base = Var::constant(Tensor::new(vec![-2.0], &[1]).unwrap());
        assert_eq!(pow_scalar(&neg_base, 3.0).value().data(), &[-8.0]);
    }

    #[test]
    fn shape_mismatch_is_an_error() {
        let a = Var::constant(Tensor::<f64>::zeros(&[2, 3]));
        let b = Var::constant(Tensor::<f64>::zeros(&[2]));
        for r in [add(&a, &b), sub(&a, &b), mul(&a, &b), div(&a, &b)] {
            let e = r.unwrap_err().to_string();
            assert!(e.contains("[2, 3]") && e.contains("[2]"), "{e}");
        }
    }
}
