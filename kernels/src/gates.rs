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

/// One LSTM step's cell update for one batch row of H units:
///
/// ```text
/// a = [a_i | a_f | a_g | a_o] (4H)   →   [i | f | g | o] = [σ(a_i) | σ(a_f) | tanh(a_g) | σ(a_o)]
/// c_t = f⊙c_{t−1} + i⊙g     tanh_c = tanh(c_t)     h_t = o⊙tanh_c
/// ```
///
/// `gates` holds the pre-activations in and the activations out (backward needs them);
/// `c_prev` is c_{t−1}; `c`, `tanh_c`, `h` receive c_t, tanh(c_t), h_t. One pass, so the
/// row's 5H values are read once instead of once per nonlinearity.
pub fn lstm_cell_forward<T: Float>(
    gates: &mut [T],
    c_prev: &[T],
    c: &mut [T],
    tanh_c: &mut [T],
    h: &mut [T],
) {
    let units = check_cell(gates.len(), &[c_prev.len(), c.len(), tanh_c.len(), h.len()]);
    if TypeId::of::<T>() != TypeId::of::<f32>() {
        return lstm_cell_forward_reference(gates, c_prev, c, tanh_c, h);
    }
    #[cfg(target_arch = "x86_64")]
    if crate::dispatch::has_avx512() {
        // SAFETY: T is f32 (checked above), the CPU has AVX-512F, the slices' lengths
        // were checked.
        unsafe {
            crate::gates_avx512::cell_forward(
                cast_mut(gates),
                cast(c_prev),
                cast_mut(c),
                cast_mut(tanh_c),
                cast_mut(h),
            )
        };
        return;
    }
    narrow_cell_forward(gates, c_prev, c, tanh_c, h, units);
}

/// The forward cell on 8 AVX2 lanes where the CPU has them, the rest scalar (`T` is f32).
fn narrow_cell_forward<T: Float>(
    gates: &mut [T],
    c_prev: &[T],
    c: &mut [T],
    tanh_c: &mut [T],
    h: &mut [T],
    units: usize,
) {
    let mut whole = 0;
    #[cfg(target_arch = "x86_64")]
    if crate::dispatch::has_avx2() {
        whole = units / 8 * 8;
        // SAFETY: T is f32 (checked above), the CPU has AVX2 + FMA, every slice holds
        // `units ≥ whole` values (gates 4·units).
        unsafe {
            avx2::cell_forward(
                cast_mut(gates),
                cast(c_prev),
                cast_mut(c),
                cast_mut(tanh_c),
                cast_mut(h),
                whole,
            )
        };
    }
    for k in whole..units {
        cell_forward_unit(gates, units, k, c_prev, c, tanh_c, h);
    }
}

/// Scalar reference for [`lstm_cell_forward`].
pub fn lstm_cell_forward_reference<T: Float>(
    gates: &mut [T],
    c_prev: &[T],
    c: &mut [T],
    tanh_c: &mut [T],
    h: &mut [T],
) {
    let units = check_cell(gates.len(), &[c_prev.len(), c.len(), tanh_c.len(), h.len()]);
    for k in 0..units {
        cell_forward_unit(gates, units, k, c_prev, c, tanh_c, h);
    }
}

#[inline(always)]
fn cell_forward_unit<T: Float>(
    gates: &mut [T],
    units: usize,
    k: usize,
    c_prev: &[T],
    c: &mut [T],
    tanh_c: &mut [T],
    h: &mut [T],
) {
    let i = gates[k].sigmoid();
    let f = gates[units + k].sigmoid();
    let g = gates[2 * units + k].tanh();
    let o = gates[3 * units + k].sigmoid();
    let ct = f * c_prev[k] + i * g;
    let tc = ct.tanh();
    gates[k] = i;
    gates[units + k] = f;
    gates[2 * units + k] = g;
    gates[3 * units + k] = o;
    c[k] = ct;
    tanh_c[k] = tc;
    h[k] = o * tc;
}

