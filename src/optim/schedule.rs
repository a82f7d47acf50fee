//! Learning-rate schedules: a function of the epoch ([`LrSchedule`]), or a reaction to a
//! validation metric ([`ReduceOnPlateau`]). Both produce a rate that the training loop
//! hands to `Optimizer::set_learning_rate`.
//!
//! Resume: an `LrSchedule` is plain data (public fields) and its value depends only on
//! the epoch; a `ReduceOnPlateau` carries a [`PlateauState`] to save and restore.

use super::check_range;
use crate::{Error, Result};

/// The learning rate as a function of the epoch (0-based).
#[derive(Clone, Debug, PartialEq)]
pub enum LrSchedule {
    /// `lr(e) = lr`
    Constant { lr: f64 },
    /// `lr(e) = lr·γ^⌊e/every⌋`: multiplied by γ every `every` epochs.
    StepDecay { lr: f64, every: usize, gamma: f64 },
    /// `lr(e) = lr·γ^e`
    Exponential { lr: f64, gamma: f64 },
    /// Linear warm-up for `warmup` epochs, then cosine annealing from `lr` down to
    /// `min_lr` over `epochs` epochs, then `min_lr`:
    ///
    /// ```text
    /// e < w:           lr(e) = lr·(e+1)/(w+1)
    /// e = w + s, s ≤ T: lr(e) = min_lr + (lr − min_lr)·(1 + cos(π·s/T))/2
    /// e > w + T:        lr(e) = min_lr
    /// ```
    ///
    /// The ramp reaches `lr` at e = w, where the cosine starts (SGDR without restarts,
    /// Loshchilov & Hutter 2017; `torch.optim.lr_scheduler.CosineAnnealingLR`).
    Cosine {
        lr: f64,
        min_lr: f64,
        epochs: usize,
        warmup: usize,
    },
}

impl LrSchedule {
    /// An error if a parameter is out of its domain (negative rate, γ ≤ 0, a period of 0,
    /// `min_lr > lr`).
    pub fn validate(&self) -> Result<()> {
        const OP: &str = "LrSchedule";
        let positive = |what: &str, n: usize| {
            if n == 0 {
                Err(Error::invalid(format!("{OP}: {what} must be at least 1")))
            } else {
                Ok(())
            }
        };
        match *self {
            LrSchedule::Constant { lr } => check_range(OP, "lr", lr, 0.0, f64::INFINITY),
            LrSchedule::StepDecay { lr, every, gamma } => {
                check_range(OP, "lr", lr, 0.0, f64::INFINITY)?;
                check_range(OP, "gamma", gamma, f64::MIN_POSITIVE, f64::INFINITY)?;
                positive("every", every)
            }
            LrSchedule::Exponential { lr, gamma } => {
                check_range(OP, "lr", lr, 0.0, f64::INFINITY)?;
                check_range(OP, "gamma", gamma, f64::MIN_POSITIVE, f64::INFINITY)
            }
            LrSchedule::Cosine {
                lr, min_lr, epochs, ..
            } => {
                check_range(OP, "lr", lr, 0.0, f64::INFINITY)?;
                check_range(OP, "min_lr", min_lr, 0.0, f64::INFINITY)?;
                if min_lr > lr {
                    return Err(Error::invalid(format!("{OP}: min_lr {min_lr} > lr {lr}")));
                }
                positive("epochs", epochs)
            }
        }
    }

    /// The learning rate for `epoch` (0-based).
    pub fn lr(&self, epoch: usize) -> Result<f64> {
        self.validate()?;
        Ok(match *self {
            LrSchedule::Constant { lr } => lr,
            LrSchedule::StepDecay { lr, every, gamma } => lr * gamma.powf((epoch / every) as f64),
            LrSchedule::Exponential { lr, gamma } => lr * gamma.powf(epoch as f64),
            LrSchedule::Cosine {
                lr,
                min_lr,
                epochs,
                warmup,
            } => {
                if epoch < warmup {
                    lr * (epoch + 1) as f64 / (warmup + 1) as f64
                } else {
                    let s = (epoch - warmup).min(epochs) as f64;
                    let cos = (std::f64::consts::PI * s / epochs as f64).cos();
                    min_lr + (lr - min_lr) * 0.5 * (1.0 + cos)
                }
            }
        })
    }
}

