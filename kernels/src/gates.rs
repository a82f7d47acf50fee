//! In-place σ and tanh over slices: the gate nonlinearities of the recurrent layers.
//!
//! A recurrent step applies them to N·G·H values between two gemms; with scalar libm
//! calls they cost more than the gemms themselves. The f32 path runs 8 lanes at a time
//! through `wide` (polynomial exp, ~1 ulp); f64 (used for gradient checks, where accuracy
//! matters more than speed) takes the scalar path.

use crate::Float;
use std::any::TypeId;
use wide::f32x8;

/// `x ← σ(x) = 1 / (1 + e^−x)` elementwise.
pub fn sigmoid_in_place<T: Float>(x: &mut [T]) {
    match as_f32(x) {
        Some(x) => simd_map(
            x,
            |v| f32x8::ONE / (f32x8::ONE + (-v).exp()),
            Float::sigmoid,
        ),
        None => sigmoid_in_place_reference(x),
    }
}

/// `x ← tanh(x)` elementwise.
pub fn tanh_in_place<T: Float>(x: &mut [T]) {
    match as_f32(x) {
        Some(x) => simd_map(x, f32x8::tanh, Float::tanh),
        None => tanh_in_place_reference(x),
    }
}

/// Scalar reference for [`sigmoid_in_place`].
pub fn sigmoid_in_place_reference<T: Float>(x: &mut [T]) {
    x.iter_mut().for_each(|v| *v = v.sigmoid());
}

/// Scalar reference for [`tanh_in_place`].
pub fn tanh_in_place_reference<T: Float>(x: &mut [T]) {
    x.iter_mut().for_each(|v| *v = v.tanh());
}

/// The slice as `[f32]` when `T` is `f32`.
fn as_f32<T: Float>(x: &mut [T]) -> Option<&mut [f32]> {
    if TypeId::of::<T>() == TypeId::of::<f32>() {
        // SAFETY: T is f32, so the pointer, length and lifetime describe the same memory.
        Some(unsafe { std::slice::from_raw_parts_mut(x.as_mut_ptr().cast::<f32>(), x.len()) })
    } else {
        None
    }
}

/// Apply `vector` to whole 8-lane chunks and `scalar` to the tail.
#[inline(always)]
fn simd_map(x: &mut [f32], vector: impl Fn(f32x8) -> f32x8, scalar: impl Fn(f32) -> f32) {
    let mut chunks = x.chunks_exact_mut(8);
    for chunk in &mut chunks {
        let v = f32x8::new(chunk.try_into().expect("8 lanes"));
        chunk.copy_from_slice(&vector(v).to_array());
    }
    chunks
        .into_remainder()
        .iter_mut()
        .for_each(|v| *v = scalar(*v));
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn fast_matches_reference_f32(xs in prop::collection::vec(-30.0f32..30.0, 0..40)) {
            let (mut fast, mut slow) = (xs.clone(), xs.clone());
            sigmoid_in_place(&mut fast);
            sigmoid_in_place_reference(&mut slow);
            for (a, b) in fast.iter().zip(&slow) {
                prop_assert!((a - b).abs() <= 2e-7, "sigmoid {a} vs {b}");
            }
            let (mut fast, mut slow) = (xs.clone(), xs);
            tanh_in_place(&mut fast);
            tanh_in_place_reference(&mut slow);
            for (a, b) in fast.iter().zip(&slow) {
                prop_assert!((a - b).abs() <= 4e-7, "tanh {a} vs {b}");
            }
        }
    }

    #[test]
    fn extremes_and_f64_are_exact() {
        let mut x = [-200.0f32, -90.0, -1e-6, 0.0, 1e-6, 90.0, 200.0, 5.0, 0.5];
        sigmoid_in_place(&mut x);
        assert_eq!(x[0], 0.0);
        assert_eq!(x[6], 1.0);
        assert_eq!(x[3], 0.5);
        let mut x = [
            -200.0f32,
            -10.0,
            -1e-6,
            0.0,
            1e-6,
            10.0,
            200.0,
            f32::NAN,
            0.5,
        ];
        tanh_in_place(&mut x);
        assert_eq!((x[0], x[6], x[3]), (-1.0, 1.0, 0.0));
        assert!((x[2] + 1e-6).abs() < 1e-12);
        let mut y = [0.3f64, -2.0];
        sigmoid_in_place(&mut y);
        assert_eq!(y, [0.3f64.sigmoid(), (-2.0f64).sigmoid()]);
    }
}
