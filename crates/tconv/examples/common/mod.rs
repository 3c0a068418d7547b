//! What the timing examples share.

use std::time::Instant;

use ndarray::Array4;

/// The median of repeated runs of `run` in milliseconds, after one warm-up: at least
/// five runs, more until `seconds` have passed or `max_runs` were made.
#[allow(dead_code)] // not every example times
pub fn median_ms(seconds: f64, max_runs: usize, mut run: impl FnMut()) -> f64 {
    run();
    let mut times = Vec::new();
    let start = Instant::now();
    while times.len() < 5 || (times.len() < max_runs && start.elapsed().as_secs_f64() < seconds) {
        let t = Instant::now();
        run();
        times.push(t.elapsed().as_secs_f64() * 1e3);
    }
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

/// Values in [-0.5, 0.5) from a xorshift stream: the same for the same seed.
#[allow(dead_code)]
pub fn random(dim: (usize, usize, usize, usize), seed: u32) -> Array4<f32> {
    let mut state = seed.wrapping_mul(2_654_435_761).max(1);
    Array4::from_shape_fn(dim, |_| {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        state as f32 / u32::MAX as f32 - 0.5
    })
}
