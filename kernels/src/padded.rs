//! A zero-padded copy of one sample's input planes, reused from sample to sample.
//!
//! Kernels that slide a window over a padded input read whole SIMD vectors without edge
//! tests when the zeros are really there. Every sample of a batch has the same layout, so
//! the zeros are written once, when the layout changes, and each sample then overwrites
//! only its data rows.

use crate::Float;

/// `planes` planes of `rows` × `stride` values holding an `h` × `w` sample at
/// (`top`, `left`), zero elsewhere.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Layout {
    pub planes: usize,
    pub h: usize,
    pub w: usize,
    pub rows: usize,
    pub stride: usize,
    pub top: usize,
    pub left: usize,
}

impl Layout {
    pub fn plane(&self) -> usize {
        self.rows * self.stride
    }
}

/// The buffer behind [`Layout`]: its first plane starts on a 64-byte boundary, so with a
/// `stride` of 16 f32 every row does (fewer vector loads straddle cache lines).
#[derive(Debug, Default)]
pub(crate) struct PaddedPlanes<T> {
    buf: Vec<T>,
    start: usize,
    layout: Option<Layout>,
}

const ALIGN_BYTES: usize = 64;

impl<T: Float> PaddedPlanes<T> {
    /// Copy `x` (planes × h × w) into `layout` and return the padded planes.
    pub(crate) fn fill(&mut self, x: &[T], layout: Layout) -> &[T] {
        let Layout {
            planes,
            h,
            w,
            stride,
            top,
            left,
            ..
        } = layout;
        assert!(
            top + h <= layout.rows && left + w <= stride,
            "padded: {layout:?}"
        );
        assert_eq!(x.len(), planes * h * w, "padded: input length");
        let len = planes * layout.plane();
        if self.layout != Some(layout) {
            let per_align = ALIGN_BYTES / std::mem::size_of::<T>();
            self.buf.clear();
            self.buf.resize(len + per_align, T::ZERO);
            let misaligned = self.buf.as_ptr() as usize % ALIGN_BYTES / std::mem::size_of::<T>();
            self.start = (per_align - misaligned) % per_align;
            self.layout = Some(layout);
        }
        let data = &mut self.buf[self.start..][..len];
        if h * w > 0 {
            for (plane, src) in data
                .chunks_exact_mut(layout.plane())
                .zip(x.chunks_exact(h * w))
            {
                for (p, row) in src.chunks_exact(w).enumerate() {
                    plane[(top + p) * stride + left..][..w].copy_from_slice(row);
                }
            }
        }
        data
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reuse_keeps_the_zeros_and_replaces_the_data() {
        let layout = Layout {
            planes: 2,
            h: 2,
            w: 3,
            rows: 4,
            stride: 16,
            top: 1,
            left: 2,
        };
        let mut padded = PaddedPlanes::default();
        let expect = |x: &[f32]| {
            let mut out = vec![0.0f32; 2 * 4 * 16];
            for c in 0..2 {
                for p in 0..2 {
                    for q in 0..3 {
                        out[c * 64 + (1 + p) * 16 + 2 + q] = x[(c * 2 + p) * 3 + q];
                    }
                }
            }
            out
        };
        let a: Vec<f32> = (1..=12).map(|v| v as f32).collect();
        let b: Vec<f32> = (1..=12).map(|v| -(v as f32)).collect();
        assert_eq!(padded.fill(&a, layout), expect(&a));
        let data = padded.fill(&b, layout);
        assert_eq!(data, expect(&b));
        assert_eq!(data.as_ptr() as usize % ALIGN_BYTES, 0);
    }
}
