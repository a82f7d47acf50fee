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

/// `mi_option_purge_delay` in the mimalloc v3 headers that libmimalloc-sys 0.1.49 builds
/// (the binding names no constant for it); the test below checks its documented default.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Keep freed memory mapped instead of returning it to the kernel after mimalloc's purge
/// delay. A training step frees and reallocates the same multi-MB activations; purged
/// pages came back as fresh (transparent huge) pages, and zeroing them was ~12 % of a
/// CnnLstm epoch's CPU time (3,075 page faults in 4 epochs against 299 with this set).
/// Peak RSS is unchanged: the memory kept is the memory the next step reuses.
fn keep_freed_memory() {
    // SAFETY: setting an option is thread-safe and valid at any time.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) }
}

/// The stack of the pool's threads, one of which runs the whole command: the main
/// thread's usual 8 MiB rather than the 2 MiB Rust gives spawned threads.
const COMMAND_STACK_BYTES: usize = 8 << 20;

fn main() -> ExitCode {
    // Like other Unix tools, stop quietly when the reader of stdout goes away
    // (`melgrad predict … | head`) instead of panicking on the failed write.
    #[cfg(unix)]
    // SAFETY: restoring the default disposition of SIGPIPE before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    keep_freed_memory();
    let cli = Cli::parse();
    // The command itself runs on one of the pool's threads. From any other thread, each
    // parallel region would be handed to the pool while the caller sleeps until it is
    // done: a futex wake and a wait per region, 5–11 % of a CnnLstm epoch's CPU
    // samples. On a worker, a region's first half runs at once on the calling thread and
    // only the other half waits for the second worker (or is taken back by the caller).
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(cli.threads.unwrap_or(0))
        .stack_size(COMMAND_STACK_BYTES)
        .build_global();
    if let Err(e) = pool {
        eprintln!("error: cannot start the thread pool: {e}");
        return ExitCode::FAILURE;
    }
    let result = rayon::scope(|_| match cli.command {
        Command::Extract(a) => dataset::extract(&a),
        Command::Train(a) => train::run(&a),
        Command::Summary(a) => train::summary(&a),
        Command::Eval(a) => evaluate::run(&a),
        Command::Predict(a) => predict::run(&a),
        Command::ExportNpz(a) => bench::export_npz(&a),
        Command::BenchTrain(a) => bench::bench_train(&a),
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    /// The option number still means the purge delay: its default is 1000 ms in
    /// mimalloc v3 (a shifted enum would name another option, with another default).
    #[test]
    fn purge_delay_option_number() {
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
            // SAFETY: reading an option is thread-safe.
            let default = unsafe { libmimalloc_sys::mi_option_get(super::MI_OPTION_PURGE_DELAY) };
            assert_eq!(default, 1000);
        }
    }
}