/// Backward of [`lstm_cell_forward`] for one row, given the step's saved activations
/// `gates = [i | f | g | o]`, `tanh_c`, `c_prev`, the total gradient `dh` reaching h_t,
/// and `dc` holding the gradient reaching c_t from step t+1:
///
/// ```text
/// dc_t = dc + dh⊙o⊙(1 − tanh²c_t)
/// da_i = dc_t⊙g⊙i(1−i)      da_f = dc_t⊙c_{t−1}⊙f(1−f)
/// da_g = dc_t⊙i⊙(1−g²)      da_o = dh⊙tanh c_t⊙o(1−o)
/// dc ← dc_t⊙f                (the gradient reaching c_{t−1})
/// ```
///
/// In place, like the forward: `gates` holds the activations on entry and the
/// pre-activation gradients `[da_i | da_f | da_g | da_o]` on return, so backward through
/// time needs no second (N, T, 4H) buffer.
pub fn lstm_cell_backward<T: Float>(
    gates: &mut [T],
    tanh_c: &[T],
    c_prev: &[T],
    dh: &[T],
    dc: &mut [T],
) {
    let units = check_cell(
        gates.len(),
        &[tanh_c.len(), c_prev.len(), dh.len(), dc.len()],
    );
    if TypeId::of::<T>() != TypeId::of::<f32>() {
        return lstm_cell_backward_reference(gates, tanh_c, c_prev, dh, dc);
    }
    #[cfg(target_arch = "x86_64")]
    if crate::dispatch::has_avx512() {
        // SAFETY: T is f32 (checked above), the CPU has AVX-512F, the slices' lengths
        // were checked.
        unsafe {
            crate::gates_avx512::cell_backward(
                cast_mut(gates),
                cast(tanh_c),
                cast(c_prev),
                cast(dh),
                cast_mut(dc),
            )
        };
        return;
    }
    narrow_cell_backward(gates, tanh_c, c_prev, dh, dc, units);
}

/// The backward cell on 8 lanes, the tail scalar (`T` is f32).
fn narrow_cell_backward<T: Float>(
    gates: &mut [T],
    tanh_c: &[T],
    c_prev: &[T],
    dh: &[T],
    dc: &mut [T],
    units: usize,
) {
    let whole = units / 8 * 8;
    let one = f32x8::ONE;
    for k in (0..whole).step_by(8) {
        let (i, f) = (load(gates, k), load(gates, units + k));
        let (g, o) = (load(gates, 2 * units + k), load(gates, 3 * units + k));
        let (tc, dhv) = (load(tanh_c, k), load(dh, k));
        let dct = load(dc, k) + dhv * o * (one - tc * tc);
        store(dct * g * i * (one - i), &mut gates[k..]);
        store(
            dct * load(c_prev, k) * f * (one - f),
            &mut gates[units + k..],
        );
        store(dct * i * (one - g * g), &mut gates[2 * units + k..]);
        store(dhv * tc * o * (one - o), &mut gates[3 * units + k..]);
        store(dct * f, &mut dc[k..]);
    }
    for k in whole..units {
        cell_backward_unit(gates, units, k, tanh_c, c_prev, dh, dc);
    }
}

/// Scalar reference for [`lstm_cell_backward`].
pub fn lstm_cell_backward_reference<T: Float>(
    gates: &mut [T],
    tanh_c: &[T],
    c_prev: &[T],
    dh: &[T],
    dc: &mut [T],
) {
    let units = check_cell(
        gates.len(),
        &[tanh_c.len(), c_prev.len(), dh.len(), dc.len()],
    );
    for k in 0..units {
        cell_backward_unit(gates, units, k, tanh_c, c_prev, dh, dc);
    }
}

/// Unit k of the backward cell: reads the four activations, then overwrites them.
#[inline(always)]
fn cell_backward_unit<T: Float>(
    gates: &mut [T],
    units: usize,
    k: usize,
    tanh_c: &[T],
    c_prev: &[T],
    dh: &[T],
    dc: &mut [T],
) {
    let one = T::ONE;
    let (i, f) = (gates[k], gates[units + k]);
    let (g, o) = (gates[2 * units + k], gates[3 * units + k]);
    let tc = tanh_c[k];
    let dct = dc[k] + dh[k] * o * (one - tc * tc);
    gates[k] = dct * g * i * (one - i);
    gates[units + k] = dct * c_prev[k] * f * (one - f);
    gates[2 * units + k] = dct * i * (one - g * g);
    gates[3 * units + k] = dh[k] * tc * o * (one - o);
    dc[k] = dct * f;
}

/// `s` as f32. # Safety: `T` must be f32.
#[cfg(target_arch = "x86_64")]
unsafe fn cast<T: Float>(s: &[T]) -> &[f32] {
    std::slice::from_raw_parts(s.as_ptr().cast(), s.len())
}

/// `s` as f32. # Safety: `T` must be f32.
#[cfg(target_arch = "x86_64")]
unsafe fn cast_mut<T: Float>(s: &mut [T]) -> &mut [f32] {
    std::slice::from_raw_parts_mut(s.as_mut_ptr().cast(), s.len())
}

