//! `melgrad export-npz` and `melgrad bench-train`: melgrad's side of the PyTorch/Keras
//! comparison in `benches/reference/`.

use crate::args::{BenchArgs, ExportArgs, ModelName};
use crate::dataset;
use melgrad::data::npz::{NpzReader, NpzWriter};
use melgrad::data::Dataset;
use melgrad::optim::LrSchedule;
use melgrad::train::fit::{evaluate, predict, train_epoch, Augmentation, FitConfig, OptimizerSpec};
use melgrad::{Error, Result};
use serde_json::json;
use std::time::Instant;

/// X (N, 80, 80, 1) f32, y, song (i64), train_idx / val_idx (i64), genres.
pub fn export_npz(a: &ExportArgs) -> Result<()> {
    let ds = dataset::load(&a.data, a.seed)?;
    let split = dataset::splits(&ds, &a.split, a.seed)?
        .into_iter()
        .next()
        .expect("one split");
    let as_i64 = |v: &[usize]| v.iter().map(|&i| i as i64).collect::<Vec<i64>>();
    let mut w = NpzWriter::create(&a.out)?;
    w.f32_array("X", &[ds.len(), ds.frames, ds.n_mels, 1], &ds.x)?;
    w.i64_array("y", &[ds.len()], &as_i64(&ds.y))?;
    w.i64_array("song", &[ds.len()], &as_i64(&ds.song))?;
    w.i64_array("train_idx", &[split.train.len()], &as_i64(&split.train))?;
    w.i64_array("val_idx", &[split.val.len()], &as_i64(&split.val))?;
    w.strings("genres", &ds.genres)?;
    let tracks: Vec<String> = ds.song.iter().map(|&s| ds.songs[s].name.clone()).collect();
    w.strings("track", &tracks)?;
    w.finish()?;
    println!(
        "{}\nwrote {} ({} segments; {})",
        split.summary(&ds),
        a.out.display(),
        ds.len(),
        split.name
    );
    Ok(())
}

fn indices(reader: &mut NpzReader, name: &str, n: usize) -> Result<Vec<usize>> {
    let arr = reader.int_array(name)?;
    arr.data
        .iter()
        .map(|&i| {
            usize::try_from(i).ok().filter(|&i| i < n).ok_or_else(|| {
                Error::invalid(format!("{name}: index {i} out of range for {n} segments"))
            })
        })
        .collect()
}

/// Peak resident set size of this process (VmHWM), in MiB.
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// The CPU model from /proc/cpuinfo (Linux), if it can be read.
fn cpu_name() -> Option<String> {
    let info = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    info.lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, name)| name.trim().to_string())
}

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    if s.is_empty() {
        f64::NAN
    } else if s.len() % 2 == 1 {
        s[s.len() / 2]
    } else {
        (s[s.len() / 2 - 1] + s[s.len() / 2]) / 2.0
    }
}

