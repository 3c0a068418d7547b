//! One step of Adam (Kingma and Ba, 2015) for one parameter tensor, in a single
//! pass: the L2 penalty, both moments, the bias-corrected update and the new
//! parameter. Written as a chain of tensor ops it is a dozen passes and a dozen
//! allocations per parameter tensor per step, which for a small network costs more
//! than its convolutions (a tenth of the demo's half-resolution training steps).
//!
//! The arithmetic is Burn's `Adam` (burn-optim 0.22) operation for operation, so
//! the results are the same to the bit: the bias corrections are folded into one
//! factor on the first moment and one on epsilon,
//! `update = m₁ · √(1 − β₂ᵗ)/(1 − β₁ᵗ) / (√m₂ + ε · √(1 − β₂ᵗ))`.

use std::mem::MaybeUninit;

use rayon::prelude::*;

use super::simd::wide;

/// Elements per parallel piece: small tensors run on the calling thread.
const PIECE: usize = 1 << 15;

/// The constants of one step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamStep {
    pub lr: f32,
    pub beta_1: f32,
    pub beta_2: f32,
    pub epsilon: f32,
    /// The L2 penalty added to the gradient (`grad + penalty · param`), if any.
    pub weight_decay: Option<f32>,
    /// The step's number, from 1 (the first has no moments to carry).
    pub time: i32,
}

impl AdamStep {
    /// `(√(1 − β₂ᵗ) / (1 − β₁ᵗ), ε · √(1 − β₂ᵗ))`.
    fn corrections(&self) -> (f32, f32) {
        let bc2_sqrt = (1.0 - self.beta_2.powi(self.time)).sqrt();
        (
            bc2_sqrt / (1.0 - self.beta_1.powi(self.time)),
            self.epsilon * bc2_sqrt,
        )
    }
}

/// What a step gives: the new parameter and moments.
pub struct AdamOutput {
    pub param: Vec<f32>,
    pub moment_1: Vec<f32>,
    pub moment_2: Vec<f32>,
}

/// One step for `param` with `grad`; `moments` are the last step's (none before the
/// first step, when they start at zero).
pub fn step(
    s: &AdamStep,
    param: &[f32],
    grad: &[f32],
    moments: Option<(&[f32], &[f32])>,
) -> AdamOutput {
    let n = param.len();
    assert_eq!(grad.len(), n, "Adam: gradient and parameter sizes differ");
    if let Some((m1, m2)) = moments {
        assert!(m1.len() == n && m2.len() == n, "Adam: moment sizes differ");
    }
    let mut out = [
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    ];
    {
        let [p, m1, m2] = out.each_mut().map(|v| &mut v.spare_capacity_mut()[..n]);
        let run = |i: usize, outputs: Outputs| {
            let range = i * PIECE..i * PIECE + outputs.0.len();
            let old = moments.map(|(a, b)| (&a[range.clone()], &b[range.clone()]));
            let inputs = (&param[range.clone()], &grad[range]);
            wide(
                #[inline(always)]
                || piece(s, inputs, old, outputs),
            )
        };
        if n <= PIECE {
            run(0, (p, m1, m2));
        } else {
            let pieces = p.par_chunks_mut(PIECE).zip(m1.par_chunks_mut(PIECE));
            let pieces = pieces.zip(m2.par_chunks_mut(PIECE)).enumerate();
            pieces.for_each(|(i, ((p, m1), m2))| run(i, (p, m1, m2)));
        }
    }
    // SAFETY: the capacity of each is `n`, and `piece` wrote every element of the
    // pieces, which together cover `0..n`.
    let [param, moment_1, moment_2] = out.map(|mut v| {
        unsafe { v.set_len(n) };
        v
    });
    AdamOutput {
        param,
        moment_1,
        moment_2,
    }
}

/// The three outputs of a piece, written once each (not zeroed first).
type Outputs<'a> = (
    &'a mut [MaybeUninit<f32>],
    &'a mut [MaybeUninit<f32>],
    &'a mut [MaybeUninit<f32>],
);

