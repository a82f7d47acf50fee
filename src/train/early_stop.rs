//! Early stopping on a monitored metric (validation loss or accuracy), Keras-style.
//!
//! An epoch *improves* when its value beats the best so far by more than `min_delta`
//! (`value < best − min_delta` in [`Mode::Min`], `value > best + min_delta` in
//! [`Mode::Max`]); the first finite value always improves. A NaN never improves.
//! After `patience` epochs in a row without improvement, training should stop.
//!
//! **Restore-best semantics.** With `restore_best` set, the trainer snapshots the model
//! whenever [`EarlyStopping::update`] returns [`Decision::Improved`], and when training
//! ends — stopped early *or* after the last epoch — loads that snapshot back, so the final
//! model is the best epoch's, not the last one's. [`EarlyStopping::should_restore`] says
//! whether to do so (set, and the last epoch was not itself the best). Without it the
//! final model is the last epoch's.

use crate::{Error, Result};

/// Whether smaller (loss) or larger (accuracy) values are better.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Min,
    Max,
}

/// What the trainer should do after an epoch.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Decision {
    /// New best value: snapshot the model if restoring the best.
    Improved,
    /// No improvement for `epochs_without_improvement` (< patience) epochs: continue.
    Wait { epochs_without_improvement: usize },
    /// Patience exhausted: stop. `best_epoch` is the epoch to restore.
    Stop { best_epoch: usize },
}

#[derive(Clone, Debug)]
pub struct EarlyStopping {
    mode: Mode,
    patience: usize,
    min_delta: f64,
    restore_best: bool,
    best: Option<(usize, f64)>,
    last_epoch: Option<usize>,
    wait: usize,
}

impl EarlyStopping {
    /// `patience` ≥ 1 epochs without improvement before stopping; `min_delta` ≥ 0, the
    /// smallest change that counts as an improvement.
    pub fn new(mode: Mode, patience: usize, min_delta: f64) -> Result<Self> {
        if patience == 0 {
            return Err(Error::invalid("early stopping patience must be at least 1"));
        }
        if !(min_delta.is_finite() && min_delta >= 0.0) {
            return Err(Error::invalid(format!(
                "early stopping min_delta must be finite and ≥ 0, got {min_delta}"
            )));
        }
        Ok(EarlyStopping {
            mode,
            patience,
            min_delta,
            restore_best: false,
            best: None,
            last_epoch: None,
            wait: 0,
        })
    }

    /// Restore the best epoch's weights when training ends (see the module docs).
    pub fn with_restore_best(mut self, restore_best: bool) -> Self {
        self.restore_best = restore_best;
        self
    }

    /// Record epoch `epoch`'s monitored value. Epochs must increase. On resume, replay
    /// the history's values through `update` to rebuild the state.
    pub fn update(&mut self, epoch: usize, value: f64) -> Result<Decision> {
        if let Some(last) = self.last_epoch {
            if epoch <= last {
                return Err(Error::invalid(format!(
                    "early stopping: epoch {epoch} reported after epoch {last}"
                )));
            }
        }
        self.last_epoch = Some(epoch);
        if self.improves(value) {
            self.best = Some((epoch, value));
            self.wait = 0;
            return Ok(Decision::Improved);
        }
        self.wait += 1;
        if self.wait >= self.patience {
            // Without a finite value ever seen there is no best epoch; report this one.
            let best_epoch = self.best.map_or(epoch, |(e, _)| e);
            Ok(Decision::Stop { best_epoch })
        } else {
            Ok(Decision::Wait {
                epochs_without_improvement: self.wait,
            })
        }
    }

    fn improves(&self, value: f64) -> bool {
        if value.is_nan() {
            return false;
        }
        match (self.best, self.mode) {
            (None, _) => true,
            (Some((_, best)), Mode::Min) => value < best - self.min_delta,
            (Some((_, best)), Mode::Max) => value > best + self.min_delta,
        }
    }

