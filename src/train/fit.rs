//! The training loop: what Keras' `model.fit` does, for melgrad models.
//!
//! One step: a fresh tape, the model's forward pass in train mode, the loss, `backward`,
//! the tape dropped (so parameters are updated in place), penalties and clipping applied
//! to the gradients, one optimizer step. One epoch: every training batch in a seeded
//! order, then validation. After each epoch the history, the last checkpoint and (when
//! validation improved) the best checkpoint are written atomically.

use super::checkpoint::{self, Checkpoint};
use super::early_stop::{Decision, EarlyStopping, Mode};
use super::history::{EpochRecord, History};
use super::metrics::argmax_rows;
use super::nonfinite::nonfinite_loss_error;
use super::progress::{should_draw, EpochProgress};
use crate::data::augment::spec::{mixup, SpecAugment};
use crate::data::{Batches, Dataset};
use crate::models::Model;
use crate::nn::Ctx;
use crate::ops::{log_softmax, mul, mul_scalar, softmax, softmax_cross_entropy, sum};
use crate::optim::{
    clip_grad_norm, Adam, AdamW, LrSchedule, Optimizer, Penalty, ReduceOnPlateau, Sgd,
};
use crate::{Error, Param, Result, Tape, Tensor, Var};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Which optimizer, with its settings.
#[derive(Clone, Debug, PartialEq)]
pub enum OptimizerSpec {
    Sgd {
        lr: f64,
        momentum: f64,
        nesterov: bool,
        weight_decay: f64,
    },
    Adam {
        lr: f64,
        weight_decay: f64,
    },
    AdamW {
        lr: f64,
        weight_decay: f64,
    },
}

impl OptimizerSpec {
    pub fn lr(&self) -> f64 {
        match *self {
            OptimizerSpec::Sgd { lr, .. }
            | OptimizerSpec::Adam { lr, .. }
            | OptimizerSpec::AdamW { lr, .. } => lr,
        }
    }
    pub fn build(&self) -> Box<dyn Optimizer<f32>> {
        match *self {
            OptimizerSpec::Sgd {
                lr,
                momentum,
                nesterov,
                weight_decay,
            } => {
                let sgd = Sgd::new(lr).with_weight_decay(weight_decay);
                Box::new(if nesterov {
                    sgd.with_nesterov(momentum)
                } else {
                    sgd.with_momentum(momentum)
                })
            }
            OptimizerSpec::Adam { lr, weight_decay } => {
                Box::new(Adam::new(lr).with_weight_decay(weight_decay))
            }
            OptimizerSpec::AdamW { lr, weight_decay } => {
                Box::new(AdamW::new(lr).with_weight_decay(weight_decay))
            }
        }
    }
}

/// Training-time augmentation of spectrogram batches.
#[derive(Clone, Debug, Default)]
pub struct Augmentation {
    pub spec_augment: Option<SpecAugment>,
    /// Mixup's α (Beta(α, α) mixing weights); `None` disables mixup.
    pub mixup_alpha: Option<f64>,
}

/// Everything `fit` needs besides the model and the data.
#[derive(Clone, Debug)]
pub struct FitConfig {
    pub epochs: usize,
    pub batch_size: usize,
    pub seed: u64,
    pub optimizer: OptimizerSpec,
    pub schedule: LrSchedule,
    /// When set, the learning rate is driven by validation loss instead of `schedule`.
    pub plateau: Option<ReduceOnPlateau>,
    /// L1/L2 penalty on the model's kernels (weights, not biases).
    pub penalty: Option<Penalty>,
    pub clip_norm: Option<f64>,
    /// Stop after this many epochs without a better validation loss, then restore the best.
    pub early_stopping: Option<usize>,
    pub augmentation: Augmentation,
    pub quiet: bool,
}

/// Where a run's files go; `None` paths are not written (tests, benchmarks).
#[derive(Clone, Debug, Default)]
pub struct FitOutputs {
    pub history_csv: Option<PathBuf>,
    pub last_checkpoint: Option<PathBuf>,
    pub best_checkpoint: Option<PathBuf>,
    /// Extra metadata stored in checkpoints (genres, config JSON...).
    pub metadata: Vec<(String, String)>,
}

/// The result of a run.
#[derive(Clone, Debug)]
pub struct FitOutcome {
    pub history: History,
    pub best_epoch: Option<usize>,
    pub best_val_acc: Option<f64>,
    pub stopped_early: bool,
}