/// The cell's nonlinearities with a lean exp: an LSTM step evaluates five of them per
/// unit, and `wide`'s exp (which handles every edge case on every lane) made the cell
/// cost as much as the step's gemm.
#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;

    /// e^x to about 2 ulp: x = n·ln2 + r with |r| ≤ ln2/2 (ln2 split in two for an exact
    /// reduction), e^r by Cephes' degree-6 polynomial, 2^n built in the exponent bits.
    /// x is clamped to [−87, 88] (so 2^n stays a normal number; σ and tanh below cannot
    /// tell the clamped value from the true one); NaN stays NaN.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn exp(x: __m256) -> __m256 {
        // max/min return their second operand when either is NaN: x keeps a NaN.
        let x = _mm256_min_ps(
            _mm256_set1_ps(88.0),
            _mm256_max_ps(_mm256_set1_ps(-87.0), x),
        );
        let n = _mm256_round_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(
            _mm256_mul_ps(x, _mm256_set1_ps(std::f32::consts::LOG2_E)),
        );
        let r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693_359_4), x);
        let r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.121_944_4e-4), r);
        let mut p = _mm256_set1_ps(1.987_569_1e-4);
        for c in [1.398_2e-3, 8.333_452e-3, 4.166_579_6e-2, 0.166_666_65, 0.5] {
            p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(c));
        }
        let e = _mm256_add_ps(
            _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), r),
            _mm256_set1_ps(1.0),
        );
        let biased = _mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127));
        _mm256_mul_ps(e, _mm256_castsi256_ps(_mm256_slli_epi32::<23>(biased)))
    }

    /// σ(x) = 1 / (1 + e^−x).
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn sigmoid(x: __m256) -> __m256 {
        let one = _mm256_set1_ps(1.0);
        _mm256_div_ps(
            one,
            _mm256_add_ps(one, exp(_mm256_sub_ps(_mm256_setzero_ps(), x))),
        )
    }

    /// tanh(x) = 1 − 2 / (1 + e^2x); absolute error ~1e-7 (relative error grows for
    /// |x| < 1e-3, where tanh(x) itself is that small).
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn tanh(x: __m256) -> __m256 {
        let one = _mm256_set1_ps(1.0);
        let e = exp(_mm256_add_ps(x, x));
        _mm256_sub_ps(
            one,
            _mm256_div_ps(_mm256_set1_ps(2.0), _mm256_add_ps(one, e)),
        )
    }

    /// [`super::lstm_cell_forward`] on the first `whole` units (a multiple of 8).
    ///
    /// # Safety
    /// AVX2 + FMA; `gates` holds 4·units values and the other slices `units ≥ whole`.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn cell_forward(
        gates: &mut [f32],
        c_prev: &[f32],
        c: &mut [f32],
        tanh_c: &mut [f32],
        h: &mut [f32],
        whole: usize,
    ) {
        let units = gates.len() / 4;
        assert!(whole.is_multiple_of(8) && whole <= units && [c_prev.len(), c.len()] == [units; 2]);
        assert!(tanh_c.len() == units && h.len() == units);
        let g = gates.as_mut_ptr();
        for k in (0..whole).step_by(8) {
            let i = sigmoid(_mm256_loadu_ps(g.add(k)));
            let f = sigmoid(_mm256_loadu_ps(g.add(units + k)));
            let gg = tanh(_mm256_loadu_ps(g.add(2 * units + k)));
            let o = sigmoid(_mm256_loadu_ps(g.add(3 * units + k)));
            let ct = _mm256_fmadd_ps(
                f,
                _mm256_loadu_ps(c_prev.as_ptr().add(k)),
                _mm256_mul_ps(i, gg),
            );
            let tc = tanh(ct);
            _mm256_storeu_ps(g.add(k), i);
            _mm256_storeu_ps(g.add(units + k), f);
            _mm256_storeu_ps(g.add(2 * units + k), gg);
            _mm256_storeu_ps(g.add(3 * units + k), o);
            _mm256_storeu_ps(c.as_mut_ptr().add(k), ct);
            _mm256_storeu_ps(tanh_c.as_mut_ptr().add(k), tc);
            _mm256_storeu_ps(h.as_mut_ptr().add(k), _mm256_mul_ps(o, tc));
        }
    }
}

/// H from a 4H gate row, after checking every per-unit slice is H long.
fn check_cell(gates: usize, per_unit: &[usize]) -> usize {
    assert_eq!(gates % 4, 0, "lstm cell: gate row of {gates} is not 4H");
    let units = gates / 4;
    assert!(
        per_unit.iter().all(|&len| len == units),
        "lstm cell: state slices {per_unit:?} must all be H = {units}"
    );
    units
}

