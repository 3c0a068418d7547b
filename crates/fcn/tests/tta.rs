//! Test-time augmentation against PyTorch (`scripts/gen_tta_golden.py`): the mean
//! softmax over the image and its mirror, and over three scales with their
//! mirrors, within 1e-4; the argmax agrees on every pixel whose top two
//! probabilities differ by more than 1e-3.

mod common;

use common::{assert_close, npy, small_golden};
use fcn::Fcn;
use fcn::infer::TileOptions;
use fcn::tta::{Tta, probabilities_of};
use ndarray::{ArrayD, Axis, Ix4};

fn check(tta: &Tta, golden: &str, opts: TileOptions) {
    let g = small_golden();
    let model = Fcn::load(g.path("fcn_d2l.pth"), &burn::tensor::Device::flex()).unwrap();
    let x = npy(&g, "input.npy").into_dimensionality::<Ix4>().unwrap();
    let ours = probabilities_of(&model, x.view(), opts, tta)
        .unwrap()
        .into_dyn();
    let want = npy(&g, golden);
    assert_close(golden, &ours, &want, 1e-4);
    assert_eq!(agreement(&ours, &want), 1.0, "{golden}: argmax");
}

/// The share of confident pixels (top two apart by more than 1e-3) whose argmax agrees.
fn agreement(ours: &ArrayD<f32>, want: &ArrayD<f32>) -> f64 {
    let (mut same, mut total) = (0, 0);
    let lanes = ours.lanes(Axis(1)).into_iter().zip(want.lanes(Axis(1)));
    for (a, b) in lanes {
        let mut sorted: Vec<f32> = b.to_vec();
        sorted.sort_by(|x, y| y.total_cmp(x));
        if sorted[0] - sorted[1] <= 1e-3 {
            continue;
        }
        let best = |l: &ndarray::ArrayView1<f32>| {
            (0..l.len()).fold(0, |m, c| if l[c] > l[m] { c } else { m })
        };
        total += 1;
        same += (best(&a) == best(&b)) as usize;
    }
    same as f64 / total.max(1) as f64
}

#[test]
fn flip_matches_pytorch() {
    let tta = Tta {
        flip: true,
        scales: vec![1.0],
    };
    check(&tta, "tta_flip.probs.npy", TileOptions::default());
}

#[test]
fn scales_with_flip_match_pytorch() {
    let tta = Tta {
        flip: true,
        scales: vec![0.5, 0.75, 1.5],
    };
    check(&tta, "tta_scales.probs.npy", TileOptions::default());
}

#[test]
fn bad_scales_are_refused() {
    let g = small_golden();
    let model = Fcn::load(g.path("fcn_d2l.pth"), &burn::tensor::Device::flex()).unwrap();
    let x = npy(&g, "input.npy").into_dimensionality::<Ix4>().unwrap();
    for (scales, needle) in [(vec![], "at least one"), (vec![1.0, 9.0], "--tta-scales 9")] {
        let tta = Tta {
            flip: false,
            scales,
        };
        let e = probabilities_of(&model, x.view(), TileOptions::default(), &tta).unwrap_err();
        assert!(e.to_string().contains(needle), "{e}");
    }
}
