//! Segmentation metrics from a confusion matrix: pixel accuracy, mean class
//! accuracy, per-class IoU, mean IoU and frequency-weighted IoU. Pixels labelled 255
//! are left out; a class absent from both ground truth and prediction has no IoU
//! (`None`) and is left out of the means.

use serde::Serialize;

use crate::data::colormap::IGNORE;

/// `counts[truth][prediction]` over all pixels seen.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfusionMatrix {
    num_classes: usize,
    counts: Vec<u64>,
}

impl ConfusionMatrix {
    pub fn new(num_classes: usize) -> Self {
        Self {
            num_classes,
            counts: vec![0; num_classes * num_classes],
        }
    }

    pub fn num_classes(&self) -> usize {
        self.num_classes
    }

    /// Adds pixels: `truth` and `prediction` of equal length; truth 255 is skipped.
    /// A truth label outside the classes is skipped too (the data layer refuses them).
    pub fn add(&mut self, truth: &[u8], prediction: &[u8]) {
        let k = self.num_classes;
        for (&t, &p) in truth.iter().zip(prediction) {
            if t == IGNORE || t as usize >= k {
                continue;
            }
            self.counts[t as usize * k + (p as usize).min(k - 1)] += 1;
        }
    }

    pub fn merge(&mut self, other: &ConfusionMatrix) {
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
    }

    pub fn get(&self, truth: usize, prediction: usize) -> u64 {
        self.counts[truth * self.num_classes + prediction]
    }

    fn truth_total(&self, c: usize) -> u64 {
        (0..self.num_classes).map(|p| self.get(c, p)).sum()
    }

    fn predicted_total(&self, c: usize) -> u64 {
        (0..self.num_classes).map(|t| self.get(t, c)).sum()
    }

    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// All the metrics, with `names` for the per-class rows.
    pub fn metrics(&self, names: &[String]) -> Metrics {
        let total = self.total();
        let correct: u64 = (0..self.num_classes).map(|c| self.get(c, c)).sum();
        let per_class: Vec<ClassMetrics> = (0..self.num_classes)
            .map(|c| {
                let tp = self.get(c, c) as f64;
                let truth = self.truth_total(c);
                let union = truth + self.predicted_total(c) - self.get(c, c);
                ClassMetrics {
                    name: names
                        .get(c)
                        .cloned()
                        .unwrap_or_else(|| format!("class_{c}")),
                    iou: (union > 0).then(|| tp / union as f64),
                    accuracy: (truth > 0).then(|| tp / truth as f64),
                    pixels: truth,
                }
            })
            .collect();
        let mean = |v: Vec<f64>| {
            if v.is_empty() {
                0.0
            } else {
                v.iter().sum::<f64>() / v.len() as f64
            }
        };
        let fwiou = if total == 0 {
            0.0
        } else {
            per_class
                .iter()
                .filter_map(|c| c.iou.map(|iou| iou * c.pixels as f64))
                .sum::<f64>()
                / total as f64
        };
        Metrics {
            pixel_accuracy: if total == 0 {
                0.0
            } else {
                correct as f64 / total as f64
            },
            mean_accuracy: mean(per_class.iter().filter_map(|c| c.accuracy).collect()),
            miou: mean(per_class.iter().filter_map(|c| c.iou).collect()),
            fwiou,
            per_class,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClassMetrics {
    pub name: String,
    /// `None` when the class is in neither ground truth nor prediction.
    pub iou: Option<f64>,
    /// `None` when the class is not in the ground truth.
    pub accuracy: Option<f64>,
    /// Ground-truth pixels of the class.
    pub pixels: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Metrics {
    pub pixel_accuracy: f64,
    pub mean_accuracy: f64,
    pub miou: f64,
    pub fwiou: f64,
    pub per_class: Vec<ClassMetrics>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_by_hand() {
        // truth:      0 0 0 1 1 2 255
        // prediction: 0 0 1 1 2 2 0
        let mut cm = ConfusionMatrix::new(4);
        cm.add(&[0, 0, 0, 1, 1, 2, 255], &[0, 0, 1, 1, 2, 2, 0]);
        let names: Vec<String> = ["a", "b", "c", "d"].iter().map(|s| s.to_string()).collect();
        let m = cm.metrics(&names);
        assert_eq!(cm.total(), 6);
        assert!((m.pixel_accuracy - 4.0 / 6.0).abs() < 1e-12);
        // IoU: class 0: 2 / (3 + 2 − 2) = 2/3; class 1: 1 / (2 + 2 − 1) = 1/3; class 2: 1 / (1 + 2 − 1) = 1/2.
        let iou: Vec<Option<f64>> = m.per_class.iter().map(|c| c.iou).collect();
        assert!((iou[0].unwrap() - 2.0 / 3.0).abs() < 1e-12);
        assert!((iou[1].unwrap() - 1.0 / 3.0).abs() < 1e-12);
        assert!((iou[2].unwrap() - 0.5).abs() < 1e-12);
        assert_eq!(iou[3], None, "class d is absent everywhere");
        assert!((m.miou - (2.0 / 3.0 + 1.0 / 3.0 + 0.5) / 3.0).abs() < 1e-12);
        // Accuracy: 2/3, 1/2, 1/1.
        assert!((m.mean_accuracy - (2.0 / 3.0 + 0.5 + 1.0) / 3.0).abs() < 1e-12);
        // fwIoU: (3·2/3 + 2·1/3 + 1·1/2) / 6.
        assert!((m.fwiou - (2.0 + 2.0 / 3.0 + 0.5) / 6.0).abs() < 1e-12);
    }
}
