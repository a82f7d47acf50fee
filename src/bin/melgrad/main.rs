//! `melgrad`: extract features, train, evaluate, predict, benchmark.

mod args;
mod bench;
mod dataset;
mod evaluate;
mod predict;
mod train;

use args::{Cli, Command};
use clap::Parser;
use std::process::ExitCode;

// Training allocates and frees batch-sized buffers every step; glibc returns those to the
// kernel each time (mmap/munmap), so every step paid for fresh zeroed pages.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // Like other Unix tools, stop quietly when the reader of stdout goes away
    // (`melgrad predict … | head`) instead of panicking on the failed write.
    #[cfg(unix)]
    // SAFETY: restoring the default disposition of SIGPIPE before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = Cli::parse();
    if let Some(threads) = cli.threads {
        if let Err(e) = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build_global()
        {
            eprintln!("error: cannot start {threads} threads: {e}");
            return ExitCode::FAILURE;
        }
    }
    let result = match cli.command {
        Command::Extract(a) => dataset::extract(&a),
        Command::Train(a) => train::run(&a),
        Command::Summary(a) => train::summary(&a),
        Command::Eval(a) => evaluate::run(&a),
        Command::Predict(a) => predict::run(&a),
        Command::ExportNpz(a) => bench::export_npz(&a),
        Command::BenchTrain(a) => bench::bench_train(&a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
