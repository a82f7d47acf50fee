//! Run-time CPU dispatch for auto-vectorised loops.
//!
//! The crate is built for baseline x86-64 (SSE2), but the laptops we target have AVX2.
//! [`avx2_dispatch!`] compiles an `#[inline(always)]` body twice — once as usual and once
//! inside a `#[target_feature(enable = "avx2,fma")]` function — and picks the wide copy
//! when the CPU has those features, so LLVM's vectoriser may use 256-bit registers.

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