/// Whether a smaller or a larger metric is better (a loss or an accuracy).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlateauMode {
    Min,
    Max,
}

/// What [`ReduceOnPlateau`] remembers between epochs; save it to resume.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct PlateauState {
    /// The best metric so far; `None` before the first epoch.
    pub best: Option<f64>,
    /// Epochs since the last improvement (reset by a reduction and during cooldown).
    pub wait: usize,
    /// Epochs of cooldown left.
    pub cooldown_counter: usize,
}

/// Multiply the learning rate by `factor` when the monitored metric has not improved for
/// `patience` epochs — Keras's `ReduceLROnPlateau`, epoch by epoch:
///
/// ```text
/// if cooldown_counter > 0:  cooldown_counter −= 1, wait = 0
/// if metric improves on best by more than threshold (absolute, Keras's min_delta):
///     best = metric, wait = 0
/// else if not in cooldown:
///     wait += 1
///     if wait ≥ patience and lr > min_lr:
///         lr = max(lr·factor, min_lr), cooldown_counter = cooldown, wait = 0
/// ```
///
/// As in Keras the cooldown counter is decremented before the check, so the epoch where
/// it reaches 0 already counts: `cooldown = c` leaves `c − 1` epochs uncounted.
#[derive(Clone, Debug, PartialEq)]
pub struct ReduceOnPlateau {
    /// In (0, 1).
    pub factor: f64,
    pub patience: usize,
    pub min_lr: f64,
    /// Epochs after a reduction during which no plateau is counted.
    pub cooldown: usize,
    pub mode: PlateauMode,
    /// The least change that counts as an improvement (absolute).
    pub threshold: f64,
    state: PlateauState,
}

impl ReduceOnPlateau {
    /// Keras defaults: factor 0.1, patience 10, min_lr 0, cooldown 0, threshold 1e-4.
    pub fn new(mode: PlateauMode) -> Self {
        ReduceOnPlateau {
            factor: 0.1,
            patience: 10,
            min_lr: 0.0,
            cooldown: 0,
            mode,
            threshold: 1e-4,
            state: PlateauState::default(),
        }
    }
    pub fn with_factor(mut self, factor: f64) -> Self {
        self.factor = factor;
        self
    }
    pub fn with_patience(mut self, patience: usize) -> Self {
        self.patience = patience;
        self
    }
    pub fn with_min_lr(mut self, min_lr: f64) -> Self {
        self.min_lr = min_lr;
        self
    }
    pub fn with_cooldown(mut self, cooldown: usize) -> Self {
        self.cooldown = cooldown;
        self
    }
    pub fn with_threshold(mut self, threshold: f64) -> Self {
        self.threshold = threshold;
        self
    }

    /// Record one epoch's `metric` given the current learning rate `lr`; returns the
    /// learning rate for the next epoch (`lr` itself unless a reduction happened).
    pub fn step(&mut self, metric: f64, lr: f64) -> Result<f64> {
        const OP: &str = "ReduceOnPlateau";
        check_range(OP, "factor", self.factor, f64::MIN_POSITIVE, 1.0)?;
        check_range(OP, "min_lr", self.min_lr, 0.0, f64::INFINITY)?;
        check_range(OP, "threshold", self.threshold, 0.0, f64::INFINITY)?;
        check_range(OP, "lr", lr, 0.0, f64::INFINITY)?;
        if !metric.is_finite() {
            return Err(Error::NonFinite(format!(
                "{OP}: monitored metric is {metric}"
            )));
        }
        let s = &mut self.state;
        if s.cooldown_counter > 0 {
            s.cooldown_counter -= 1;
            s.wait = 0;
        }
        let improved = match (s.best, self.mode) {
            (None, _) => true,
            (Some(best), PlateauMode::Min) => metric < best - self.threshold,
            (Some(best), PlateauMode::Max) => metric > best + self.threshold,
        };
        if improved {
            s.best = Some(metric);
            s.wait = 0;
            return Ok(lr);
        }
        if s.cooldown_counter > 0 {
            return Ok(lr);
        }
        s.wait += 1;
        if s.wait >= self.patience && lr > self.min_lr {
            s.cooldown_counter = self.cooldown;
            s.wait = 0;
            return Ok((lr * self.factor).max(self.min_lr));
        }
        Ok(lr)
    }