/// Loss and accuracy on a set of segments, with every segment's class probabilities.
#[derive(Clone, Debug)]
pub struct Evaluation {
    pub loss: f64,
    pub accuracy: f64,
    pub probabilities: Tensor<f32>,
    pub predictions: Vec<usize>,
    pub labels: Vec<usize>,
}

fn save_checkpoint(
    path: &Path,
    model: &mut dyn Model<f32>,
    opt: &dyn Optimizer<f32>,
    epoch: usize,
    outputs: &FitOutputs,
) -> Result<()> {
    let kind = model.kind();
    let state = opt.state();
    let mut tensors: Vec<(String, &Tensor<f32>)> = Vec::new();
    let params: Vec<&Param<f32>> = model.params().into_iter().chain(model.buffers()).collect();
    for p in &params {
        tensors.push((p.name().to_string(), &p.value));
    }
    for (name, t) in &state {
        tensors.push((format!("{}{name}", checkpoint::OPTIMIZER_PREFIX), t));
    }
    let named: Vec<(&str, &Tensor<f32>)> = tensors.iter().map(|(n, t)| (n.as_str(), *t)).collect();
    let epoch_text = epoch.to_string();
    let classes = model.num_classes().to_string();
    let mut meta: Vec<(&str, &str)> = vec![("epoch", &epoch_text), ("n_classes", &classes)];
    meta.extend(
        outputs
            .metadata
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str())),
    );
    checkpoint::save(path, kind, &named, &meta)
}

/// Restore model weights (and optionally optimizer state) from a checkpoint.
pub fn restore(
    ckpt: &Checkpoint,
    model: &mut dyn Model<f32>,
    opt: Option<&mut dyn Optimizer<f32>>,
) -> Result<()> {
    ckpt.assign_to(&mut model.state_mut())?;
    if let Some(opt) = opt {
        let prefix = checkpoint::OPTIMIZER_PREFIX;
        let state = ckpt
            .optimizer_tensors()
            .map(|(n, t)| (n.strip_prefix(prefix).unwrap_or(n).to_string(), t.clone()))
            .collect();
        opt.load_state(state)?;
    }
    Ok(())
}

/// Mean cross-entropy against soft targets `t` (rows sum to 1): `−Σᵢⱼ tᵢⱼ log softmax(z)ᵢⱼ / N`.
fn soft_cross_entropy(logits: &Var<f32>, targets: Tensor<f32>) -> Result<Var<f32>> {
    let n = logits.shape()[0] as f32;
    let picked = mul(&log_softmax(logits)?, &Var::constant(targets))?;
    Ok(mul_scalar(&sum(&picked), -1.0 / n))
}

/// Seeds derived from the run seed, so every epoch and step is reproducible on resume.
fn derived_seed(seed: u64, a: u64, b: u64) -> u64 {
    seed.wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ a.wrapping_mul(0xC2B2_AE3D_27D4_EB4F)
        ^ b.wrapping_mul(0x1656_67B1_9E37_79F9)
}