    /// `(epoch, value)` of the best epoch so far.
    pub fn best(&self) -> Option<(usize, f64)> {
        self.best
    }
    pub fn epochs_without_improvement(&self) -> usize {
        self.wait
    }
    pub fn restore_best(&self) -> bool {
        self.restore_best
    }
    /// True when training has ended and the best snapshot must be loaded back:
    /// restore-best is on and the last epoch was not the best one.
    pub fn should_restore(&self) -> bool {
        match (self.best, self.last_epoch) {
            (Some((best, _)), Some(last)) => self.restore_best && best != last,
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stops_after_patience_epochs_without_improvement() {
        let mut es = EarlyStopping::new(Mode::Min, 2, 0.0).unwrap();
        assert_eq!(es.update(1, 1.0).unwrap(), Decision::Improved);
        assert_eq!(es.update(2, 0.8).unwrap(), Decision::Improved);
        assert_eq!(
            es.update(3, 0.9).unwrap(),
            Decision::Wait {
                epochs_without_improvement: 1
            }
        );
        assert_eq!(es.update(4, 0.7).unwrap(), Decision::Improved); // resets the count
        assert_eq!(
            es.update(5, 0.7).unwrap(), // equal is not better
            Decision::Wait {
                epochs_without_improvement: 1
            }
        );
        assert_eq!(
            es.update(6, 0.75).unwrap(),
            Decision::Stop { best_epoch: 4 }
        );
        assert_eq!(es.best(), Some((4, 0.7)));
    }

    #[test]
    fn min_delta_must_be_exceeded_in_max_mode() {
        let mut es = EarlyStopping::new(Mode::Max, 3, 0.01).unwrap();
        assert_eq!(es.update(1, 0.50).unwrap(), Decision::Improved);
        // +0.005 and exactly +0.01 do not count; +0.02 does.
        assert!(matches!(
            es.update(2, 0.505).unwrap(),
            Decision::Wait { .. }
        ));
        assert!(matches!(es.update(3, 0.51).unwrap(), Decision::Wait { .. }));
        assert_eq!(es.update(4, 0.52).unwrap(), Decision::Improved);
        assert_eq!(es.best(), Some((4, 0.52)));
        assert_eq!(es.epochs_without_improvement(), 0);
    }

    #[test]
    fn nan_never_improves() {
        let mut es = EarlyStopping::new(Mode::Min, 2, 0.0).unwrap();
        assert!(matches!(
            es.update(1, f64::NAN).unwrap(),
            Decision::Wait { .. }
        ));
        assert_eq!(
            es.update(2, f64::NAN).unwrap(),
            Decision::Stop { best_epoch: 2 }
        );
        let mut es = EarlyStopping::new(Mode::Min, 1, 0.0).unwrap();
        es.update(1, 0.3).unwrap();
        assert_eq!(
            es.update(2, f64::NAN).unwrap(),
            Decision::Stop { best_epoch: 1 }
        );
    }

    #[test]
    fn restore_flag_semantics() {
        let mut es = EarlyStopping::new(Mode::Max, 5, 0.0)
            .unwrap()
            .with_restore_best(true);
        es.update(1, 0.6).unwrap();
        assert!(!es.should_restore(), "last epoch is the best");
        es.update(2, 0.5).unwrap();
        assert!(es.should_restore(), "best was epoch 1");
        let mut off = EarlyStopping::new(Mode::Max, 5, 0.0).unwrap();
        off.update(1, 0.6).unwrap();
        off.update(2, 0.5).unwrap();
        assert!(!off.should_restore() && !off.restore_best());
    }

    #[test]
    fn invalid_settings_and_order_are_errors() {
        assert!(EarlyStopping::new(Mode::Min, 0, 0.0).is_err());
        assert!(EarlyStopping::new(Mode::Min, 1, -0.1).is_err());
        assert!(EarlyStopping::new(Mode::Min, 1, f64::NAN).is_err());
        let mut es = EarlyStopping::new(Mode::Min, 3, 0.0).unwrap();
        es.update(2, 1.0).unwrap();
        assert!(es.update(2, 0.5).is_err());
    }
}
