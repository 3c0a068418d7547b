//! The arithmetic of the convolutions this thread runs, counted by the ops as they
//! run: benchmarks report rates for any network without a second description of it.

use std::cell::Cell;

thread_local! {
    static FLOPS: Cell<f64> = const { Cell::new(0.0) };
}

/// `f`'s result and the convolution FLOPs it ran (a multiply and an add count as
/// two), forward passes only: the backward pass is not counted.
pub fn counting<T>(f: impl FnOnce() -> T) -> (T, f64) {
    let before = FLOPS.get();
    let out = f();
    (out, FLOPS.get() - before)
}

/// A convolution with output `[n, c_out, h, w]` and weight `[c_out, c_in / groups, kh, kw]`:
/// every output element sums over its group's inputs and the kernel.
pub(super) fn conv(output: [usize; 4], weight: [usize; 4]) {
    let [n, c_out, h, w] = output.map(|d| d as f64);
    let [_, c_in_group, kh, kw] = weight.map(|d| d as f64);
    add(2.0 * n * c_out * h * w * c_in_group * kh * kw);
}

/// A transposed convolution with input `[n, c_in, h, w]` and weight
/// `[c_in, c_out / groups, kh, kw]`: every input element meets every tap of its
/// group's outputs.
pub(super) fn conv_transpose(input: [usize; 4], weight: [usize; 4]) {
    let [n, c_in, h, w] = input.map(|d| d as f64);
    let [_, c_out_group, kh, kw] = weight.map(|d| d as f64);
    add(2.0 * n * c_in * h * w * c_out_group * kh * kw);
}

fn add(flops: f64) {
    FLOPS.set(FLOPS.get() + flops);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_by_hand() {
        // A 3×3 convolution 2 → 4 channels on one 5×5 output: 4·25 outputs, each
        // 2·9 multiply-adds.
        let ((), f) = counting(|| conv([1, 4, 5, 5], [4, 2, 3, 3]));
        assert_eq!(f, 2.0 * 100.0 * 18.0);
        // FCN's ×32 head on a 10×15 map of 21 classes: 21·150 inputs, each meeting
        // 21 channels of 64×64 taps.
        let ((), f) = counting(|| conv_transpose([1, 21, 10, 15], [21, 21, 64, 64]));
        assert_eq!(f, 2.0 * 3150.0 * 21.0 * 4096.0);
    }
}
