//! Class balance: median-frequency weights for the loss (Eigen & Fergus, 2015).
//! A class's frequency is its pixels over the labelled pixels of the images it
//! appears in; its weight is the median frequency (over the classes present) over its
//! own, so rare classes weigh more. Classes absent from the split get weight 0.

use super::{DataError, Split};
use crate::data::colormap::IGNORE;

/// What one pass over a split's masks found.
pub struct ClassBalance {
    pub weights: Vec<f32>,
    /// Pixels of each class.
    pub pixels: Vec<u64>,
    /// Masks that could not be read (only with `skip_bad`).
    pub skipped: Vec<DataError>,
}

/// Reads every mask of `split` once; `progress(done, total)` after each.
pub fn median_frequency(
    split: &Split,
    mut progress: impl FnMut(usize, usize),
) -> Result<ClassBalance, DataError> {
    let k = split.classes.len();
    let (mut pixels, mut seen_in) = (vec![0u64; k], vec![0u64; k]);
    let mut skipped = Vec::new();
    for i in 0..split.len() {
        let mask = match split.load_mask(i) {
            Ok(m) => m,
            Err(e) if split.options.skip_bad => {
                skipped.push(e);
                continue;
            }
            Err(e) => return Err(e),
        };
        let mut counts = vec![0u64; k];
        mask.iter()
            .filter(|&&v| v != IGNORE)
            .for_each(|&v| counts[v as usize] += 1);
        let labelled: u64 = counts.iter().sum();
        for c in 0..k {
            pixels[c] += counts[c];
            if counts[c] > 0 {
                seen_in[c] += labelled;
            }
        }
        progress(i + 1, split.len());
    }
    let weights = weights_from(&pixels, &seen_in);
    Ok(ClassBalance {
        weights,
        pixels,
        skipped,
    })
}

/// `median(freq) / freq(c)`, freq(c) = `pixels[c] / seen_in[c]`.
fn weights_from(pixels: &[u64], seen_in: &[u64]) -> Vec<f32> {
    let freq: Vec<Option<f64>> = (pixels.iter().zip(seen_in))
        .map(|(&p, &t)| (p > 0).then(|| p as f64 / t as f64))
        .collect();
    let mut present: Vec<f64> = freq.iter().flatten().copied().collect();
    if present.is_empty() {
        return vec![0.0; pixels.len()];
    }
    present.sort_by(f64::total_cmp);
    let n = present.len();
    let median = if n % 2 == 1 {
        present[n / 2]
    } else {
        (present[n / 2 - 1] + present[n / 2]) / 2.0
    };
    freq.iter()
        .map(|f| f.map_or(0.0, |f| (median / f) as f32))
        .collect()
}
