//! Mini-batches: a seeded, shuffling iterator over a list of segment indices.

use super::Dataset;
use crate::{Error, Result, Tensor};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

/// A per-sample transform applied as batches are assembled (e.g. SpecAugment): gets the
/// segment (time-major, `frames × n_mels`) and the iterator's seeded generator.
pub type SampleTransform<'a> = Box<dyn FnMut(&mut [f32], &mut ChaCha8Rng) + 'a>;

/// Yields `(x, labels)` with `x` of shape `(B, 1, frames, n_mels)` (NCHW) over `indices`,
/// shuffled when a seed is given; the last batch may be smaller.
pub struct Batches<'a> {
    ds: &'a Dataset,
    order: Vec<usize>,
    batch_size: usize,
    next: usize,
    rng: ChaCha8Rng,
    transform: Option<SampleTransform<'a>>,
}

impl<'a> Batches<'a> {
    /// `shuffle_seed: Some(seed)` shuffles the order (use e.g. `seed + epoch` per epoch);
    /// `None` keeps `indices` in order.
    pub fn new(
        ds: &'a Dataset,
        indices: &[usize],
        batch_size: usize,
        shuffle_seed: Option<u64>,
    ) -> Result<Self> {
        if batch_size == 0 {
            return Err(Error::invalid("batch size must be at least 1"));
        }
        if let Some(&bad) = indices.iter().find(|&&i| i >= ds.len()) {
            return Err(Error::invalid(format!(
                "segment index {bad} out of range for {} segments",
                ds.len()
            )));
        }
        let mut order = indices.to_vec();
        let mut rng = ChaCha8Rng::seed_from_u64(shuffle_seed.unwrap_or(0));
        if shuffle_seed.is_some() {
            order.shuffle(&mut rng);
        }
        Ok(Batches {
            ds,
            order,
            batch_size,
            next: 0,
            rng,
            transform: None,
        })
    }

    /// Applies `transform` to each sample copied into a batch (the dataset is untouched).
    pub fn with_transform(
        mut self,
        transform: impl FnMut(&mut [f32], &mut ChaCha8Rng) + 'a,
    ) -> Self {
        self.transform = Some(Box::new(transform));
        self
    }

    /// Number of batches in total (including the partial last one).
    pub fn num_batches(&self) -> usize {
        self.order.len().div_ceil(self.batch_size)
    }

    /// The segment order this iterator follows.
    pub fn order(&self) -> &[usize] {
        &self.order
    }
}

impl Iterator for Batches<'_> {
    type Item = (Tensor<f32>, Vec<usize>);

    fn next(&mut self) -> Option<Self::Item> {
        let end = (self.next + self.batch_size).min(self.order.len());
        if self.next >= end {
            return None;
        }
        let chosen = &self.order[self.next..end];
        self.next = end;
        let len = self.ds.segment_len();
        let x = match self.transform.as_mut() {
            // The transform draws from one random stream, segment after segment.
            Some(t) => {
                let mut x = Vec::with_capacity(chosen.len() * len);
                for &i in chosen {
                    let start = x.len();
                    x.extend_from_slice(self.ds.segment(i));
                    t(&mut x[start..], &mut self.rng);
                }
                x
            }
            // A plain copy, on every thread: the step waits for it with the other cores idle.
            None => gather(self.ds, chosen, len),
        };
        let labels = chosen.iter().map(|&i| self.ds.y[i]).collect();
        let shape = [chosen.len(), 1, self.ds.frames, self.ds.n_mels];
        let x = Tensor::new(x, &shape).expect("batch size matches its shape");
        Some((x, labels))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = (self.order.len() - self.next).div_ceil(self.batch_size);
        (left, Some(left))
    }
}

impl ExactSizeIterator for Batches<'_> {}

/// The segments `chosen` of `ds`, one after another, copied in parallel.
fn gather(ds: &Dataset, chosen: &[usize], len: usize) -> Vec<f32> {
    let mut x: Vec<f32> = Vec::with_capacity(chosen.len() * len);
    x.spare_capacity_mut()[..chosen.len() * len]
        .par_chunks_mut(len)
        .zip(chosen)
        .for_each(|(out, &i)| {
            let seg = ds.segment(i);
            assert_eq!(seg.len(), out.len(), "segment length");
            for (o, &v) in out.iter_mut().zip(seg) {
                o.write(v);
            }
        });
    // SAFETY: the chunks cover the first chosen.len()·len slots and every one was written
    // (each segment is len long, checked above).
    unsafe { x.set_len(chosen.len() * len) };
    x
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::dataset::tests::toy;

    #[test]
    fn batches_cover_indices_once_with_partial_last() {
        let ds = toy(2, 3, 4); // 24 segments; segment i holds value i
        let idx: Vec<usize> = (0..24).filter(|i| i % 3 != 0).collect(); // 16 indices
        let batches: Vec<_> = Batches::new(&ds, &idx, 5, Some(7)).unwrap().collect();
        assert_eq!(batches.len(), 4);
        assert_eq!(batches[0].0.shape(), &[5, 1, 4, 3]);
        assert_eq!(batches[3].0.shape(), &[1, 1, 4, 3]);
        let mut seen = Vec::new();
        for (x, labels) in &batches {
            for (b, &label) in labels.iter().enumerate() {
                let i = x.data()[b * 12] as usize;
                assert!(x.data()[b * 12..(b + 1) * 12]
                    .iter()
                    .all(|&v| v == i as f32));
                assert_eq!(label, ds.y[i]);
                seen.push(i);
            }
        }
        let shuffled = seen.clone();
        seen.sort_unstable();
        assert_eq!(seen, idx);
        assert_ne!(shuffled, idx, "shuffled");
    }

    #[test]
    fn shuffle_is_seeded_and_optional() {
        let ds = toy(2, 3, 4);
        let idx: Vec<usize> = (0..24).collect();
        let order = |seed| Batches::new(&ds, &idx, 8, seed).unwrap().order().to_vec();
        assert_eq!(order(Some(1)), order(Some(1)));
        assert_ne!(order(Some(1)), order(Some(2)));
        assert_eq!(order(None), idx);
        assert!(Batches::new(&ds, &idx, 0, None).is_err());
        assert!(Batches::new(&ds, &[24], 4, None).is_err());
        assert_eq!(Batches::new(&ds, &idx, 7, None).unwrap().len(), 4);
    }

    #[test]
    fn transform_applies_to_copies() {
        let ds = toy(1, 1, 2);
        let batches: Vec<_> = Batches::new(&ds, &[0, 1], 2, None)
            .unwrap()
            .with_transform(|seg, _| seg.iter_mut().for_each(|v| *v += 100.0))
            .collect();
        assert_eq!(batches[0].0.data()[12], 101.0);
        assert_eq!(ds.segment(1)[0], 1.0);
    }
}
