//! Strided matrix transpose: the layout moves between planar and channels-last images.
//!
//! Element by element, a transpose reads along one axis and writes along the other, so
//! one side always strides; with index arithmetic per element it ran at about a value per
//! several cycles. The AVX kernel moves 8 × 8 blocks: eight row loads, three rounds of
//! in-register shuffles (24 instructions), eight column stores.

use crate::dispatch::{as_f32, as_f32_mut};
use crate::Float;

/// `dst[j·ld_dst + i] = src[i·ld_src + j]` (or `+=` with `add`) for `i < rows`, `j < cols`:
/// the rows × cols block of `src` written transposed into `dst`. Other entries of `dst`
/// are left alone.
pub fn transpose<T: Float>(
    (rows, cols): (usize, usize),
    (src, ld_src): (&[T], usize),
    (dst, ld_dst): (&mut [T], usize),
    add: bool,
) {
    if rows == 0 || cols == 0 {
        return;
    }
    assert!(
        src.len() >= (rows - 1) * ld_src + cols,
        "transpose: source has {} values, too few for {rows} rows of {cols} at stride {ld_src}",
        src.len()
    );
    assert!(
        dst.len() >= (cols - 1) * ld_dst + rows,
        "transpose: destination has {} values, too few for {cols} rows of {rows} at stride {ld_dst}",
        dst.len()
    );
    #[cfg(target_arch = "x86_64")]
    if crate::dispatch::has_avx2() {
        if let (Some(s), Some(d)) = (as_f32(src), as_f32_mut(dst)) {
            // SAFETY: the CPU has AVX; the asserts above bound every access.
            unsafe { avx::transpose(rows, cols, (s, ld_src), (d, ld_dst), add) };
            return;
        }
    }
    transpose_reference((rows, cols), (src, ld_src), (dst, ld_dst), add);
}

/// Scalar reference for [`transpose`].
pub fn transpose_reference<T: Float>(
    (rows, cols): (usize, usize),
    (src, ld_src): (&[T], usize),
    (dst, ld_dst): (&mut [T], usize),
    add: bool,
) {
    for i in 0..rows {
        for j in 0..cols {
            let (v, out) = (src[i * ld_src + j], &mut dst[j * ld_dst + i]);
            *out = if add { *out + v } else { v };
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx {
    use std::arch::x86_64::*;

    /// 8 × 8 blocks, then the ragged right and bottom edges element by element.
    ///
    /// # Safety
    /// AVX; every `(i, j)` with `i < rows`, `j < cols` indexes inside both slices.
    #[target_feature(enable = "avx")]
    pub(super) unsafe fn transpose(
        rows: usize,
        cols: usize,
        (src, ld_src): (&[f32], usize),
        (dst, ld_dst): (&mut [f32], usize),
        add: bool,
    ) {
        let (full_rows, full_cols) = (rows / 8 * 8, cols / 8 * 8);
        let (s, d) = (src.as_ptr(), dst.as_mut_ptr());
        for i0 in (0..full_rows).step_by(8) {
            for j0 in (0..full_cols).step_by(8) {
                block(
                    s.add(i0 * ld_src + j0),
                    ld_src,
                    d.add(j0 * ld_dst + i0),
                    ld_dst,
                    add,
                );
            }
        }
        let scalar = |i: usize, j: usize| {
            let (v, out) = (*s.add(i * ld_src + j), d.add(j * ld_dst + i));
            *out = if add { *out + v } else { v };
        };
        for i in 0..full_rows {
            for j in full_cols..cols {
                scalar(i, j);
            }
        }
        for i in full_rows..rows {
            for j in 0..cols {
                scalar(i, j);
            }
        }
    }

    /// One 8 × 8 block: interleave pairs of rows, then pairs of pairs, then swap halves.
    #[inline(always)]
    unsafe fn block(s: *const f32, ld_s: usize, d: *mut f32, ld_d: usize, add: bool) {
        let r: [__m256; 8] = std::array::from_fn(|k| _mm256_loadu_ps(s.add(k * ld_s)));
        let t0 = _mm256_unpacklo_ps(r[0], r[1]);
        let t1 = _mm256_unpackhi_ps(r[0], r[1]);
        let t2 = _mm256_unpacklo_ps(r[2], r[3]);
        let t3 = _mm256_unpackhi_ps(r[2], r[3]);
        let t4 = _mm256_unpacklo_ps(r[4], r[5]);
        let t5 = _mm256_unpackhi_ps(r[4], r[5]);
        let t6 = _mm256_unpacklo_ps(r[6], r[7]);
        let t7 = _mm256_unpackhi_ps(r[6], r[7]);
        let u0 = _mm256_shuffle_ps::<0x44>(t0, t2);
        let u1 = _mm256_shuffle_ps::<0xEE>(t0, t2);
        let u2 = _mm256_shuffle_ps::<0x44>(t1, t3);
        let u3 = _mm256_shuffle_ps::<0xEE>(t1, t3);
        let u4 = _mm256_shuffle_ps::<0x44>(t4, t6);
        let u5 = _mm256_shuffle_ps::<0xEE>(t4, t6);
        let u6 = _mm256_shuffle_ps::<0x44>(t5, t7);
        let u7 = _mm256_shuffle_ps::<0xEE>(t5, t7);
        let columns = [
            _mm256_permute2f128_ps::<0x20>(u0, u4),
            _mm256_permute2f128_ps::<0x20>(u1, u5),
            _mm256_permute2f128_ps::<0x20>(u2, u6),
            _mm256_permute2f128_ps::<0x20>(u3, u7),
            _mm256_permute2f128_ps::<0x31>(u0, u4),
            _mm256_permute2f128_ps::<0x31>(u1, u5),
            _mm256_permute2f128_ps::<0x31>(u2, u6),
            _mm256_permute2f128_ps::<0x31>(u3, u7),
        ];
        for (k, &col) in columns.iter().enumerate() {
            let out = d.add(k * ld_d);
            let v = if add {
                _mm256_add_ps(col, _mm256_loadu_ps(out))
            } else {
                col
            };
            _mm256_storeu_ps(out, v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn values(n: usize, seed: u64) -> Vec<f32> {
        (0..n)
            .map(|i| (((i as u64 + 1) * 2654435761 + seed * 97) % 1999) as f32 / 1000.0 - 1.0)
            .collect()
    }

    proptest! {
        /// Every block size around the 8 × 8 tiles, padded strides, both modes: the same
        /// values land in the same places, and entries outside the block are untouched.
        #[test]
        fn transpose_matches_reference(
            rows in 1usize..30, cols in 1usize..30, pad_s in 0usize..5, pad_d in 0usize..5,
            add in any::<bool>(), seed in 0u64..100,
        ) {
            let (ld_s, ld_d) = (cols + pad_s, rows + pad_d);
            let src = values(rows * ld_s, seed);
            let start = values(cols * ld_d, seed + 1);
            let (mut fast, mut slow) = (start.clone(), start);
            transpose((rows, cols), (&src, ld_s), (&mut fast, ld_d), add);
            transpose_reference((rows, cols), (&src, ld_s), (&mut slow, ld_d), add);
            prop_assert_eq!(fast, slow);
        }
    }

    #[test]
    #[should_panic(expected = "too few for 3 rows")]
    fn short_destination_is_refused() {
        let mut dst = [0.0f32; 5];
        transpose((2, 3), (&[0.0; 6], 3), (&mut dst, 2), false);
    }
}
