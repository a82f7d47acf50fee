//! `melgrad eval`, and the validation report written at the end of training.

use crate::args::EvalArgs;
use crate::dataset;
use melgrad::data::Dataset;
use melgrad::models::{Model, ModelKind};
use melgrad::train::checkpoint::{self, Checkpoint};
use melgrad::train::fit::{evaluate, restore};
use melgrad::train::metrics::song_predictions;
use melgrad::train::run_dir::class_report_table;
use melgrad::train::{plot_confusion_matrix, ConfusionMatrix, RunDir};
use melgrad::{Error, Result};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// Accuracy of one set of segments, per segment and per song.
#[derive(Serialize, Clone, Debug)]
pub struct SetReport {
    pub segments: usize,
    pub songs: usize,
    pub loss: f64,
    pub segment_accuracy: f64,
    /// Songs classified by the mean of their segments' probabilities.
    pub song_accuracy: f64,
    pub macro_f1: f64,
}

/// Evaluate on `indices`; write the confusion matrix (CSV, PNG, SVG) and the per-genre
/// report into `run` under `<stem>_…`.
pub fn report_on(
    model: &mut dyn Model<f32>,
    ds: &Dataset,
    indices: &[usize],
    batch: usize,
    run: &RunDir,
    stem: &str,
    title: &str,
) -> Result<SetReport> {
    let (report, matrix) = measure(model, ds, indices, batch)?;
    let names: Vec<&str> = ds.genres.iter().map(String::as_str).collect();
    run.write_confusion_matrix(&format!("{stem}_confusion"), &matrix, &names)?;
    run.write_class_report(&format!("{stem}_report"), &matrix.class_report()?, &names)?;
    for ext in ["png", "svg"] {
        plot_confusion_matrix(
            &matrix,
            &names,
            title,
            &run.file(&format!("{stem}_confusion.{ext}")),
        )?;
    }
    Ok(report)
}

fn measure(
    model: &mut dyn Model<f32>,
    ds: &Dataset,
    indices: &[usize],
    batch: usize,
) -> Result<(SetReport, ConfusionMatrix)> {
    if indices.is_empty() {
        return Err(Error::invalid(
            "nothing to evaluate: the chosen side of the split is empty",
        ));
    }
    let e = evaluate(model, ds, indices, batch)?;
    let song_ids: Vec<usize> = indices.iter().map(|&i| ds.song[i]).collect();
    let songs = song_predictions(&e.probabilities, &song_ids, &e.labels)?;
    let matrix = ConfusionMatrix::from_predictions(&e.labels, &e.predictions, ds.n_classes())?;
    let class_report = matrix.class_report()?;
    Ok((
        SetReport {
            segments: indices.len(),
            songs: songs.song_ids.len(),
            loss: e.loss,
            segment_accuracy: e.accuracy,
            song_accuracy: songs.accuracy(),
            macro_f1: class_report.macro_f1,
        },
        matrix,
    ))
}

/// A checkpoint path, or a run folder's best checkpoint.
pub fn checkpoint_path(path: &Path) -> PathBuf {
    if path.is_dir() {
        path.join("best.safetensors")
    } else {
        path.to_path_buf()
    }
}

/// Build the model a checkpoint was saved from and load its weights.
pub fn load_model(path: &Path) -> Result<(Box<dyn Model<f32>>, Vec<String>)> {
    let path = checkpoint_path(path);
    let ckpt: Checkpoint = checkpoint::load(&path, None)?;
    let kind = ModelKind::parse(ckpt.model_kind())?;
    let classes: usize = ckpt.meta_parsed("n_classes")?;
    let genres: Vec<String> = ckpt
        .meta("genres")
        .map(|g| g.split(',').map(str::to_string).collect())
        .unwrap_or_else(|| (0..classes).map(|c| format!("class {c}")).collect());
    if genres.len() != classes {
        return Err(Error::format(
            &path,
            format!("{} genre names for {classes} classes", genres.len()),
        ));
    }
    let mut model = kind.build::<f32>(classes, 0)?;
    restore(&ckpt, model.as_mut(), None)?;
    Ok((model, genres))
}

pub fn run(a: &EvalArgs) -> Result<()> {
    let (mut model, genres) = load_model(&a.checkpoint)?;
    let ds = dataset::load(&a.data, a.seed)?;
    let ds = if ds.genres == genres {
        ds
    } else {
        ds.select_genres(&genres)?
    };
    let indices: Vec<usize> = if a.on == "all" {
        (0..ds.len()).collect()
    } else {
        let split = dataset::splits(&ds, &a.split, a.seed)?
            .into_iter()
            .next()
            .expect("one split");
        match a.on.as_str() {
            "train" => split.train,
            "test" => split.test,
            _ => split.val,
        }
    };
    let (report, matrix) = measure(model.as_mut(), &ds, &indices, a.batch)?;
    let names: Vec<&str> = ds.genres.iter().map(String::as_str).collect();
    println!("{}", class_report_table(&matrix.class_report()?, &names)?);
    println!(
        "{} on {} ({} segments, {} songs): segment accuracy {:.2}% · song accuracy {:.2}% · loss {:.4}",
        model.kind(),
        a.on,
        report.segments,
        report.songs,
        100.0 * report.segment_accuracy,
        100.0 * report.song_accuracy,
        report.loss
    );
    Ok(())
}
