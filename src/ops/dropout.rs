//! Inverted dropout: in training each unit is kept with probability 1 − rate and the kept
//! ones are scaled by 1/(1 − rate), so the expected output equals the input and eval mode
//! is the plain identity (the layer simply does not call the op).
//!
//! With the multiplier mask `m` (each entry 0 or 1/(1 − rate)):
//!
//! ```text
//! y = x⊙m        dx = dy⊙m
//! ```

use crate::{Error, Float, Result, Tensor, Var};
use rand::rngs::SmallRng;
use rand::{Rng, RngExt, SeedableRng};

/// Drop each element of `x` with probability `rate` (0 ≤ rate < 1), scaling the rest by
/// 1/(1 − rate). The mask is drawn from `rng`, so a seeded rng gives the same mask.
pub fn dropout<T: Float>(x: &Var<T>, rate: f64, rng: &mut impl Rng) -> Result<Var<T>> {
    if !(0.0..1.0).contains(&rate) {
        return Err(Error::invalid(format!(
            "dropout: rate must be in [0, 1), got {rate}"
        )));
    }
    if rate == 0.0 {
        return Ok(x.clone());
    }
    let scale = T::from_f64(1.0 / (1.0 - rate));
    // One 32-bit draw per element, dropped when below rate·2³² (so P(drop) is rate to
    // within 2⁻³²), from a small generator seeded by `rng`, drawn into a buffer first so
    // the generator's state stays in registers: a ChaCha f64 per element made dropout
    // 2 % of a CnnLstm training step, for a 128 × 200 mask.
    let threshold = (rate * 2f64.powi(32)).round() as u64;
    let mut draws = vec![0u32; x.value().len()];
    SmallRng::from_rng(rng).fill(&mut draws[..]);
    let keep = |draw: u32| u64::from(draw) >= threshold;
    let mask = draws.iter().map(|&d| if keep(d) { scale } else { T::ZERO });
    let mask = Tensor::new(mask.collect(), x.shape())?;
    dropout_with_mask(x, &mask)
}

/// `y = x⊙mask` with a given multiplier mask of x's shape (entries 0 or 1/(1 − rate));
/// lets a test fix the mask.
pub fn dropout_with_mask<T: Float>(x: &Var<T>, mask: &Tensor<T>) -> Result<Var<T>> {
    if mask.shape() != x.shape() {
        return Err(Error::shape(
            "dropout",
            format!("mask {:?} for x {:?}", mask.shape(), x.shape()),
        ));
    }
    let y = x.value().zip_map(mask, |a, m| a * m)?;
    let mask = mask.clone();
    Ok(Var::from_op("dropout", y, &[x], move |g, _| {
        vec![Some(g.zip_map(&mask, |g, m| g * m).expect("same shape"))]
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::autograd::{gradcheck, GradcheckOptions};
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn dropout_gradcheck_with_a_fixed_mask() {
        let x = Tensor::new(vec![0.5, -1.0, 2.0, 0.3, -0.7, 1.1], &[2, 3]).unwrap();
        let mask = Tensor::new(vec![2.0, 0.0, 2.0, 0.0, 0.0, 2.0], &[2, 3]).unwrap();
        let r = gradcheck(
            |v| dropout_with_mask(&v[0], &mask),
            &[x],
            &GradcheckOptions::default(),
        )
        .unwrap();
        r.check(1e-6).unwrap();
    }

    #[test]
    fn dropout_keeps_about_one_minus_rate_and_scales_them() {
        let x = Var::constant(Tensor::<f64>::ones(&[100, 100]));
        let y = dropout(&x, 0.25, &mut ChaCha8Rng::seed_from_u64(3)).unwrap();
        let kept = y.value().data().iter().filter(|&&v| v != 0.0).count();
        assert!((7300..7700).contains(&kept), "kept {kept} of 10000");
        assert!(y
            .value()
            .data()
            .iter()
            .all(|&v| v == 0.0 || (v - 4.0 / 3.0).abs() < 1e-12));
        let again = dropout(&x, 0.25, &mut ChaCha8Rng::seed_from_u64(3)).unwrap();
        assert_eq!(y.value(), again.value(), "same seed, same mask");
    }

    #[test]
    fn dropout_rejects_bad_rate_and_mask() {
        let x = Var::constant(Tensor::<f64>::ones(&[2, 2]));
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        assert!(dropout(&x, 1.0, &mut rng).is_err());
        assert!(dropout(&x, -0.1, &mut rng).is_err());
        assert!(dropout(&x, f64::NAN, &mut rng).is_err());
        assert_eq!(dropout(&x, 0.0, &mut rng).unwrap().value(), x.value());
        assert!(dropout_with_mask(&x, &Tensor::ones(&[4])).is_err());
    }
}
