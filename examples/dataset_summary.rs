//! Builds (or loads from the cache) a dataset from a GTZAN-style folder and prints its
//! splits: `cargo run --release --example dataset_summary -- ../shared/data/gtzan [splits_dir]`.
//! With no folder argument it uses the synthetic dataset.

use melgrad::data::{self, BuildOptions, Dataset, FeatureConfig};
use std::time::Instant;

fn main() -> melgrad::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let start = Instant::now();
    let ds = match args.first() {
        Some(folder) => {
            let (ds, report) = Dataset::from_folder(folder, &BuildOptions::default())?;
            println!(
                "{folder}: {report} in {:.2} s",
                start.elapsed().as_secs_f64()
            );
            ds
        }
        None => {
            let ds = Dataset::from_synthetic(10, 30.0, 0, &FeatureConfig::default())?;
            println!(
                "synthetic: {} songs, {} segments in {:.2} s",
                ds.songs.len(),
                ds.len(),
                start.elapsed().as_secs_f64()
            );
            ds
        }
    };
    let coursework = data::segment_split(&ds, 0.2, 0)?;
    println!("{}", coursework.summary(&ds));
    let songs = data::song_split(&ds, 0.2, 0.0, 0)?;
    println!("{}", songs.summary(&ds));
    println!("{}", songs.class_balance(&ds));
    println!("{}", data::kfold_song_split(&ds, 5, 0, 0)?.summary(&ds));
    if let Some(lists) = args.get(1) {
        let (filtered, report) = data::filtered_split(&ds, lists)?;
        println!("{report}\n{}", filtered.summary(&ds));
        println!("{}", filtered.class_balance(&ds));
    }
    Ok(())
}
