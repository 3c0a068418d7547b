//! Probabilities: the softmax of the logits, against a float64 softmax of
//! PyTorch's golden logits; on an image, their argmax is `predict`'s mask.

mod common;

use common::{golden_sets, npy};
use fcn::Fcn;
use ndarray::{Axis, Ix4};

#[test]
fn probabilities_are_the_softmax_of_pytorchs_logits() {
    for g in golden_sets() {
        let model = Fcn::load(g.path("fcn_d2l.pth"), &burn::tensor::Device::flex()).unwrap();
        let x = npy(&g, "input.npy").into_dimensionality::<Ix4>().unwrap();
        let ours = fcn::infer::softmax(&model.logits(x.view()).unwrap());
        let want = npy(&g, "fcn_d2l.logits.npy")
            .into_dimensionality::<Ix4>()
            .unwrap();
        let (_, k, h, w) = want.dim();
        let mut worst = 0.0f64;
        for y in 0..h {
            for x in 0..w {
                let lane: Vec<f64> = (0..k).map(|c| want[[0, c, y, x]] as f64).collect();
                let top = lane.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                let sum: f64 = lane.iter().map(|v| (v - top).exp()).sum();
                for c in 0..k {
                    let p = (lane[c] - top).exp() / sum;
                    worst = worst.max((ours[[0, c, y, x]] as f64 - p).abs());
                }
            }
        }
        assert!(
            worst < 1e-4,
            "{}: largest difference {worst}",
            g.path("fcn_d2l.pth").display()
        );
    }
}

#[test]
fn the_argmax_of_the_probabilities_is_the_mask() {
    let g = common::small_golden();
    let model = Fcn::load(g.path("fcn_d2l.pth"), &burn::tensor::Device::flex()).unwrap();
    let image = image::RgbImage::from_fn(100, 70, |x, y| {
        image::Rgb([(x * 2) as u8, (y * 3) as u8, ((x * y) % 251) as u8])
    });
    let probs = model.probabilities(&image).unwrap();
    assert_eq!(probs.dim(), (model.num_classes(), 70, 100));
    for lane in probs.lanes(Axis(0)) {
        assert!((lane.sum() - 1.0).abs() < 1e-5);
    }
    let mask = model.predict(&image).unwrap();
    assert_eq!(fcn::model::fcn::argmax_classes(&probs), mask);
    let confidence = fcn::infer::class_confidence(&probs, &mask);
    for (c, conf) in confidence.iter().enumerate() {
        let won = mask.iter().any(|&m| m as usize == c);
        assert_eq!(conf.is_some(), won, "class {c}");
        // A class that wins a pixel has at least 1/K of its probability there.
        assert!(conf.is_none_or(|p| p >= 1.0 / model.num_classes() as f64 && p <= 1.0));
    }
}
