//! The thread pool the kernels compute on.
//!
//! A command that computes (train, eval, segment, demo, bench) makes its own thread
//! worker 0 of rayon's global pool ([`build_pool`]). A parallel loop started from a
//! thread outside the pool is handed to the pool's threads while the caller sleeps
//! until it ends, so with two threads and a network's many small layers the caller's
//! own core idled: a training epoch of `fcn demo` ran at 142–145 % CPU and took
//! 22.6–24.0 s, against 17.7 s at 160 % with the caller in the pool (same losses).
//! Running the command on a spawned pool thread instead gains the same but moves its
//! tensors into one of glibc's secondary arenas, which map every block over 64 MiB
//! afresh (the training step of `fcn bench` slowed by a third).

use anyhow::Context;

/// Builds rayon's global pool with `threads` threads (rayon's default count when
/// `None`). It must run before anything starts the pool. With `caller_joins` the
/// calling thread becomes one of them, for a command whose own thread then does
/// the work; `fcn serve`'s main thread waits on connections, so it does not join.
pub fn build_pool(threads: Option<usize>, caller_joins: bool) -> anyhow::Result<()> {
    let count = match threads {
        Some(0) => anyhow::bail!("--threads must be at least 1"),
        Some(t) => t,
        None => default_count(),
    };
    let builder = rayon::ThreadPoolBuilder::new().num_threads(count);
    // With one thread the caller would be the whole pool, and a loop that a data
    // loader's thread hands to it while the caller waits for that loader would
    // never run; so one thread stays a pool of its own.
    let builder = match caller_joins && count > 1 {
        true => builder.use_current_thread(),
        false => builder,
    };
    builder
        .build_global()
        .context("cannot set the thread count")
}

/// Rayon's own default: `RAYON_NUM_THREADS` if set and positive, else the cores.
fn default_count() -> usize {
    std::env::var("RAYON_NUM_THREADS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|&n| n > 0)
        .or_else(|| std::thread::available_parallelism().ok().map(|n| n.get()))
        .unwrap_or(1)
}
