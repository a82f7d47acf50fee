//! `melgrad predict`: the genre of whole songs, and which parts of the song said so.

use crate::args::PredictArgs;
use crate::evaluate::load_model;
use melgrad::audio::{load_audio, log_mel, MelConfig};
use melgrad::data::{segment_frames, SegmentConfig};
use melgrad::models::Model;
use melgrad::nn::Ctx;
use melgrad::train::metrics::argmax;
use melgrad::{Error, Result, Tensor, Var};
use serde::Serialize;
use std::path::Path;

#[derive(Serialize)]
struct GenreScore {
    genre: String,
    probability: f64,
}

#[derive(Serialize)]
struct SegmentVote {
    start_s: f64,
    end_s: f64,
    genre: String,
    probability: f64,
}

#[derive(Serialize)]
struct SongPrediction {
    file: String,
    top: Vec<GenreScore>,
    segments: Vec<SegmentVote>,
}

pub fn run(a: &PredictArgs) -> Result<()> {
    let (mut model, genres) = load_model(&a.checkpoint)?;
    let mut all = Vec::new();
    let mut failures = 0;
    for song in &a.songs {
        match predict_song(model.as_mut(), &genres, song, a.top) {
            Ok(p) => {
                if !a.json {
                    print_song(&p);
                }
                all.push(p);
            }
            Err(e) => {
                failures += 1;
                eprintln!("skipped {}: {e}", song.display());
            }
        }
    }
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&all).map_err(|e| Error::invalid(e.to_string()))?
        );
    }
    if all.is_empty() {
        return Err(Error::invalid(format!(
            "none of the {failures} files could be classified"
        )));
    }
    Ok(())
}

fn predict_song(
    model: &mut dyn Model<f32>,
    genres: &[String],
    path: &Path,
    top: usize,
) -> Result<SongPrediction> {
    let mel = MelConfig::default();
    let cfg = SegmentConfig::default();
    let audio = load_audio(path, mel.sample_rate)?;
    let spec = log_mel(&audio.samples, &mel)?;
    let (segments, count) = segment_frames(&spec.data, spec.frames, spec.n_mels, &cfg)?;
    let x = Tensor::new(segments, &[count, 1, cfg.frames, cfg.n_mels])?;
    let logits = model.forward(&Var::constant(x), &mut Ctx::eval())?;
    let probs = logits.softmax()?.into_value();
    let c = genres.len();
    let mut mean = vec![0.0f64; c];
    let seconds_per_frame = mel.hop_length as f64 / mel.sample_rate as f64;
    let mut votes = Vec::new();
    for (s, row) in probs.data().chunks_exact(c).enumerate() {
        for (m, &p) in mean.iter_mut().zip(row) {
            *m += p as f64 / count as f64;
        }
        let best = argmax(row)?;
        let start = (s * cfg.hop) as f64 * seconds_per_frame;
        votes.push(SegmentVote {
            start_s: start,
            end_s: start + cfg.frames as f64 * seconds_per_frame,
            genre: genres[best].clone(),
            probability: row[best] as f64,
        });
    }
    let mut order: Vec<usize> = (0..c).collect();
    order.sort_by(|&i, &j| mean[j].total_cmp(&mean[i]));
    Ok(SongPrediction {
        file: path.display().to_string(),
        top: order
            .iter()
            .take(top.max(1))
            .map(|&g| GenreScore {
                genre: genres[g].clone(),
                probability: mean[g],
            })
            .collect(),
        segments: votes,
    })
}

fn print_song(p: &SongPrediction) {
    let top: Vec<String> = p
        .top
        .iter()
        .map(|g| format!("{} {:.1}%", g.genre, 100.0 * g.probability))
        .collect();
    println!("{}: {}", p.file, top.join(" · "));
    let winner = &p.top[0].genre;
    let agree = p.segments.iter().filter(|v| &v.genre == winner).count();
    println!(
        "  why: {agree} of {} segments vote {winner}; per segment (start s: top genre):",
        p.segments.len()
    );
    let line: Vec<String> = p
        .segments
        .iter()
        .map(|v| {
            format!(
                "{:>5.1} {} {:.0}%",
                v.start_s,
                v.genre,
                100.0 * v.probability
            )
        })
        .collect();
    for chunk in line.chunks(5) {
        println!("    {}", chunk.join(" | "));
    }
}