#[inline(always)]
fn piece(s: &AdamStep, (p, g): (&[f32], &[f32]), old: Option<(&[f32], &[f32])>, out: Outputs) {
    let (cf, eps) = s.corrections();
    let (b1, b2, lr) = (s.beta_1, s.beta_2, s.lr);
    let (f1, f2) = (1.0 - b1, 1.0 - b2);
    // Every slice cut to one length, so the loop runs without bounds checks.
    let n = p.len();
    let (g, old) = (&g[..n], old.map(|(m1, m2)| (&m1[..n], &m2[..n])));
    let (new_p, new_m1, new_m2) = (&mut out.0[..n], &mut out.1[..n], &mut out.2[..n]);
    for i in 0..n {
        let grad = match s.weight_decay {
            Some(penalty) => p[i] * penalty + g[i],
            None => g[i],
        };
        let (m1, m2) = match old {
            Some((m1, m2)) => (m1[i] * b1 + grad * f1, m2[i] * b2 + grad * grad * f2),
            None => (grad * f1, grad * grad * f2),
        };
        let update = m1 * cf / (m2.sqrt() + eps);
        new_p[i].write(p[i] - update * lr);
        new_m1[i].write(m1);
        new_m2[i].write(m2);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One parameter's two steps worked by hand from the paper's form (bias-corrected
    /// moments), which equals the folded form to rounding (and `1 − β₂` in f32 is
    /// 4.7e-5 off 0.001, relatively).
    #[test]
    fn two_steps_follow_the_paper() {
        let mut s = AdamStep {
            lr: 0.1,
            beta_1: 0.9,
            beta_2: 0.999,
            epsilon: 1e-8,
            weight_decay: None,
            time: 1,
        };
        // Step 1, grad 2: m₁ = 0.2, m₂ = 0.004; m̂₁ = 2, m̂₂ = 4; update 2 / (2 + 1e-8) ≈ 1.
        let first = step(&s, &[1.0], &[2.0], None);
        assert!((first.moment_1[0] - 0.2).abs() < 1e-7);
        assert!((first.moment_2[0] / 0.004 - 1.0).abs() < 1e-4);
        assert!((first.param[0] - 0.9).abs() < 1e-6);
        // Step 2, grad −1: m₁ = 0.18 − 0.1 = 0.08, m₂ = 0.003996 + 0.001 = 0.004996;
        // m̂₁ = 0.08 / 0.19, m̂₂ = 0.004996 / 0.001999.
        s.time = 2;
        let m = (&first.moment_1[..], &first.moment_2[..]);
        let second = step(&s, &first.param, &[-1.0], Some(m));
        let want = 0.9 - 0.1 * (0.08f64 / 0.19) / (0.004996f64 / 0.001999).sqrt();
        assert!((second.moment_1[0] - 0.08).abs() < 1e-7);
        assert!((second.moment_2[0] / 0.004996 - 1.0).abs() < 1e-4);
        assert!(
            (second.param[0] as f64 - want).abs() < 1e-5,
            "{}",
            second.param[0]
        );
    }

    /// The penalty joins the gradient: a zero gradient with decay 0.5 on a
    /// parameter of 4 steps as a gradient of 2 does.
    #[test]
    fn weight_decay_adds_to_the_gradient() {
        let s = AdamStep {
            lr: 0.01,
            beta_1: 0.9,
            beta_2: 0.999,
            epsilon: 1e-5,
            weight_decay: Some(0.5),
            time: 1,
        };
        let decayed = step(&s, &[4.0], &[0.0], None);
        let plain = step(
            &AdamStep {
                weight_decay: None,
                ..s
            },
            &[4.0],
            &[2.0],
            None,
        );
        assert_eq!(decayed.param, plain.param);
        assert_eq!(decayed.moment_2, plain.moment_2);
    }

    /// Pieces split at [`PIECE`] give what one pass gives, element by element.
    #[test]
    fn pieces_match_element_by_element() {
        let n = 3 * PIECE + 17;
        let f = |k: usize, a: f32| (0..n).map(|i| ((i * k % 97) as f32 - 48.0) * a).collect();
        let (p, g, m1, m2): (Vec<f32>, Vec<f32>, Vec<f32>, Vec<f32>) =
            (f(7, 0.01), f(13, 0.003), f(5, 0.001), f(3, 1e-4));
        let m2: Vec<f32> = m2.iter().map(|v| v.abs()).collect();
        let s = AdamStep {
            lr: 0.02,
            beta_1: 0.9,
            beta_2: 0.999,
            epsilon: 1e-5,
            weight_decay: Some(1e-4),
            time: 7,
        };
        let all = step(&s, &p, &g, Some((&m1, &m2)));
        for i in [0, PIECE - 1, PIECE, 2 * PIECE + 5, n - 1] {
            let one = step(
                &s,
                &p[i..i + 1],
                &g[i..i + 1],
                Some((&m1[i..i + 1], &m2[i..i + 1])),
            );
            assert_eq!(all.param[i], one.param[0], "element {i}");
            assert_eq!(all.moment_1[i], one.moment_1[0], "element {i}");
            assert_eq!(all.moment_2[i], one.moment_2[0], "element {i}");
        }
    }
}
