//! Run-time CPU dispatch for auto-vectorised loops.
//!
//! The crate is built for baseline x86-64 (SSE2), but the laptops we target have AVX2.
//! [`avx2_dispatch!`] compiles an `#[inline(always)]` body twice — once as usual and once
//! inside a `#[target_feature(enable = "avx2,fma")]` function — and picks the wide copy
//! when the CPU has those features, so LLVM's vectoriser may use 256-bit registers.
//! [`as_f32`] lets a generic kernel hand its slices to loops written for f32 only.

use std::any::TypeId;

/// True when the running CPU has AVX2 and FMA (std caches the answer).
#[inline]
pub fn has_avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// True when the running CPU has AVX-512F, unless `MELGRAD_SIMD=avx2` asks for the
/// 256-bit kernels (to compare the two on one machine). Read once.
#[inline]
pub fn has_avx512() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        static WIDE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        *WIDE.get_or_init(|| {
            std::arch::is_x86_feature_detected!("avx512f")
                && std::env::var("MELGRAD_SIMD").map_or(true, |v| v != "avx2")
        })
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// `s` as f32 when `T` is f32 (for kernels whose intrinsics loops are written for f32).
pub(crate) fn as_f32<T: 'static>(s: &[T]) -> Option<&[f32]> {
    // SAFETY: T is f32, so the cast is the identity.
    (TypeId::of::<T>() == TypeId::of::<f32>())
        .then(|| unsafe { std::slice::from_raw_parts(s.as_ptr().cast(), s.len()) })
}

/// The mutable form of [`as_f32`].
pub(crate) fn as_f32_mut<T: 'static>(s: &mut [T]) -> Option<&mut [f32]> {
    // SAFETY: T is f32, so the cast is the identity.
    (TypeId::of::<T>() == TypeId::of::<f32>())
        .then(|| unsafe { std::slice::from_raw_parts_mut(s.as_mut_ptr().cast(), s.len()) })
}

/// `avx2_dispatch!(vis fn name(args) => body);` defines `name<T: Float>(args)` that calls
/// the `#[inline(always)]` generic function `body(args)`, through an AVX2 copy when the
/// CPU supports it.
macro_rules! avx2_dispatch {
    ($vis:vis fn $name:ident($($arg:ident : $ty:ty),* $(,)?) => $body:ident) => {
        #[allow(clippy::too_many_arguments)]
        $vis fn $name<T: $crate::Float>($($arg: $ty),*) {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx2,fma")]
                #[allow(clippy::too_many_arguments)]
                unsafe fn wide<T: $crate::Float>($($arg: $ty),*) {
                    $body($($arg),*)
                }
                if $crate::dispatch::has_avx2() {
                    // SAFETY: the running CPU has the features `wide` is compiled for.
                    return unsafe { wide($($arg),*) };
                }
            }
            $body($($arg),*)
        }
    };
}
pub(crate) use avx2_dispatch;
