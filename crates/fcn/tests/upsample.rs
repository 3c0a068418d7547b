//! The textbook's ×2 bilinear upsampling matches PyTorch's ConvTranspose2d output.

mod common;

use common::golden_sets;

use ndarray::Array4;
use ndarray_npy::read_npy;

#[test]
fn upsample_by_two_matches_pytorch() {
    for g in golden_sets() {
        upsample_by_two_on(&g);
    }
}

fn upsample_by_two_on(g: &common::Golden) {
    let x: Array4<f32> = read_npy(g.path("input_image_01.npy")).unwrap();
    let want: Array4<f32> = read_npy(g.path("upsample2x.output.npy")).unwrap();
    let got = fcn::upsample::upsample(x.view(), 2).unwrap();
    assert_eq!(got.dim(), want.dim());
    let err = got
        .iter()
        .zip(&want)
        .fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
    assert!(err <= 1e-5, "max abs error {err}");
}

#[test]
fn odd_factors_and_bad_factors() {
    let x = Array4::<f32>::ones((1, 3, 5, 7));
    let y = fcn::upsample::upsample(x.view(), 3).unwrap();
    assert_eq!(y.dim(), (1, 3, 15, 21));
    // A constant image stays constant away from the borders.
    assert!((y[[0, 1, 7, 10]] - 1.0).abs() < 1e-6);
    let e = fcn::upsample::upsample(x.view(), 0)
        .unwrap_err()
        .to_string();
    assert!(e.contains("--factor 0 must be between 1 and 64"), "{e}");
}