    pub fn state(&self) -> PlateauState {
        self.state
    }
    pub fn load_state(&mut self, state: PlateauState) -> Result<()> {
        if state.best.is_some_and(|b| !b.is_finite()) {
            return Err(Error::NonFinite(
                "ReduceOnPlateau state: best metric".into(),
            ));
        }
        self.state = state;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-12 * b.abs().max(1.0)
    }

    fn values(s: &LrSchedule, epochs: &[usize]) -> Vec<f64> {
        epochs.iter().map(|&e| s.lr(e).unwrap()).collect()
    }

    fn assert_values(got: &[f64], want: &[f64]) {
        for (i, (g, w)) in got.iter().zip(want).enumerate() {
            assert!(close(*g, *w), "value {i}: {g} expected {w}");
        }
    }

    #[test]
    fn constant() {
        let s = LrSchedule::Constant { lr: 0.01 };
        assert_values(&values(&s, &[0, 5, 1000]), &[0.01, 0.01, 0.01]);
    }

    #[test]
    fn step_decay() {
        // ×0.5 every 3 epochs: epochs 0–2 → 0.1, 3–5 → 0.05, 6 → 0.025
        let s = LrSchedule::StepDecay {
            lr: 0.1,
            every: 3,
            gamma: 0.5,
        };
        let got = values(&s, &[0, 2, 3, 5, 6, 9]);
        assert_values(&got, &[0.1, 0.1, 0.05, 0.05, 0.025, 0.0125]);
    }

    #[test]
    fn exponential() {
        // 0.1·0.9^e: 0.1, 0.09, 0.081, 0.0729
        let s = LrSchedule::Exponential {
            lr: 0.1,
            gamma: 0.9,
        };
        assert_values(&values(&s, &[0, 1, 2, 3]), &[0.1, 0.09, 0.081, 0.0729]);
    }

    #[test]
    fn cosine_without_warmup() {
        // lr 1, min 0.1, T = 4: 0.1 + 0.9·(1 + cos(πs/4))/2
        // s=0 → 1; s=1 → 0.1 + 0.45·(1 + √½) = 0.868198; s=2 → 0.55; s=4 → 0.1; after → 0.1
        let s = LrSchedule::Cosine {
            lr: 1.0,
            min_lr: 0.1,
            epochs: 4,
            warmup: 0,
        };
        let c = 0.1 + 0.45 * (1.0 + std::f64::consts::FRAC_1_SQRT_2);
        let got = values(&s, &[0, 1, 2, 4, 10]);
        assert_values(&got, &[1.0, c, 0.55, 0.1, 0.1]);
    }

    #[test]
    fn cosine_with_warmup() {
        // warm-up 3: lr·(e+1)/4 = 0.25, 0.5, 0.75; then cosine from e = 3 over T = 2:
        // e=3 → 1, e=4 → (1 + cos(π/2))/2 = 0.5, e=5 → 0, e=6 → 0
        let s = LrSchedule::Cosine {
            lr: 1.0,
            min_lr: 0.0,
            epochs: 2,
            warmup: 3,
        };
        let got = values(&s, &[0, 1, 2, 3, 4, 5, 6]);
        assert_values(&got, &[0.25, 0.5, 0.75, 1.0, 0.5, 0.0, 0.0]);
    }

    #[test]
    fn invalid_schedules_are_errors() {
        let bad = [
            LrSchedule::Constant { lr: -1.0 },
            LrSchedule::StepDecay {
                lr: 0.1,
                every: 0,
                gamma: 0.5,
            },
            LrSchedule::Exponential {
                lr: 0.1,
                gamma: 0.0,
            },
            LrSchedule::Cosine {
                lr: 0.1,
                min_lr: 0.2,
                epochs: 5,
                warmup: 0,
            },
            LrSchedule::Cosine {
                lr: 0.1,
                min_lr: 0.0,
                epochs: 0,
                warmup: 0,
            },
        ];
        for s in bad {
            assert!(s.lr(0).is_err(), "{s:?}");
        }
    }

