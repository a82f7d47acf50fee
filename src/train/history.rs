//! Per-epoch training history, kept as a CSV file that is rewritten atomically after
//! every epoch (a crash never leaves a half-written line) and read back on `--resume`.
//!
//! Numbers are written with Rust's shortest round-trip formatting, so reading the file
//! back gives bit-identical values; an absent validation metric is an empty field, and a
//! non-finite value is written as `NaN` / `inf` / `-inf`.

use super::atomic::write_atomic;
use crate::{Error, Result};
use std::fmt::Write as _;
use std::path::Path;

/// The CSV header, in column order.
pub const HEADER: &str = "epoch,train_loss,train_acc,val_loss,val_acc,lr,seconds";

/// One epoch's numbers. Epochs are counted from 1.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EpochRecord {
    pub epoch: usize,
    pub train_loss: f64,
    pub train_acc: f64,
    /// `None` when training without a validation split.
    pub val_loss: Option<f64>,
    pub val_acc: Option<f64>,
    pub lr: f64,
    /// Wall-clock seconds of the epoch (training + validation).
    pub seconds: f64,
}

/// Epoch records in increasing epoch order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct History {
    records: Vec<EpochRecord>,
}

impl History {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn records(&self) -> &[EpochRecord] {
        &self.records
    }
    pub fn len(&self) -> usize {
        self.records.len()
    }
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }
    pub fn last(&self) -> Option<&EpochRecord> {
        self.records.last()
    }

    /// Add a record; its epoch must be larger than the last one's.
    pub fn push(&mut self, record: EpochRecord) -> Result<()> {
        if let Some(last) = self.records.last() {
            if record.epoch <= last.epoch {
                return Err(Error::invalid(format!(
                    "history: epoch {} recorded after epoch {}",
                    record.epoch, last.epoch
                )));
            }
        }
        self.records.push(record);
        Ok(())
    }

    /// Drop every record after `epoch` (resuming from an older checkpoint than the last
    /// history line: the epochs after it will be trained again).
    pub fn truncate_after(&mut self, epoch: usize) {
        self.records.retain(|r| r.epoch <= epoch);
    }

    /// The whole history as CSV text (header + one line per epoch).
    pub fn to_csv(&self) -> String {
        let mut out = String::with_capacity(64 * (self.records.len() + 1));
        out.push_str(HEADER);
        out.push('\n');
        for r in &self.records {
            let opt = |v: Option<f64>| v.map(|x| x.to_string()).unwrap_or_default();
            let _ = writeln!(
                out,
                "{},{},{},{},{},{},{}",
                r.epoch,
                r.train_loss,
                r.train_acc,
                opt(r.val_loss),
                opt(r.val_acc),
                r.lr,
                r.seconds
            );
        }
        out
    }

    /// Parse CSV text produced by [`History::to_csv`]; `source` names it in errors.
    pub fn from_csv(text: &str, source: &Path) -> Result<Self> {
        let bad =
            |line: usize, detail: String| Error::format(source, format!("line {line}: {detail}"));
        let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l));
        match lines.next() {
            Some((_, header)) if header.trim_end() == HEADER => {}
            Some((_, header)) => {
                return Err(bad(1, format!("header is {header:?}, expected {HEADER:?}")))
            }
            None => return Err(Error::format(source, "empty history file (no header)")),
        }
        let mut history = History::new();
        for (n, line) in lines {
            if line.trim().is_empty() {
                continue;
            }
            let fields: Vec<&str> = line.trim_end().split(',').collect();
            if fields.len() != 7 {
                return Err(bad(n, format!("{} fields, expected 7", fields.len())));
            }
            let num = |i: usize| -> Result<f64> {
                fields[i].parse().map_err(|_| {
                    bad(
                        n,
                        format!("column {}: {:?} is not a number", i + 1, fields[i]),
                    )
                })
            };
            let opt = |i: usize| -> Result<Option<f64>> {
                if fields[i].is_empty() {
                    Ok(None)
                } else {
                    num(i).map(Some)
                }
            };
            let epoch = fields[0]
                .parse()
                .map_err(|_| bad(n, format!("epoch {:?} is not a whole number", fields[0])))?;
            let record = EpochRecord {
                epoch,
                train_loss: num(1)?,
                train_acc: num(2)?,
                val_loss: opt(3)?,
                val_acc: opt(4)?,
                lr: num(5)?,
                seconds: num(6)?,
            };
            history.push(record).map_err(|e| bad(n, e.to_string()))?;
        }
        Ok(history)
    }

    /// Read a history CSV file.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Self::from_csv(&text, path)
    }

    /// Write the whole history to `path` atomically.
    pub fn save(&self, path: &Path) -> Result<()> {
        write_atomic(path, self.to_csv().as_bytes())
    }

    /// Push `record` and rewrite `path` atomically: the call to make after each epoch.
    /// If writing fails the record is still in memory and the old file is intact.
    pub fn append_and_save(&mut self, record: EpochRecord, path: &Path) -> Result<()> {
        self.push(record)?;
        self.save(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(epoch: usize) -> EpochRecord {
        EpochRecord {
            epoch,
            train_loss: 1.0 / (epoch as f64 + 0.3),
            train_acc: 0.1 * epoch as f64,
            val_loss: Some(std::f64::consts::PI / epoch as f64),
            val_acc: Some(0.123456789012345 * epoch as f64),
            lr: 1e-3 * 0.5f64.powi(epoch as i32),
            seconds: 12.5 + epoch as f64,
        }
    }

    #[test]
    fn roundtrip_is_bit_exact_and_appends() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.csv");
        let mut h = History::new();
        for e in 1..=3 {
            h.append_and_save(record(e), &path).unwrap();
            assert_eq!(History::load(&path).unwrap(), h);
        }
        let mut no_val = record(4);
        no_val.val_loss = None;
        no_val.val_acc = None;
        no_val.train_loss = f64::NAN;
        h.append_and_save(no_val, &path).unwrap();
        let back = History::load(&path).unwrap();
        assert_eq!(back.len(), 4);
        assert_eq!(back.records()[3].val_loss, None);
        assert!(back.records()[3].train_loss.is_nan());
        assert_eq!(back.records()[..3], h.records()[..3]);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with(HEADER) && text.ends_with('\n'));
        assert!(
            text.lines().nth(4).unwrap().starts_with("4,NaN,0.4,,,"),
            "{text}"
        );
    }

    #[test]
    fn epochs_must_increase_and_truncate_drops_later_ones() {
        let mut h = History::new();
        h.push(record(1)).unwrap();
        h.push(record(2)).unwrap();
        assert!(h.push(record(2)).is_err());
        h.push(record(5)).unwrap();
        h.truncate_after(2);
        assert_eq!(h.last().unwrap().epoch, 2);
    }

    #[test]
    fn malformed_files_are_format_errors_with_line_numbers() {
        let p = Path::new("h.csv");
        let ok = History::from_csv(&format!("{HEADER}\n1,0.5,0.5,,,0.001,3\n\n"), p).unwrap();
        assert_eq!(ok.len(), 1);
        let cases = [
            ("", "empty history"),
            ("epoch,loss\n", "header is"),
            (
                &*format!("{HEADER}\n1,0.5,0.5,,,0.001\n"),
                "line 2: 6 fields",
            ),
            (&*format!("{HEADER}\n1,0.5,x,,,0.001,3\n"), "column 3"),
            (
                &*format!("{HEADER}\n1.5,0.5,0.5,,,0.001,3\n"),
                "epoch \"1.5\"",
            ),
            (
                &*format!("{HEADER}\n2,1,1,,,1,1\n1,1,1,,,1,1\n"),
                "line 3: invalid argument: history: epoch 1",
            ),
        ];
        for (text, expected) in cases {
            let err = History::from_csv(text, p).unwrap_err().to_string();
            assert!(err.contains(expected), "{err:?} lacks {expected:?}");
        }
        assert!(matches!(
            History::load(Path::new("/nonexistent/h.csv")),
            Err(Error::Io { .. })
        ));
    }
}
