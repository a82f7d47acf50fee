//! The SIMD vector of a [`Float`](crate::Float): `f32x8` for `f32`, `f64x4` for `f64`
//! (from the `wide` crate). Kernels are written once, generically over [`SimdVec`], and
//! each float type picks its vector through `Float::Simd`.
//!
//! `wide` chooses AVX/AVX2/FMA code at compile time from the target features; without
//! `-C target-cpu=native` it falls back to two SSE2 halves, which is still vectorised.

use std::ops::{Add, Div, Mul, Neg, Sub};
use wide::{f32x8, f64x4};

/// A fixed-width vector of `T` with the lanewise operations our kernels need.
pub trait SimdVec<T>:
    Copy
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
{
    /// Number of `T` lanes.
    const LANES: usize;

    fn splat(v: T) -> Self;
    /// The first `LANES` elements of `s` (which must be at least that long).
    fn load(s: &[T]) -> Self;
    /// Write the lanes into the first `LANES` elements of `s`.
    fn store(self, s: &mut [T]);
    fn max(self, o: Self) -> Self;
    fn min(self, o: Self) -> Self;
    fn abs(self) -> Self;
    fn sqrt(self) -> Self;
    fn exp(self) -> Self;
    fn ln(self) -> Self;
    fn tanh(self) -> Self;
    /// `ln(1 + self)`, accurate for small `self`.
    fn ln_1p(self) -> Self;
    /// Lanewise `if self > 0 { pos } else { neg }`.
    fn select_positive(self, pos: Self, neg: Self) -> Self;
    /// Sum of the lanes.
    fn reduce_add(self) -> T;
    /// Largest lane.
    fn reduce_max(self) -> T;
}

macro_rules! impl_simd_vec {
    ($v:ty, $t:ty, $lanes:expr) => {
        impl SimdVec<$t> for $v {
            const LANES: usize = $lanes;

            #[inline(always)]
            fn splat(v: $t) -> Self {
                <$v>::splat(v)
            }
            #[inline(always)]
            fn load(s: &[$t]) -> Self {
                let lanes: [$t; $lanes] = s[..$lanes].try_into().expect("slice has LANES");
                <$v>::new(lanes)
            }
            #[inline(always)]
            fn store(self, s: &mut [$t]) {
                s[..$lanes].copy_from_slice(self.as_array());
            }
            #[inline(always)]
            fn max(self, o: Self) -> Self {
                <$v>::max(self, o)
            }
            #[inline(always)]
            fn min(self, o: Self) -> Self {
                <$v>::min(self, o)
            }
            #[inline(always)]
            fn abs(self) -> Self {
                <$v>::abs(self)
            }
            #[inline(always)]
            fn sqrt(self) -> Self {
                <$v>::sqrt(self)
            }
            #[inline(always)]
            fn exp(self) -> Self {
                <$v>::exp(self)
            }
            #[inline(always)]
            fn ln(self) -> Self {
                <$v>::ln(self)
            }
            #[inline(always)]
            fn tanh(self) -> Self {
                <$v>::tanh(self)
            }
            #[inline(always)]
            fn ln_1p(self) -> Self {
                <$v>::ln_1p(self)
            }
            #[inline(always)]
            fn select_positive(self, pos: Self, neg: Self) -> Self {
                self.simd_gt(<$v>::ZERO).select(pos, neg)
            }
            #[inline(always)]
            fn reduce_add(self) -> $t {
                <$v>::reduce_add(self)
            }
            #[inline(always)]
            fn reduce_max(self) -> $t {
                self.as_array()
                    .iter()
                    .copied()
                    .fold(<$t>::NEG_INFINITY, <$t>::max)
            }
        }
    };
}

impl_simd_vec!(f32x8, f32, 8);
impl_simd_vec!(f64x4, f64, 4);