    /// Feed `metrics` from lr 1; the lr after each epoch.
    fn drive(p: &mut ReduceOnPlateau, metrics: &[f64]) -> Vec<f64> {
        let mut lr = 1.0;
        metrics
            .iter()
            .map(|&m| {
                lr = p.step(m, lr).unwrap();
                lr
            })
            .collect()
    }

    #[test]
    fn plateau_patience() {
        // patience 2: epoch 0 sets best 1.0; epochs 1, 2 do not improve → wait 1, 2 →
        // reduce at epoch 2; epoch 3 improves (0.5 < 1 − 1e-4); epochs 4, 5 → reduce again.
        let mut p = ReduceOnPlateau::new(PlateauMode::Min)
            .with_patience(2)
            .with_factor(0.5);
        let got = drive(&mut p, &[1.0, 1.0, 1.2, 0.5, 0.5, 0.6, 0.4]);
        assert_eq!(got, [1.0, 1.0, 0.5, 0.5, 0.5, 0.25, 0.25]);
        assert_eq!(p.state().best, Some(0.4));
    }

    #[test]
    fn plateau_threshold_is_absolute() {
        // 0.99995 improves on 1.0 by less than 1e-4: not an improvement.
        let mut p = ReduceOnPlateau::new(PlateauMode::Min).with_patience(1);
        let got = drive(&mut p, &[1.0, 0.99995]);
        assert!(close(got[1], 0.1), "{got:?}");
    }

    #[test]
    fn plateau_cooldown() {
        // patience 1, cooldown 2: reduce at epoch 1 (counter = 2); epoch 2 decrements it
        // to 1 and is not counted; epoch 3 decrements it to 0 *before* the check, so it
        // counts → reduce. Keras's cooldown c thus skips c − 1 epochs (checked against
        // keras 3.15.1 ReduceLROnPlateau, as are the other plateau tests).
        let mut p = ReduceOnPlateau::new(PlateauMode::Min)
            .with_patience(1)
            .with_cooldown(2)
            .with_factor(0.5);
        let got = drive(&mut p, &[1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]);
        assert_eq!(got, [1.0, 0.5, 0.5, 0.25, 0.25, 0.125, 0.125]);
        assert_eq!(p.state().cooldown_counter, 1);
    }

    #[test]
    fn plateau_max_mode_and_min_lr() {
        // Accuracy (max mode), patience 1, floor 0.3: 1 → 0.5 → 0.3 (clamped) → stays.
        let mut p = ReduceOnPlateau::new(PlateauMode::Max)
            .with_patience(1)
            .with_factor(0.5)
            .with_min_lr(0.3);
        let got = drive(&mut p, &[0.5, 0.4, 0.6, 0.6, 0.6, 0.6]);
        assert_eq!(got, [1.0, 0.5, 0.5, 0.3, 0.3, 0.3]);
    }

    #[test]
    fn plateau_state_resumes() {
        let metrics = [1.0, 0.9, 0.95, 0.97, 0.96, 0.99, 0.8, 0.85, 0.9];
        let make = || {
            ReduceOnPlateau::new(PlateauMode::Min)
                .with_patience(2)
                .with_cooldown(1)
        };
        let mut whole = make();
        let all = drive(&mut whole, &metrics);
        let mut first = make();
        let mut lr = 1.0;
        for &m in &metrics[..4] {
            lr = first.step(m, lr).unwrap();
        }
        let mut second = make();
        second.load_state(first.state()).unwrap();
        for (i, &m) in metrics[4..].iter().enumerate() {
            lr = second.step(m, lr).unwrap();
            assert_eq!(lr, all[4 + i]);
        }
        assert_eq!(second.state(), whole.state());
    }

    #[test]
    fn plateau_rejects_bad_input() {
        let mut p = ReduceOnPlateau::new(PlateauMode::Min);
        assert!(p.step(f64::NAN, 0.1).is_err());
        assert!(p.clone().with_factor(1.0).step(1.0, 0.1).is_err());
        assert!(p.step(1.0, -0.1).is_err());
        let bad = PlateauState {
            best: Some(f64::INFINITY),
            wait: 0,
            cooldown_counter: 0,
        };
        assert!(p.load_state(bad).is_err());
    }
}
