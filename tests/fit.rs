//! The training loop end to end on a tiny dataset: learning, exact resume, reproducibility,
//! and a clear error when the loss goes non-finite.

use melgrad::data::{Dataset, SongInfo};
use melgrad::models::ModelKind;
use melgrad::optim::LrSchedule;
use melgrad::train::fit::{fit, Augmentation, FitConfig, FitOutputs, OptimizerSpec};
use melgrad::train::History;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// 12 songs × 2 segments of 80×80, three classes that differ in which mel bands are loud.
fn tiny() -> Dataset {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let (songs_n, per_song, len) = (12, 2, 80 * 80);
    let mut x = Vec::new();
    let (mut y, mut song, mut songs) = (Vec::new(), Vec::new(), Vec::new());
    for s in 0..songs_n {
        let genre = s % 3;
        songs.push(SongInfo {
            name: format!("g{genre}/song{s}.wav"),
            path: None,
            genre,
        });
        for _ in 0..per_song {
            for i in 0..len {
                let band = i % 80;
                let loud = band / 27 == genre;
                let base = if loud { -20.0 } else { -60.0 };
                x.push(base + rng.random_range(-10.0..10.0f32));
            }
            y.push(genre);
            song.push(s);
        }
    }
    let genres = vec!["a".into(), "b".into(), "c".into()];
    Dataset::new(x, y, song, songs, genres, 80, 80).unwrap()
}

fn config(epochs: usize, lr: f64) -> FitConfig {
    FitConfig {
        epochs,
        batch_size: 8,
        seed: 5,
        optimizer: OptimizerSpec::Adam {
            lr,
            weight_decay: 0.0,
        },
        schedule: LrSchedule::Cosine {
            lr,
            min_lr: lr * 0.1,
            epochs,
            warmup: 0,
        },
        plateau: None,
        penalty: None,
        clip_norm: None,
        early_stopping: None,
        augmentation: Augmentation::default(),
        quiet: true,
    }
}

fn split() -> (Vec<usize>, Vec<usize>) {
    ((0..18).collect(), (18..24).collect())
}

#[test]
fn learns_and_resumes_exactly() {
    let ds = tiny();
    let (train, val) = split();
    let dir = tempfile::tempdir().unwrap();
    let outputs = |name: &str| FitOutputs {
        history_csv: Some(dir.path().join(format!("{name}.csv"))),
        last_checkpoint: Some(dir.path().join(format!("{name}-last.safetensors"))),
        best_checkpoint: Some(dir.path().join(format!("{name}-best.safetensors"))),
        metadata: Vec::new(),
    };
    // cnn-lstm has dropout, so resume must also restore the dropout stream.
    let kind = ModelKind::CnnLstm;

    let mut straight = kind.build::<f32>(3, 9).unwrap();
    let full = fit(
        straight.as_mut(),
        &ds,
        &train,
        &val,
        &config(4, 3e-3),
        &outputs("a"),
        None,
    )
    .unwrap();
    let first = full.history.records()[0].train_loss;
    let last = full.history.records()[3].train_loss;
    assert!(last < first, "training loss went from {first} to {last}");

    // Two epochs, stop; a fresh process would build a fresh model and resume from disk.
    let mut first_half = kind.build::<f32>(3, 9).unwrap();
    // The schedule is defined over the whole run; only the stopping point differs.
    let cfg2 = FitConfig {
        epochs: 2,
        ..config(4, 3e-3)
    };
    fit(
        first_half.as_mut(),
        &ds,
        &train,
        &val,
        &cfg2,
        &outputs("c"),
        None,
    )
    .unwrap();
    let mut resumed = kind.build::<f32>(3, 77).unwrap(); // different init: all state comes from disk
    let c = outputs("c");
    let rest = fit(
        resumed.as_mut(),
        &ds,
        &train,
        &val,
        &config(4, 3e-3),
        &c,
        Some((
            c.last_checkpoint.as_ref().unwrap(),
            c.history_csv.as_ref().unwrap(),
        )),
    )
    .unwrap();
    let on_disk = History::load(c.history_csv.as_ref().unwrap()).unwrap();
    assert_eq!(on_disk.len(), 4);
    for (a, b) in full.history.records().iter().zip(rest.history.records()) {
        assert_eq!(
            a.train_loss.to_bits(),
            b.train_loss.to_bits(),
            "epoch {}",
            a.epoch
        );
        assert_eq!(
            a.val_loss.map(f64::to_bits),
            b.val_loss.map(f64::to_bits),
            "epoch {}",
            a.epoch
        );
    }
}

#[test]
fn same_seed_same_numbers() {
    let ds = tiny();
    let (train, val) = split();
    let run = || {
        let mut m = ModelKind::ParallelCnn.build::<f32>(3, 2).unwrap();
        fit(
            m.as_mut(),
            &ds,
            &train,
            &val,
            &config(2, 1e-3),
            &FitOutputs::default(),
            None,
        )
        .unwrap()
    };
    let (a, b) = (run(), run());
    assert_eq!(a.history.records().len(), 2);
    for (ra, rb) in a.history.records().iter().zip(b.history.records()) {
        assert_eq!(ra.train_loss.to_bits(), rb.train_loss.to_bits());
        assert_eq!(ra.val_acc, rb.val_acc);
    }
}

#[test]
fn a_diverging_run_stops_with_epoch_step_and_layer() {
    let ds = tiny();
    let (train, val) = split();
    let mut m = ModelKind::ParallelCnn.build::<f32>(3, 2).unwrap();
    let err = fit(
        m.as_mut(),
        &ds,
        &train,
        &val,
        &config(3, 1e30),
        &FitOutputs::default(),
        None,
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("epoch") && err.contains("step"), "{err}");
    assert!(
        err.contains("non-finite") || err.contains("overflowed"),
        "{err}"
    );
}

#[test]
fn mismatched_classes_and_empty_training_sets_are_errors() {
    let ds = tiny();
    let (train, val) = split();
    let mut m = ModelKind::Mlp.build::<f32>(5, 0).unwrap();
    let err = fit(
        m.as_mut(),
        &ds,
        &train,
        &val,
        &config(1, 1e-3),
        &FitOutputs::default(),
        None,
    );
    assert!(err.unwrap_err().to_string().contains("classes"));
    let mut m = ModelKind::Mlp.build::<f32>(3, 0).unwrap();
    assert!(fit(
        m.as_mut(),
        &ds,
        &[],
        &val,
        &config(1, 1e-3),
        &FitOutputs::default(),
        None
    )
    .is_err());
}