/// Train `model` on `train` segments of `ds`, validating on `val` after each epoch.
///
/// With `resume_from`, weights, optimizer state and history come from that checkpoint
/// and history file, and training continues at the next epoch exactly as if it had not
/// stopped (epoch order and dropout masks are derived from the seed and the epoch).
pub fn fit(
    model: &mut dyn Model<f32>,
    ds: &Dataset,
    train: &[usize],
    val: &[usize],
    cfg: &FitConfig,
    outputs: &FitOutputs,
    resume_from: Option<(&Path, &Path)>,
) -> Result<FitOutcome> {
    if train.is_empty() {
        return Err(Error::invalid("no training segments"));
    }
    if ds.n_classes() != model.num_classes() {
        return Err(Error::invalid(format!(
            "the data has {} classes, the model {} outputs",
            ds.n_classes(),
            model.num_classes()
        )));
    }
    let mut opt = cfg.optimizer.build();
    let mut plateau = cfg.plateau.clone();
    let mut history = History::new();
    if let Some((ckpt_path, history_path)) = resume_from {
        let ckpt = checkpoint::load(ckpt_path, Some(model.kind()))?;
        restore(&ckpt, model, Some(opt.as_mut()))?;
        let epoch: usize = ckpt.meta_parsed("epoch")?;
        history = History::load(history_path)?;
        history.truncate_after(epoch);
    }
    let mut stopper = cfg
        .early_stopping
        .map(|patience| {
            EarlyStopping::new(Mode::Min, patience, 0.0).map(|s| s.with_restore_best(true))
        })
        .transpose()?;
    let mut best: Option<(usize, f64, f64)> = None; // (epoch, val loss, val acc)
    let mut stopped_early = false;
    // Replay the resumed history so early stopping and "best" continue where they were.
    for r in history.records() {
        if let (Some(l), Some(a)) = (r.val_loss, r.val_acc) {
            if best.is_none_or(|(_, bl, _)| l < bl) {
                best = Some((r.epoch, l, a));
            }
            if let Some(s) = stopper.as_mut() {
                s.update(r.epoch, l)?;
            }
            if let Some(p) = plateau.as_mut() {
                let lr = p.step(l, r.lr)?;
                opt.set_learning_rate(lr);
            }
        }
    }

    for epoch in history.len() + 1..=cfg.epochs {
        let started = Instant::now();
        let lr = match &plateau {
            Some(_) => opt.learning_rate(),
            None => cfg.schedule.lr(epoch - 1)?,
        };
        opt.set_learning_rate(lr);
        let (train_loss, train_acc, progress) =
            train_epoch(model, ds, train, cfg, opt.as_mut(), epoch)?;
        let (val_loss, val_acc) = if val.is_empty() {
            (None, None)
        } else {
            let e = evaluate(model, ds, val, cfg.batch_size)?;
            (Some(e.loss), Some(e.accuracy))
        };
        let record = EpochRecord {
            epoch,
            train_loss,
            train_acc,
            val_loss,
            val_acc,
            lr,
            seconds: started.elapsed().as_secs_f64(),
        };
        if should_draw(cfg.quiet, std::io::stdout().is_terminal()) {
            progress.finish(&epoch_line(&record, cfg.epochs));
        } else if !cfg.quiet {
            println!("{}", epoch_line(&record, cfg.epochs));
        }
        match &outputs.history_csv {
            Some(path) => history.append_and_save(record, path)?,
            None => history.push(record)?,
        }
        if let Some(path) = &outputs.last_checkpoint {
            save_checkpoint(path, model, opt.as_ref(), epoch, outputs)?;
        }
        if let (Some(l), Some(a)) = (val_loss, val_acc) {
            if best.is_none_or(|(_, bl, _)| l < bl) {
                best = Some((epoch, l, a));
                if let Some(path) = &outputs.best_checkpoint {
                    save_checkpoint(path, model, opt.as_ref(), epoch, outputs)?;
                }
            }
            if let Some(p) = plateau.as_mut() {
                let next = p.step(l, lr)?;
                opt.set_learning_rate(next);
            }
            if let Some(s) = stopper.as_mut() {
                if let Decision::Stop { best_epoch } = s.update(epoch, l)? {
                    if !cfg.quiet {
                        println!("early stopping at epoch {epoch}: best validation loss at epoch {best_epoch}");
                    }
                    stopped_early = true;
                    break;
                }
            }
        }
    }
    // Keras' restore_best_weights: with early stopping, end on the best epoch's weights.
    if stopper.is_some() {
        if let Some(path) = &outputs.best_checkpoint {
            if path.exists() {
                restore(&checkpoint::load(path, Some(model.kind()))?, model, None)?;
            }
        }
    }
    Ok(FitOutcome {
        history,
        best_epoch: best.map(|b| b.0),
        best_val_acc: best.map(|b| b.2),
        stopped_early,
    })
}

fn epoch_line(r: &EpochRecord, epochs: usize) -> String {
    let val = match (r.val_loss, r.val_acc) {
        (Some(l), Some(a)) => format!(" · val loss {l:.4} · val acc {:.2}%", 100.0 * a),
        _ => String::new(),
    };
    format!(
        "epoch {:>3}/{epochs} · loss {:.4} · acc {:.2}%{val} · lr {:.2e} · {:.1}s",
        r.epoch,
        r.train_loss,
        100.0 * r.train_acc,
        r.lr,
        r.seconds
    )
}

