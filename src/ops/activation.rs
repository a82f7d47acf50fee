//! Pointwise activations, each a pair: the function and its derivative. Both run on the
//! SIMD kernels of `kernels::activation`; the backward closure keeps whichever of the
//! input or output gives the cheaper derivative.

use super::{map_elementwise, zip_elementwise};
use crate::kernels::activation as k;
use crate::kernels::elementwise::{binary, BinaryOp};
use crate::{Float, Var};

/// `y = tanh(x)`; `dy/dx = 1 − y²` (written in terms of the output, which we keep).
pub fn tanh<T: Float>(x: &Var<T>) -> Var<T> {
    let y = map_elementwise(x.value(), k::tanh);
    let kept = y.clone();
    Var::from_op("tanh", y, &[x], move |g, _| {
        vec![Some(zip_elementwise(&kept, g, k::tanh_backward))]
    })
}

/// `y = σ(x) = 1 / (1 + e^−x)`; `dy/dx = σ(x)(1 − σ(x)) = y(1 − y)`.
pub fn sigmoid<T: Float>(x: &Var<T>) -> Var<T> {
    let y = map_elementwise(x.value(), k::sigmoid);
    let kept = y.clone();
    Var::from_op("sigmoid", y, &[x], move |g, _| {
        vec![Some(zip_elementwise(&kept, g, k::sigmoid_backward))]
    })
}

/// `y = max(x, 0)`; `dy/dx = 1` for `x > 0`, else 0 (we take 0 at the kink).
pub fn relu<T: Float>(x: &Var<T>) -> Var<T> {
    let y = map_elementwise(x.value(), k::relu);
    let kept = x.value().clone();
    Var::from_op("relu", y, &[x], move |g, _| {
        vec![Some(zip_elementwise(&kept, g, k::relu_backward))]
    })
}

/// `y = x` for `x > 0`, else `slope·x` (Keras' `LeakyReLU(alpha=slope)`, default 0.3);
/// `dy/dx = 1` for `x > 0`, else `slope`.
pub fn leaky_relu<T: Float>(x: &Var<T>, slope: T) -> Var<T> {
    let y = map_elementwise(x.value(), |x, y| k::leaky_relu(slope, x, y));
    let kept = x.value().clone();
    Var::from_op("leaky_relu", y, &[x], move |g, _| {
        vec![Some(zip_elementwise(&kept, g, |x, g, dx| {
            k::leaky_relu_backward(slope, x, g, dx)
        }))]
    })
}

/// `y = eˣ`; `dy/dx = eˣ = y`.
pub fn exp<T: Float>(x: &Var<T>) -> Var<T> {
    let y = map_elementwise(x.value(), k::exp);
    let kept = y.clone();
    Var::from_op("exp", y, &[x], move |g, _| {
        vec![Some(zip_elementwise(g, &kept, |g, y, dx| {
            binary(BinaryOp::Mul, g, y, dx)
        }))]
    })
}

/// `y = ln x`; `dy/dx = 1/x`. Follows IEEE: `ln 0 = −∞`, `ln x = NaN` for `x < 0`.
pub fn log<T: Float>(x: &Var<T>) -> Var<T> {
    let y = map_elementwise(x.value(), k::ln);
    let kept = x.value().clone();
    Var::from_op("log", y, &[x], move |g, _| {
        vec![Some(zip_elementwise(g, &kept, |g, x, dx| {
            binary(BinaryOp::Div, g, x, dx)
        }))]
    })
}

/// `y = ln(1 + eˣ)` (computed as `max(x,0) + ln(1 + e^−|x|)`, no overflow);
/// `dy/dx = eˣ/(1 + eˣ) = σ(x)`.
pub fn softplus<T: Float>(x: &Var<T>) -> Var<T> {
    let y = map_elementwise(x.value(), k::softplus);
    let kept = x.value().clone();
    Var::from_op("softplus", y, &[x], move |g, _| {
        let s = map_elementwise(&kept, k::sigmoid);
        vec![Some(zip_elementwise(g, &s, |g, s, dx| {
            binary(BinaryOp::Mul, g, s, dx)
        }))]
    })
}

impl<T: Float> Var<T> {
    /// [`tanh`]
    pub fn tanh(&self) -> Var<T> {
        tanh(self)
    }
    /// [`sigmoid`]
    pub fn sigmoid(&self) -> Var<T> {
        sigmoid(self)
    }
    /// [`relu`]
    pub fn relu(&self) -> Var<T> {
        relu(self)
    }
    /// [`leaky_relu`]
    pub fn leaky_relu(&self, slope: T) -> Var<T> {
        leaky_relu(self, slope)
    }
    /// [`exp`]
    pub fn exp(&self) -> Var<T> {
        exp(self)
    }
    /// [`log`]: the natural logarithm.
    pub fn log(&self) -> Var<T> {
        log(self)
    }
    /// [`softplus`]
    pub fn softplus(&self) -> Var<T> {
        softplus(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::autograd::{gradcheck, GradcheckOptions};
    use crate::Tensor;

    fn check(f: impl Fn(&Var<f64>) -> Var<f64>, x: Tensor<f64>) {
        let r = gradcheck(|v| Ok(f(&v[0])), &[x], &GradcheckOptions::default()).unwrap();
        r.check(1e-6).unwrap();
    }

    /// 3×7 values in (−3, 3), none within 0.05 of the relu kink at 0.
    fn x() -> Tensor<f64> {
        Tensor::from_fn(&[3, 7], |i| {
            let v = -2.9 + i as f64 * 0.29;
            if v.abs() < 0.05 {
                0.1
            } else {
                v
            }
        })
    }

    #[test]
    fn tanh_gradcheck() {
        let x = Tensor::new(vec![-1.5, -0.2, 0.3, 2.0], &[2, 2]).unwrap();
        check(tanh, x);
        check(tanh, self::x());
    }

    #[test]
    fn activations_gradcheck() {
        check(sigmoid, x());
        check(relu, x());
        check(|v| leaky_relu(v, 0.3), x());
        check(exp, x());
        check(softplus, x());
        check(log, x().map(|v| v.abs() + 0.1));
    }

    #[test]
    fn values_match_definitions() {
        let xs = x();
        let c = Var::constant(xs.clone());
        type Definition = fn(f64) -> f64;
        let pairs: [(Var<f64>, Definition); 5] = [
            (sigmoid(&c), |v| 1.0 / (1.0 + (-v).exp())),
            (relu(&c), |v| v.max(0.0)),
            (leaky_relu(&c, 0.3), |v| if v > 0.0 { v } else { 0.3 * v }),
            (softplus(&c), |v| (1.0 + v.exp()).ln()),
            (tanh(&c), f64::tanh),
        ];
        for (y, f) in pairs {
            assert!(y.value().max_abs_diff(&xs.map(f)).unwrap() < 1e-13);
        }
    }

    #[test]
    fn f32_runs_the_same_kernels() {
        let x = Var::constant(Tensor::<f32>::from_fn(&[19], |i| i as f32 - 9.0));
        let y = sigmoid(&x);
        let want = x.value().map(|v| v.sigmoid());
        assert!(y.value().max_abs_diff(&want).unwrap() < 1e-6);
    }
}