/// Eight lanes of `s` from `at`, as f32 (`T` is f32 on the fast paths).
#[inline(always)]
fn load<T: Float>(s: &[T], at: usize) -> f32x8 {
    let lanes: [T; 8] = s[at..at + 8].try_into().expect("8 lanes");
    // SAFETY: only called after checking T is f32; [f32; 8] and [T; 8] are then one type.
    f32x8::new(unsafe { std::mem::transmute_copy::<[T; 8], [f32; 8]>(&lanes) })
}

/// Store eight f32 lanes into the first 8 elements of `s` (`T` is f32).
#[inline(always)]
fn store<T: Float>(v: f32x8, s: &mut [T]) {
    // SAFETY: only called after checking T is f32.
    let lanes = unsafe { std::mem::transmute_copy::<[f32; 8], [T; 8]>(&v.to_array()) };
    s[..8].copy_from_slice(&lanes);
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

    fn cell_inputs(units: usize, seed: u64) -> Vec<Vec<f32>> {
        let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
        let mut next = move || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((state >> 33) as f32 / (1u64 << 31) as f32) * 6.0 - 3.0
        };
        [4 * units, units, units, units]
            .iter()
            .map(|&len| (0..len).map(|_| next()).collect())
            .collect()
    }

    proptest! {
        /// The SIMD cell (whole 8-lane chunks plus the tail) equals the scalar reference,
        /// forward and backward.
        #[test]
        fn lstm_cell_fast_matches_reference(units in 1usize..70, seed in 0u64..1000) {
            let v = cell_inputs(units, seed);
            let mut g_slow = v[0].clone();
            let zero = || vec![0.0f32; units];
            let (mut c2, mut t2, mut h2) = (zero(), zero(), zero());
            lstm_cell_forward_reference(&mut g_slow, &v[1], &mut c2, &mut t2, &mut h2);
            let close = |a: &[f32], b: &[f32]| a.iter().zip(b).all(|(x, y)| (x - y).abs() <= 2e-6 * (1.0 + y.abs()));
            // The dispatched cell (AVX-512 where present) and the 8-lane one, both checked.
            for narrow in [false, true] {
                let mut g_fast = v[0].clone();
                let (mut c1, mut t1, mut h1) = (zero(), zero(), zero());
                if narrow {
                    narrow_cell_forward(&mut g_fast, &v[1], &mut c1, &mut t1, &mut h1, units);
                } else {
                    lstm_cell_forward(&mut g_fast, &v[1], &mut c1, &mut t1, &mut h1);
                }
                prop_assert!(close(&g_fast, &g_slow) && close(&c1, &c2));
                prop_assert!(close(&t1, &t2) && close(&h1, &h2));

                let (mut dc1, mut dc2) = (v[3].clone(), v[3].clone());
                let (mut da1, mut da2) = (g_slow.clone(), g_slow.clone());
                if narrow {
                    narrow_cell_backward(&mut da1, &t2, &v[1], &v[2], &mut dc1, units);
                } else {
                    lstm_cell_backward(&mut da1, &t2, &v[1], &v[2], &mut dc1);
                }
                lstm_cell_backward_reference(&mut da2, &t2, &v[1], &v[2], &mut dc2);
                prop_assert!(close(&dc1, &dc2) && close(&da1, &da2));
            }
        }
    }

    /// Saturated gates give exact 0/1/±1, and a NaN pre-activation reaches h (the loss
    /// check must see it) — on the SIMD lanes and the scalar tail alike.
    #[test]
    fn lstm_cell_saturates_and_keeps_nan() {
        let units = 9;
        let mut gates = vec![200.0f32; 4 * units];
        gates[2 * units..3 * units].fill(-200.0); // g = −1
        gates[0] = f32::NAN;
        gates[8] = f32::NAN; // the tail unit
        let c_prev = vec![0.5f32; units];
        let pre = gates.clone();
        for narrow in [false, true] {
            let mut gates = pre.clone();
            let (mut c, mut tc, mut h) = (vec![0.0; units], vec![0.0; units], vec![0.0; units]);
            if narrow {
                narrow_cell_forward(&mut gates, &c_prev, &mut c, &mut tc, &mut h, units);
            } else {
                lstm_cell_forward(&mut gates, &c_prev, &mut c, &mut tc, &mut h);
            }
            assert!(h[0].is_nan() && h[8].is_nan());
            for k in 1..8 {
                assert_eq!(
                    (gates[k], gates[units + k], gates[2 * units + k]),
                    (1.0, 1.0, -1.0)
                );
                assert_eq!(c[k], -0.5);
                assert!((h[k] - (-0.5f32).tanh()).abs() < 1e-6);
            }
        }
    }
}
