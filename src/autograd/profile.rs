//! An op-level profiler for the tape: where a training step spends its time.
//!
//! When enabled (per thread, the thread that records the tape), every node pushed onto a
//! tape is charged the wall time since the previous push on that tape — the op's forward
//! pass plus any glue the caller ran before it — and its backward closure is timed in the
//! reverse sweep. Timings are keyed by the node's position on its tape, so for a model
//! whose graph is the same every step the rows are its layers, summed over the steps.
//! Off by default; when off it costs one thread-local read per push.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Accumulated time of one tape position.
#[derive(Clone, Debug, PartialEq)]
pub struct OpTiming {
    /// Position on the tape (0 = first recorded node).
    pub node: usize,
    pub op: &'static str,
    /// Output shape the last time this position was recorded.
    pub shape: Vec<usize>,
    pub forward: Duration,
    pub backward: Duration,
    /// How many tapes recorded this position.
    pub calls: u64,
}

#[derive(Default)]
struct Profile {
    rows: BTreeMap<usize, OpTiming>,
    last_mark: Option<Instant>,
}

thread_local! {
    static PROFILE: RefCell<Option<Profile>> = const { RefCell::new(None) };
}

/// Start profiling the tapes recorded on this thread (clears earlier timings).
pub fn enable() {
    PROFILE.with(|p| *p.borrow_mut() = Some(Profile::default()));
}

/// Stop profiling and return the timings, in tape order.
pub fn take() -> Vec<OpTiming> {
    PROFILE
        .with(|p| p.borrow_mut().take())
        .map(|p| p.rows.into_values().collect())
        .unwrap_or_default()
}

pub fn is_enabled() -> bool {
    PROFILE.with(|p| p.borrow().is_some())
}

/// A new tape starts: time before its first node is not any op's.
pub(crate) fn tape_started() {
    PROFILE.with(|p| {
        if let Some(p) = p.borrow_mut().as_mut() {
            p.last_mark = Some(Instant::now());
        }
    });
}

/// Node `node` was pushed: charge it the time since the previous mark.
pub(crate) fn pushed(node: usize, op: &'static str, shape: &[usize]) {
    PROFILE.with(|p| {
        let mut p = p.borrow_mut();
        let Some(p) = p.as_mut() else { return };
        let now = Instant::now();
        let spent = p.last_mark.map_or(Duration::ZERO, |m| now - m);
        p.last_mark = Some(now);
        let row = row(p, node, op);
        row.shape = shape.to_vec();
        row.forward += spent;
        row.calls += 1;
    });
}

/// Node `node`'s backward closure (and the accumulation of its results) took `spent`.
pub(crate) fn backward_ran(node: usize, op: &'static str, spent: Duration) {
    PROFILE.with(|p| {
        let mut p = p.borrow_mut();
        let Some(p) = p.as_mut() else { return };
        row(p, node, op).backward += spent;
        // The next forward starts after this sweep, not at the last push.
        p.last_mark = Some(Instant::now());
    });
}

fn row<'a>(p: &'a mut Profile, node: usize, op: &'static str) -> &'a mut OpTiming {
    p.rows.entry(node).or_insert_with(|| OpTiming {
        node,
        op,
        shape: Vec::new(),
        forward: Duration::ZERO,
        backward: Duration::ZERO,
        calls: 0,
    })
}

/// A plain-text table of `rows`: per position, ms per call forward and backward, and the
/// share of the total; positions under 0.5 % are folded into one line.
pub fn report(rows: &[OpTiming]) -> String {
    let total: f64 = rows
        .iter()
        .map(|r| (r.forward + r.backward).as_secs_f64())
        .sum();
    let per_call = |d: Duration, calls: u64| 1e3 * d.as_secs_f64() / calls.max(1) as f64;
    let mut out = format!(
        "{:>4}  {:<20} {:<18} {:>9} {:>9} {:>7}\n",
        "node", "op", "output", "fwd ms", "bwd ms", "share"
    );
    let (mut rest, mut rest_n) = (0.0, 0);
    for r in rows {
        let t = (r.forward + r.backward).as_secs_f64();
        if total > 0.0 && t / total < 0.005 {
            rest += t;
            rest_n += 1;
            continue;
        }
        out += &format!(
            "{:>4}  {:<20} {:<18} {:>9.2} {:>9.2} {:>6.1}%\n",
            r.node,
            r.op,
            format!("{:?}", r.shape),
            per_call(r.forward, r.calls),
            per_call(r.backward, r.calls),
            100.0 * t / total.max(f64::MIN_POSITIVE)
        );
    }
    if rest_n > 0 {
        out += &format!(
            "      {rest_n} smaller nodes{:>50.1}%\n",
            100.0 * rest / total.max(f64::MIN_POSITIVE)
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Tape, Tensor};

    #[test]
    fn profiles_each_tape_position_forward_and_backward() {
        enable();
        for _ in 0..2 {
            let tape = Tape::<f64>::new();
            let x = tape.leaf(Tensor::full(&[3], 2.0));
            let y = crate::ops::mul(&x, &x).unwrap();
            let loss = crate::ops::sum(&y);
            loss.backward().unwrap();
        }
        let rows = take();
        assert!(!is_enabled());
        let ops: Vec<_> = rows.iter().map(|r| (r.node, r.op, r.calls)).collect();
        assert_eq!(ops, vec![(0, "leaf", 2), (1, "mul", 2), (2, "sum", 2)]);
        assert_eq!(rows[1].shape, vec![3]);
        assert!(report(&rows).contains("mul"));
    }
}
