//! `exp` for f32 written as straight-line arithmetic, so that loops over slices
//! vectorise: libm's `expf` is a call per element and was a tenth of a training
//! step in the cross-entropy alone.
//!
//! Range reduction `x = n·ln 2 + r` with `|r| ≤ ln 2 / 2`, a degree-6 polynomial
//! for `eʳ` (Cephes' coefficients) and `2ⁿ` built from the exponent bits. The
//! relative error is a few ulp; inputs are clamped to the range where the result
//! is a normal float, so very negative inputs give about 1e-38 rather than 0.

const LOG2E: f32 = std::f32::consts::LOG2_E;
/// ln 2 split in two so that `n · LN2_HI` is exact for the `n` used here.
const LN2_HI: f32 = 0.693_359_4;
const LN2_LO: f32 = -2.121_944_4e-4;
/// Adding 1.5·2²³ rounds a float of magnitude below 2²² to the nearest integer.
const ROUND: f32 = 12_582_912.0;
const LO: f32 = -87.3;
const HI: f32 = 88.3;

/// `eˣ`, a few ulp from the exact value.
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    let x = x.clamp(LO, HI);
    let t = x * LOG2E + ROUND;
    let n = t - ROUND;
    let r = x - n * LN2_HI - n * LN2_LO;
    let p = 1.987_569_1e-4;
    let p = p * r + 1.398_199_9e-3;
    let p = p * r + 8.333_452e-3;
    let p = p * r + 4.166_579_6e-2;
    let p = p * r + 1.666_666_5e-1;
    let p = p * r + 0.5;
    let e_r = p * r * r + r + 1.0;
    // `t`'s low bits hold `n` itself: 2ⁿ without a float-to-int conversion, which
    // (saturating in Rust) would keep the loop from vectorising.
    let biased = t.to_bits().wrapping_sub(ROUND.to_bits()).wrapping_add(127);
    let two_n = f32::from_bits(biased << 23);
    e_r * two_n
}

#[cfg(test)]
mod tests {
    use super::exp;

    #[test]
    fn close_to_std_exp_over_the_normal_range() {
        let mut worst = 0.0f64;
        let mut x = -87.0f32;
        while x < 88.0 {
            let exact = (x as f64).exp();
            let rel = ((exp(x) as f64 - exact) / exact).abs();
            worst = worst.max(rel);
            x += 0.001_7;
        }
        assert!(
            worst < 4.0 * f32::EPSILON as f64,
            "worst relative error {worst}"
        );
    }

    #[test]
    fn exact_at_zero_and_saturates_outside_the_range() {
        assert_eq!(exp(0.0), 1.0);
        assert!(exp(-1000.0) > 0.0 && exp(-1000.0) < 1e-37);
        assert!(exp(1000.0).is_finite() && exp(1000.0) > 1e38);
        assert!(exp(f32::NEG_INFINITY) < 1e-37);
    }
}
