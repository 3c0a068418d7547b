//! Sums that vectorise: independent f32 partial sums in lanes, added in f64 at the
//! end (a single running sum would keep the loop scalar, and f64 lanes would halve
//! its width). The one lane sum every kernel uses.

/// Lanes of a vectorised sum: one AVX-512 register of f32.
const LANES: usize = 16;

/// `Σ f(a[i], b[i])` over two slices of equal length (pass one slice twice for a
/// plain `Σ f(a[i])`).
#[inline(always)]
pub fn lane_sum(a: &[f32], b: &[f32], f: impl Fn(f32, f32) -> f32) -> f64 {
    let mut lanes = [0.0f32; LANES];
    let (ca, cb) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let tail: f64 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(&x, &y)| f(x, y) as f64)
        .sum();
    for (xa, xb) in ca.zip(cb) {
        for ((l, &x), &y) in lanes.iter_mut().zip(xa).zip(xb) {
            *l += f(x, y);
        }
    }
    lanes.iter().map(|&l| l as f64).sum::<f64>() + tail
}

#[cfg(test)]
mod tests {
    use super::lane_sum;

    #[test]
    fn sums_every_element_whatever_the_length() {
        for n in [0, 1, 15, 16, 17, 100] {
            let a: Vec<f32> = (0..n).map(|i| i as f32).collect();
            let want = (0..n).sum::<usize>() as f64;
            assert_eq!(lane_sum(&a, &a, |v, _| v), want, "length {n}");
            let dot: f64 = (0..n).map(|i| (i * i) as f64).sum();
            assert_eq!(lane_sum(&a, &a, |x, y| x * y), dot, "length {n}");
        }
    }
}