/// Train for `epochs`, timing each training epoch (validation untimed), then time
/// predicting the validation set three times. Prints `RESULT {json}`.
pub fn bench_train(a: &BenchArgs) -> Result<()> {
    let ds = Dataset::read_npz(&a.data)?;
    let mut reader = NpzReader::open(&a.data)?;
    let train = indices(&mut reader, "train_idx", ds.len())?;
    let val = indices(&mut reader, "val_idx", ds.len())?;
    let rss_baseline = peak_rss_mib();
    let mut model = a.model.kind().build::<f32>(ds.n_classes(), a.seed)?;
    let params: usize = model.params().iter().map(|p| p.numel()).sum();
    // The same recipe as the references: Adam (ε 1e-7); the improved model adds cosine.
    let schedule = if a.model == ModelName::BnCnn {
        LrSchedule::Cosine {
            lr: a.lr,
            min_lr: 0.0,
            epochs: a.epochs,
            warmup: 0,
        }
    } else {
        LrSchedule::Constant { lr: a.lr }
    };
    let cfg = FitConfig {
        epochs: a.epochs,
        batch_size: a.batch,
        seed: a.seed,
        optimizer: OptimizerSpec::Adam {
            lr: a.lr,
            weight_decay: 0.0,
        },
        schedule,
        plateau: None,
        penalty: None,
        clip_norm: None,
        early_stopping: None,
        augmentation: Augmentation::default(),
        quiet: true,
    };
    let mut opt = cfg.optimizer.build();
    let (mut epoch_s, mut train_loss, mut train_acc, mut val_loss, mut val_acc) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for epoch in 1..=a.epochs {
        opt.set_learning_rate(cfg.schedule.lr(epoch - 1)?);
        // Profile the timed epochs only (the first is the warm-up), when asked.
        if a.profile && (epoch == 2 || a.epochs == 1) {
            melgrad::autograd::profile::enable();
        }
        let started = Instant::now();
        let (loss, acc, progress) =
            train_epoch(model.as_mut(), &ds, &train, &cfg, opt.as_mut(), epoch)?;
        epoch_s.push(started.elapsed().as_secs_f64());
        drop(progress);
        train_loss.push(loss);
        train_acc.push(acc);
        if !a.timing_only && !val.is_empty() {
            let e = evaluate(model.as_mut(), &ds, &val, a.batch)?;
            val_loss.push(e.loss);
            val_acc.push(e.accuracy);
        }
        eprintln!(
            "epoch {epoch}/{}: {:.2} s, loss {loss:.4}, acc {acc:.4}",
            a.epochs,
            epoch_s[epoch - 1]
        );
    }
    if a.profile {
        let rows = melgrad::autograd::profile::take();
        let tape_s: f64 = rows
            .iter()
            .map(|r| (r.forward + r.backward).as_secs_f64())
            .sum();
        let epochs_s: f64 = epoch_s[if a.epochs > 1 { 1 } else { 0 }..].iter().sum();
        eprintln!(
            "profile of the timed epochs: ops on the tape {:.1}% of epoch time, the rest \
             (optimizer step, batch gathering, metrics) {:.1}%\n{}",
            100.0 * tape_s / epochs_s,
            100.0 * (1.0 - tape_s / epochs_s),
            melgrad::autograd::profile::report(&rows)
        );
    }
    let mut predict_runs = Vec::new();
    if !val.is_empty() {
        for _ in 0..3 {
            let started = Instant::now();
            predict(model.as_mut(), &ds, &val, a.batch)?;
            predict_runs.push(started.elapsed().as_secs_f64());
        }
    }
    let final_val_acc = if val.is_empty() {
        None
    } else {
        Some(evaluate(model.as_mut(), &ds, &val, a.batch)?.accuracy)
    };
    let timed = if epoch_s.len() > 1 {
        &epoch_s[1..]
    } else {
        &epoch_s[..]
    };
    let result = json!({
        "framework": "melgrad",
        "model": a.model.kind().name(),
        "threads": rayon::current_num_threads(),
        "seed": a.seed,
        "epochs": a.epochs,
        "batch": a.batch,
        "n_train": train.len(),
        "n_val": val.len(),
        "n_classes": ds.n_classes(),
        "params": params,
        "params_total": params + model.buffers().iter().map(|p| p.numel()).sum::<usize>(),
        "s_per_epoch": median(timed),
        "epoch_s": epoch_s,
        "warmup_epoch_s": epoch_s.first(),
        "predict_s": median(&predict_runs),
        "peak_rss_mib": peak_rss_mib(),
        "rss_baseline_mib": rss_baseline,
        "train_loss": train_loss,
        "train_acc": train_acc,
        "val_loss": val_loss,
        "val_acc": val_acc,
        "final_val_acc": final_val_acc,
        "best_val_acc": val_acc.iter().copied().fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.max(v)))),
        "versions": {"melgrad": env!("CARGO_PKG_VERSION")},
        "cpu": cpu_name(),
    });
    println!("RESULT {result}");
    Ok(())
}
