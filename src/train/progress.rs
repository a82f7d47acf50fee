//! A per-epoch progress bar (indicatif) showing the running loss and accuracy.
//!
//! The bar is drawn on stdout only when stdout is a terminal and output is not quiet;
//! otherwise it is hidden (logs and pipes get no control characters) while the running
//! statistics are still kept, so the trainer can read them either way.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;

const TEMPLATE: &str =
    "{prefix:>13} [{bar:28.cyan/blue}] {pos:>4}/{len:4} {msg}  {elapsed_precise} (eta {eta})";

/// Whether to draw: never when quiet, and only on a terminal.
pub fn should_draw(quiet: bool, stdout_is_terminal: bool) -> bool {
    !quiet && stdout_is_terminal
}

/// The progress of one epoch: a bar over its batches plus sample-weighted running means.
pub struct EpochProgress {
    bar: ProgressBar,
    loss_sum: f64,
    correct: usize,
    seen: usize,
}

impl EpochProgress {
    /// A bar for epoch `epoch` of `epochs`, over `batches` batches; drawn on stdout when
    /// [`should_draw`] says so.
    pub fn new(epoch: usize, epochs: usize, batches: usize, quiet: bool) -> Self {
        let visible = should_draw(quiet, std::io::stdout().is_terminal());
        Self::with_target(epoch, epochs, batches, visible)
    }

    /// A bar that is never drawn (tests, quiet runs).
    pub fn hidden(batches: usize) -> Self {
        Self::with_target(0, 0, batches, false)
    }

    fn with_target(epoch: usize, epochs: usize, batches: usize, visible: bool) -> Self {
        let target = if visible {
            ProgressDrawTarget::stdout()
        } else {
            ProgressDrawTarget::hidden()
        };
        let bar = ProgressBar::with_draw_target(Some(batches as u64), target);
        // The template is a constant covered by a test; fall back rather than panic.
        let style = ProgressStyle::with_template(TEMPLATE)
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
        bar.set_style(style);
        bar.set_prefix(format!("epoch {epoch}/{epochs}"));
        EpochProgress {
            bar,
            loss_sum: 0.0,
            correct: 0,
            seen: 0,
        }
    }

    /// Record a finished batch: its mean loss, its correct predictions and its size.
    pub fn update(&mut self, batch_mean_loss: f64, batch_correct: usize, batch_size: usize) {
        self.loss_sum += batch_mean_loss * batch_size as f64;
        self.correct += batch_correct;
        self.seen += batch_size;
        if !self.bar.is_hidden() {
            self.bar.set_message(self.summary());
        }
        self.bar.inc(1);
    }

    /// Sample-weighted mean loss so far (`None` before the first batch).
    pub fn mean_loss(&self) -> Option<f64> {
        (self.seen > 0).then(|| self.loss_sum / self.seen as f64)
    }
    /// Accuracy so far (`None` before the first batch).
    pub fn accuracy(&self) -> Option<f64> {
        (self.seen > 0).then(|| self.correct as f64 / self.seen as f64)
    }
    pub fn samples_seen(&self) -> usize {
        self.seen
    }
    pub fn is_hidden(&self) -> bool {
        self.bar.is_hidden()
    }

    /// `loss 0.1234  acc 56.7%`, or `-` before the first batch.
    pub fn summary(&self) -> String {
        match (self.mean_loss(), self.accuracy()) {
            (Some(loss), Some(acc)) => format!("loss {loss:.4}  acc {:.1}%", 100.0 * acc),
            _ => "-".to_string(),
        }
    }

    /// Print a line above the bar without tearing it; prints nothing when hidden.
    pub fn println(&self, line: &str) {
        self.bar.println(line);
    }

    /// Leave the bar on screen with a final message (e.g. the validation numbers).
    pub fn finish(&self, message: &str) {
        self.bar
            .finish_with_message(format!("{}  {message}", self.summary()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn visibility_rule() {
        assert!(should_draw(false, true));
        assert!(!should_draw(true, true));
        assert!(!should_draw(false, false));
        assert!(!should_draw(true, false));
    }

    #[test]
    fn running_means_are_sample_weighted() {
        let mut p = EpochProgress::hidden(3);
        assert!(p.is_hidden());
        assert_eq!(p.mean_loss(), None);
        assert_eq!(p.summary(), "-");
        p.update(1.0, 2, 4);
        p.update(0.4, 1, 2); // smaller last batch weighs less
        assert!((p.mean_loss().unwrap() - (4.0 + 0.8) / 6.0).abs() < 1e-12);
        assert!((p.accuracy().unwrap() - 0.5).abs() < 1e-12);
        assert_eq!(p.samples_seen(), 6);
        assert_eq!(p.summary(), "loss 0.8000  acc 50.0%");
        p.finish("val acc 40%");
    }

    #[test]
    fn template_parses() {
        assert!(ProgressStyle::with_template(TEMPLATE).is_ok());
        // Under `cargo test` stdout is captured, not a terminal: the bar stays hidden.
        if !std::io::stdout().is_terminal() {
            assert!(EpochProgress::new(1, 10, 5, false).is_hidden());
        }
        assert!(EpochProgress::new(1, 10, 5, true).is_hidden());
    }
}
