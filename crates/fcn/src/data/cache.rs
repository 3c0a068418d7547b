//! Decoded samples kept in memory up to a byte budget, so that epochs after the
//! first skip the JPEG and PNG decoding (a tenth of a training step's CPU time
//! at the demo's sizes, on the same two cores as the training). Shared by the
//! clones of a split; the first samples to arrive stay, later ones are decoded
//! each time once the budget is spent.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::Sample;

#[derive(Debug)]
pub struct SampleCache {
    budget: usize,
    used: AtomicUsize,
    samples: Mutex<HashMap<usize, Sample>>,
}

impl SampleCache {
    pub fn new(budget: usize) -> Self {
        Self {
            budget,
            used: AtomicUsize::new(0),
            samples: Mutex::new(HashMap::new()),
        }
    }

    /// A copy of item `i`, when it is kept.
    pub fn get(&self, i: usize) -> Option<Sample> {
        if self.budget == 0 {
            return None;
        }
        self.lock().get(&i).cloned()
    }

    /// Keeps a copy of item `i` if the budget allows.
    pub fn offer(&self, i: usize, sample: &Sample) {
        let bytes = sample.image.as_raw().len() + sample.mask.len();
        let reserved = self
            .used
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |used| {
                (used + bytes <= self.budget).then_some(used + bytes)
            });
        if reserved.is_ok() {
            let mut samples = self.lock();
            if samples.insert(i, sample.clone()).is_some() {
                // Two threads decoded the same item; keep the budget honest.
                self.used.fetch_sub(bytes, Ordering::Relaxed);
            }
        }
    }

    /// Bytes held.
    #[cfg(test)]
    pub fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<usize, Sample>> {
        // A panic while holding the lock leaves a valid map.
        self.samples.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::RgbImage;
    use ndarray::Array2;

    fn sample(side: u32) -> Sample {
        Sample {
            name: format!("s{side}"),
            image: RgbImage::new(side, side),
            mask: Array2::zeros((side as usize, side as usize)),
        }
    }

    #[test]
    fn keeps_samples_until_the_budget_is_spent() {
        // 4×4: 48 image bytes and 16 mask bytes.
        let cache = SampleCache::new(150);
        assert!(cache.get(0).is_none());
        cache.offer(0, &sample(4));
        cache.offer(1, &sample(4));
        cache.offer(2, &sample(4));
        assert_eq!(cache.used(), 128);
        assert_eq!(cache.get(1).map(|s| s.name), Some("s4".to_string()));
        assert!(cache.get(2).is_none(), "the third did not fit");
        cache.offer(1, &sample(4));
        assert_eq!(
            cache.used(),
            128,
            "offering a kept item again costs nothing"
        );
    }

    #[test]
    fn a_zero_budget_keeps_nothing() {
        let cache = SampleCache::new(0);
        cache.offer(0, &sample(1));
        assert!(cache.get(0).is_none());
        assert_eq!(cache.used(), 0);
    }
}
