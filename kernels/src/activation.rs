//! Pointwise activations and their backward passes on slices: `y = f(x)` and
//! `dx = dy · f'(…)`, each with a scalar `*_reference` beside the SIMD version.
//!
//! Backward kernels take whichever of `x` or `y` gives the cheaper derivative:
//! `σ' = y(1 − y)`, `tanh' = 1 − y²`, `relu' = [x > 0]`.

use crate::elementwise::{map_simd, zip_simd};
use crate::simd::SimdVec;
use crate::Float;

/// `y = max(x, 0)`.
pub fn relu<T: Float>(x: &[T], y: &mut [T]) {
    let zero = T::Simd::splat(T::ZERO);
    map_simd(x, y, |v| v.select_positive(v, zero), relu_scalar);
}
/// `dx = dy` where `x > 0`, else 0.
pub fn relu_backward<T: Float>(x: &[T], dy: &[T], dx: &mut [T]) {
    let zero = T::Simd::splat(T::ZERO);
    zip_simd(
        x,
        dy,
        dx,
        |x, g| x.select_positive(g, zero),
        |x, g| if x > T::ZERO { g } else { T::ZERO },
    );
}

/// `y = x` for `x > 0`, else `slope · x` (Keras' LeakyReLU `alpha`).
pub fn leaky_relu<T: Float>(slope: T, x: &[T], y: &mut [T]) {
    let s = T::Simd::splat(slope);
    map_simd(
        x,
        y,
        |v| v.select_positive(v, v * s),
        |v| leaky_scalar(slope, v),
    );
}
/// `dx = dy` where `x > 0`, else `slope · dy`.
pub fn leaky_relu_backward<T: Float>(slope: T, x: &[T], dy: &[T], dx: &mut [T]) {
    let s = T::Simd::splat(slope);
    zip_simd(
        x,
        dy,
        dx,
        |x, g| x.select_positive(g, g * s),
        |x, g| leaky_scalar_grad(slope, x, g),
    );
}

/// `y = 1 / (1 + e^−x)`. For very negative x, `e^−x` overflows to ∞ and y = 0 exactly,
/// which is the correctly rounded limit; no NaN arises.
pub fn sigmoid<T: Float>(x: &[T], y: &mut [T]) {
    let one = T::Simd::splat(T::ONE);
    map_simd(x, y, |v| one / (one + (-v).exp()), Float::sigmoid);
}
/// `dx = dy · y · (1 − y)`, from the output `y`.
pub fn sigmoid_backward<T: Float>(y: &[T], dy: &[T], dx: &mut [T]) {
    let one = T::Simd::splat(T::ONE);
    zip_simd(
        y,
        dy,
        dx,
        |y, g| g * y * (one - y),
        |y, g| g * y * (T::ONE - y),
    );
}

/// `y = tanh(x)`.
pub fn tanh<T: Float>(x: &[T], y: &mut [T]) {
    map_simd(x, y, |v| v.tanh(), Float::tanh);
}
/// `dx = dy · (1 − y²)`, from the output `y`.
pub fn tanh_backward<T: Float>(y: &[T], dy: &[T], dx: &mut [T]) {
    let one = T::Simd::splat(T::ONE);
    zip_simd(
        y,
        dy,
        dx,
        |y, g| g * (one - y * y),
        |y, g| g * (T::ONE - y * y),
    );
}

/// `y = e^x` (its backward is `dx = dy · y`, an elementwise product).
pub fn exp<T: Float>(x: &[T], y: &mut [T]) {
    map_simd(x, y, |v| v.exp(), Float::exp);
}

/// `y = ln x` (its backward is `dx = dy / x`, an elementwise quotient).
pub fn ln<T: Float>(x: &[T], y: &mut [T]) {
    map_simd(x, y, |v| v.ln(), Float::ln);
}

/// `y = ln(1 + e^x)`, computed as `max(x, 0) + ln(1 + e^−|x|)` so it never overflows.
/// Its derivative is `σ(x)`.
pub fn softplus<T: Float>(x: &[T], y: &mut [T]) {
    let zero = T::Simd::splat(T::ZERO);
    map_simd(
        x,
        y,
        |v| v.max(zero) + (-v.abs()).exp().ln_1p(),
        softplus_scalar,
    );
}

