use super::*;
use ndarray::{Array3, array};

/// Three classes over a 2 × 3 image, worked by hand: ties keep the first
/// class, a NaN never wins, and a non-contiguous view reads the same.
#[test]
fn argmax_takes_the_first_largest_logit() {
    let nan = f32::NAN;
    let logits: Array3<f32> = array![
        [[1.0, 0.0, 2.0], [nan, 5.0, -1.0]],
        [[1.0, 3.0, 2.0], [0.0, nan, -3.0]],
        [[0.5, 3.0, 4.0], [9.0, 4.0, -2.0]],
    ];
    let want = array![[0u8, 1, 2], [0, 0, 0]];
    assert_eq!(argmax_classes(&logits), want);
    let reversed = logits.slice(ndarray::s![.., .., ..;-1]).to_owned();
    assert_eq!(argmax_classes(&reversed), array![[2u8, 1, 0], [0, 0, 0]]);
}

#[test]
fn normalize_lays_out_planes_by_the_formula() {
    let model = Fcn::new(
        &FcnConfig {
            width: 8,
            ..FcnConfig::default()
        },
        &Device::flex(),
    );
    let image = RgbImage::from_fn(3, 2, |x, y| {
        image::Rgb([(x * 100) as u8, (y * 200) as u8, 7])
    });
    let x = model.normalize(&image);
    assert_eq!(x.dim(), (1, 3, 2, 3));
    let (mean, std) = (model.meta.mean, model.meta.std);
    for (y, xx) in [(0usize, 0usize), (1, 2), (0, 1)] {
        let p = image.get_pixel(xx as u32, y as u32);
        for c in 0..3 {
            let want = (p[c] as f32 / 255.0 - mean[c]) / std[c];
            assert_eq!(x[[0, c, y, xx]], want, "({y}, {xx}) channel {c}");
        }
    }
}