/// One pass over the training segments; returns mean loss, accuracy and the epoch's
/// progress bar (finish it with the validation line).
pub fn train_epoch(
    model: &mut dyn Model<f32>,
    ds: &Dataset,
    train: &[usize],
    cfg: &FitConfig,
    opt: &mut dyn Optimizer<f32>,
    epoch: usize,
) -> Result<(f64, f64, EpochProgress)> {
    let seed = derived_seed(cfg.seed, epoch as u64, 0);
    let mut batches = Batches::new(ds, train, cfg.batch_size, Some(seed))?;
    if let Some(sa) = cfg.augmentation.spec_augment.clone() {
        let (frames, mels) = (ds.frames, ds.n_mels);
        batches = batches.with_transform(move |seg, rng| {
            sa.apply(seg, frames, mels, rng)
                .expect("segment shape matches the dataset");
        });
    }
    let mut progress = EpochProgress::new(epoch, cfg.epochs, batches.num_batches(), cfg.quiet);
    let mut mix_rng = ChaCha8Rng::seed_from_u64(derived_seed(cfg.seed, epoch as u64, 1));
    for (step, (x, labels)) in batches.enumerate() {
        let n = labels.len();
        let (x, soft) = match cfg.augmentation.mixup_alpha {
            Some(alpha) => {
                let (mixed, soft, _) = mixup(&x, &labels, ds.n_classes(), alpha, &mut mix_rng)?;
                (mixed, Some(soft))
            }
            None => (x, None),
        };
        let tape = Tape::new();
        let mut ctx = Ctx::train(&tape, derived_seed(cfg.seed, epoch as u64, 2 + step as u64));
        let input = Var::constant(x.clone());
        let logits = model.forward(&input, &mut ctx)?;
        let loss = match soft {
            Some(t) => soft_cross_entropy(&logits, t)?,
            None => softmax_cross_entropy(&logits, &labels)?,
        };
        let loss_value = loss.value().item()? as f64;
        if !loss_value.is_finite() {
            drop((loss, logits, ctx, tape));
            return Err(diagnose_nonfinite(model, &x, loss_value, epoch, step + 1));
        }
        let correct = argmax_rows(logits.value())?
            .iter()
            .zip(&labels)
            .filter(|(p, y)| p == y)
            .count();
        let mut grads = loss.backward()?;
        // Drop every handle on the parameters' storage so the update is in place.
        drop((loss, logits, ctx, tape, input));
        if let Some(penalty) = &cfg.penalty {
            penalty.add_gradients(&model.kernels(), &mut grads)?;
        }
        if let Some(max_norm) = cfg.clip_norm {
            clip_grad_norm(&model.params(), &mut grads, max_norm)?;
        }
        opt.step(&mut model.params_mut(), &grads)?;
        progress.update(loss_value, correct, n);
    }
    let loss = progress.mean_loss().unwrap_or(f64::NAN);
    let acc = progress.accuracy().unwrap_or(f64::NAN);
    Ok((loss, acc, progress))
}

/// Re-run the batch in eval mode with a trace to name the first layer that went bad.
fn diagnose_nonfinite(
    model: &mut dyn Model<f32>,
    x: &Tensor<f32>,
    loss: f64,
    epoch: usize,
    step: usize,
) -> Error {
    let mut ctx = Ctx::eval().with_trace();
    let _ = model.forward(&Var::constant(x.clone()), &mut ctx);
    let trace = ctx.take_trace();
    let outputs: Vec<(&str, &Tensor<f32>)> = trace.iter().map(|(n, t)| (n.as_str(), t)).collect();
    let input = [("input", x)];
    let with_input: Vec<(&str, &Tensor<f32>)> = input.iter().copied().chain(outputs).collect();
    nonfinite_loss_error(loss, epoch, step, &with_input)
}

/// Class probabilities for `indices` in order, in eval mode (nothing recorded).
pub fn predict(
    model: &mut dyn Model<f32>,
    ds: &Dataset,
    indices: &[usize],
    batch_size: usize,
) -> Result<Tensor<f32>> {
    let mut probs = Vec::with_capacity(indices.len() * model.num_classes());
    for (x, _) in Batches::new(ds, indices, batch_size, None)? {
        let mut ctx = Ctx::eval();
        let logits = model.forward(&Var::constant(x), &mut ctx)?;
        probs.extend_from_slice(softmax(&logits)?.value().data());
    }
    Tensor::new(probs, &[indices.len(), model.num_classes()])
}

/// Mean cross-entropy and accuracy of the model on `indices`.
pub fn evaluate(
    model: &mut dyn Model<f32>,
    ds: &Dataset,
    indices: &[usize],
    batch_size: usize,
) -> Result<Evaluation> {
    let probabilities = predict(model, ds, indices, batch_size)?;
    let labels: Vec<usize> = indices.iter().map(|&i| ds.y[i]).collect();
    let predictions = argmax_rows(&probabilities)?;
    let c = model.num_classes();
    let loss = labels
        .iter()
        .enumerate()
        .map(|(i, &y)| -(probabilities.data()[i * c + y].max(1e-12) as f64).ln())
        .sum::<f64>()
        / labels.len().max(1) as f64;
    let correct = predictions
        .iter()
        .zip(&labels)
        .filter(|(p, y)| p == y)
        .count();
    Ok(Evaluation {
        loss,
        accuracy: correct as f64 / labels.len().max(1) as f64,
        probabilities,
        predictions,
        labels,
    })
}
