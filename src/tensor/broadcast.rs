//! NumPy broadcasting: shapes are aligned at their last axis; a size-1 (or missing) axis
//! stretches to match the other.

use super::shape::strides;
use crate::{Error, Result};

/// The shape two operands broadcast to, or an error naming both.
pub fn broadcast_shapes(op: &'static str, a: &[usize], b: &[usize]) -> Result<Vec<usize>> {
    let rank = a.len().max(b.len());
    let mut out = vec![0; rank];
    for i in 0..rank {
        let da = if i < rank - a.len() {
            1
        } else {
            a[i - (rank - a.len())]
        };
        let db = if i < rank - b.len() {
            1
        } else {
            b[i - (rank - b.len())]
        };
        out[i] = match (da, db) {
            (x, y) if x == y => x,
            (1, y) => y,
            (x, 1) => x,
            _ => {
                return Err(Error::shape(
                    op,
                    format!("{a:?} and {b:?} do not broadcast"),
                ))
            }
        };
    }
    Ok(out)
}

/// Strides for reading a tensor of shape `src` as if it had shape `dst` (which it must
/// broadcast to): broadcast axes get stride 0.
pub fn broadcast_strides(src: &[usize], dst: &[usize]) -> Vec<usize> {
    let own = strides(src);
    let offset = dst.len() - src.len();
    (0..dst.len())
        .map(|i| {
            if i < offset || src[i - offset] == 1 {
                0
            } else {
                own[i - offset]
            }
        })
        .collect()
}