#[inline(always)]
fn relu_scalar<T: Float>(v: T) -> T {
    if v > T::ZERO {
        v
    } else {
        T::ZERO
    }
}
#[inline(always)]
fn leaky_scalar<T: Float>(slope: T, v: T) -> T {
    if v > T::ZERO {
        v
    } else {
        slope * v
    }
}
#[inline(always)]
fn leaky_scalar_grad<T: Float>(slope: T, x: T, g: T) -> T {
    if x > T::ZERO {
        g
    } else {
        slope * g
    }
}
#[inline(always)]
fn softplus_scalar<T: Float>(v: T) -> T {
    v.max(T::ZERO) + (-v.abs()).exp().ln_1p()
}

/// Scalar references, one loop each, for the tests and for reading.
pub mod reference {
    use super::*;

    pub fn relu<T: Float>(x: &[T], y: &mut [T]) {
        for (o, &v) in y.iter_mut().zip(x) {
            *o = relu_scalar(v);
        }
    }
    pub fn relu_backward<T: Float>(x: &[T], dy: &[T], dx: &mut [T]) {
        for i in 0..dx.len() {
            dx[i] = if x[i] > T::ZERO { dy[i] } else { T::ZERO };
        }
    }
    pub fn leaky_relu<T: Float>(slope: T, x: &[T], y: &mut [T]) {
        for (o, &v) in y.iter_mut().zip(x) {
            *o = leaky_scalar(slope, v);
        }
    }
    pub fn leaky_relu_backward<T: Float>(slope: T, x: &[T], dy: &[T], dx: &mut [T]) {
        for i in 0..dx.len() {
            dx[i] = leaky_scalar_grad(slope, x[i], dy[i]);
        }
    }
    pub fn sigmoid<T: Float>(x: &[T], y: &mut [T]) {
        for (o, &v) in y.iter_mut().zip(x) {
            *o = v.sigmoid();
        }
    }
    pub fn sigmoid_backward<T: Float>(y: &[T], dy: &[T], dx: &mut [T]) {
        for i in 0..dx.len() {
            dx[i] = dy[i] * y[i] * (T::ONE - y[i]);
        }
    }
    pub fn tanh<T: Float>(x: &[T], y: &mut [T]) {
        for (o, &v) in y.iter_mut().zip(x) {
            *o = v.tanh();
        }
    }
    pub fn tanh_backward<T: Float>(y: &[T], dy: &[T], dx: &mut [T]) {
        for i in 0..dx.len() {
            dx[i] = dy[i] * (T::ONE - y[i] * y[i]);
        }
    }
    pub fn exp<T: Float>(x: &[T], y: &mut [T]) {
        for (o, &v) in y.iter_mut().zip(x) {
            *o = v.exp();
        }
    }
    pub fn ln<T: Float>(x: &[T], y: &mut [T]) {
        for (o, &v) in y.iter_mut().zip(x) {
            *o = v.ln();
        }
    }
    pub fn softplus<T: Float>(x: &[T], y: &mut [T]) {
        for (o, &v) in y.iter_mut().zip(x) {
            *o = softplus_scalar(v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// f32 tolerance for the transcendental kernels (exp, ln, tanh, sigmoid, softplus):
    /// `wide`'s polynomials are within a few ulp, so |fast − ref| ≤ 4e-6·max(1, |ref|).
    const TOL_F32: f64 = 4e-6;
    /// f64 tolerance for the same: |fast − ref| ≤ 1e-13·max(1, |ref|).
    const TOL_F64: f64 = 1e-13;

    fn length() -> impl Strategy<Value = usize> {
        prop_oneof![
            prop::sample::select(vec![0usize, 1, 3, 4, 5, 7, 8, 9, 15, 16, 17]),
            0usize..200
        ]
    }

    fn close<T: Float>(fast: &[T], slow: &[T], tol: f64) -> Result<(), TestCaseError> {
        for (i, (&f, &s)) in fast.iter().zip(slow).enumerate() {
            let (f, s) = (f.to_f64(), s.to_f64());
            prop_assert!(
                (f - s).abs() <= tol * s.abs().max(1.0),
                "element {}: fast {} vs reference {}",
                i,
                f,
                s
            );
        }
        Ok(())
    }

    type Unary<T> = fn(&[T], &mut [T]);

    fn check_unary<T: Float>(x: &[T], tol: f64) -> Result<(), TestCaseError> {
        let pairs: [(Unary<T>, Unary<T>); 5] = [
            (sigmoid, reference::sigmoid),
            (tanh, reference::tanh),
            (exp, reference::exp),
            (softplus, reference::softplus),
            (relu, reference::relu),
        ];
        for (fast_fn, slow_fn) in pairs {
            let mut fast = vec![T::ZERO; x.len()];
            let mut slow = vec![T::ZERO; x.len()];
            fast_fn(x, &mut fast);
            slow_fn(x, &mut slow);
            close(&fast, &slow, tol)?;
        }
        let pos: Vec<T> = x.iter().map(|v| v.abs() + T::from_f64(1e-3)).collect();
        let mut fast = vec![T::ZERO; x.len()];
        let mut slow = vec![T::ZERO; x.len()];
        ln(&pos, &mut fast);
        reference::ln(&pos, &mut slow);
        close(&fast, &slow, tol)
    }

    fn check_backward<T: Float>(x: &[T], dy: &[T]) -> Result<(), TestCaseError> {
        let n = x.len();
        let slope = T::from_f64(0.3);
        let (mut fast, mut slow) = (vec![T::ZERO; n], vec![T::ZERO; n]);
        relu_backward(x, dy, &mut fast);
        reference::relu_backward(x, dy, &mut slow);
        prop_assert!(fast == slow);
        leaky_relu(slope, x, &mut fast);
        reference::leaky_relu(slope, x, &mut slow);
        prop_assert!(fast == slow);
        leaky_relu_backward(slope, x, dy, &mut fast);
        reference::leaky_relu_backward(slope, x, dy, &mut slow);
        prop_assert!(fast == slow);
        // Backward of sigmoid/tanh from y = x (any values in (−1, 1) work as outputs).
        sigmoid_backward(x, dy, &mut fast);
        reference::sigmoid_backward(x, dy, &mut slow);
        prop_assert!(fast == slow);
        tanh_backward(x, dy, &mut fast);
        reference::tanh_backward(x, dy, &mut slow);
        prop_assert!(fast == slow);
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn unary_f32_matches_reference(x in length().prop_flat_map(|n| prop::collection::vec(-30.0f32..30.0, n))) {
            check_unary(&x, TOL_F32)?;
        }

        #[test]
        fn unary_f64_matches_reference(x in length().prop_flat_map(|n| prop::collection::vec(-30.0f64..30.0, n))) {
            check_unary(&x, TOL_F64)?;
        }

        // Products and selections are exact: fast and reference agree bit for bit.
        #[test]
        fn backward_f32_matches_reference((x, dy) in length().prop_flat_map(|n| (
            prop::collection::vec(-1.0f32..1.0, n), prop::collection::vec(-5.0f32..5.0, n)))) {
            check_backward(&x, &dy)?;
        }

        #[test]
        fn backward_f64_matches_reference((x, dy) in length().prop_flat_map(|n| (
            prop::collection::vec(-1.0f64..1.0, n), prop::collection::vec(-5.0f64..5.0, n)))) {
            check_backward(&x, &dy)?;
        }
    }

    #[test]
    fn extremes_stay_finite() {
        let x = [
            -1000.0f32, -100.0, -88.0, 0.0, 88.0, 100.0, 1000.0, -3.0, 3.0,
        ];
        let mut y = [0.0f32; 9];
        sigmoid(&x, &mut y);
        assert!(y.iter().all(|v| (0.0..=1.0).contains(v)), "{y:?}");
        assert_eq!((y[0], y[6]), (0.0, 1.0));
        softplus(&x, &mut y);
        assert!(y.iter().all(|v| v.is_finite()), "{y:?}");
        assert_eq!((y[0], y[6]), (0.0, 1000.0));
        tanh(&x, &mut y);
        assert_eq!((y[0], y[6]), (-1.0, 1.0));
    }
}
