//! Each textbook example, run as a test that asserts the values it prints. The
//! expected values are the textbook's (computed by hand there and by PyTorch).

#[allow(dead_code)]
#[path = "../examples/bilinear.rs"]
mod bilinear;
#[allow(dead_code)]
#[path = "../examples/channels.rs"]
mod channels;
#[allow(dead_code)]
#[path = "../examples/conv_matrix.rs"]
mod conv_matrix;
#[allow(dead_code)]
#[path = "../examples/padding_stride.rs"]
mod padding_stride;
#[allow(dead_code)]
#[path = "../examples/scatter.rs"]
mod scatter;

use std::path::Path;

use ndarray::{Array4, array};
use ndarray_npy::read_npy;

#[test]
fn scatter_form_and_library_agree_with_the_textbook() {
    let s = scatter::compute();
    let want = array![[0.0f32, 0.0, 1.0], [0.0, 4.0, 6.0], [4.0, 12.0, 9.0]];
    assert_eq!(s.by_hand, want);
    assert_eq!(
        s.by_library,
        want.into_shape_with_order((1, 1, 3, 3)).unwrap()
    );
}

#[test]
fn padding_trims_and_stride_spreads() {
    let r = padding_stride::compute();
    assert_eq!(r.padded, array![[[[4.0f32]]]]);
    let want = array![
        [0.0f32, 0.0, 0.0, 1.0],
        [0.0, 0.0, 2.0, 3.0],
        [0.0, 2.0, 0.0, 3.0],
        [4.0, 6.0, 6.0, 9.0]
    ];
    assert_eq!(r.strided, want.into_shape_with_order((1, 1, 4, 4)).unwrap());
}

#[test]
fn transposed_convolution_restores_the_shape() {
    let s = channels::compute();
    assert_eq!(s.input, (1, 10, 16, 16));
    assert_eq!(s.down, (1, 20, 6, 6));
    assert_eq!(s.up, (1, 10, 16, 16));
}

#[test]
fn convolution_is_a_matrix_and_its_transpose_is_the_transposed_convolution() {
    let m = conv_matrix::compute();
    let w = array![
        [1.0f32, 2.0, 0.0, 3.0, 4.0, 0.0, 0.0, 0.0, 0.0],
        [0.0, 1.0, 2.0, 0.0, 3.0, 4.0, 0.0, 0.0, 0.0],
        [0.0, 0.0, 0.0, 1.0, 2.0, 0.0, 3.0, 4.0, 0.0],
        [0.0, 0.0, 0.0, 0.0, 1.0, 2.0, 0.0, 3.0, 4.0]
    ];
    assert_eq!(m.w, w);
    assert_eq!(m.y, array![[27.0f32, 37.0], [57.0, 67.0]]);
    assert_eq!(m.wx, m.y);
    // By hand: Y scattered through K = [[1, 2], [3, 4]].
    let z = array![
        [27.0f32, 91.0, 74.0],
        [138.0, 400.0, 282.0],
        [171.0, 429.0, 268.0]
    ];
    assert_eq!(m.z, z);
    assert_eq!(m.wty, z);
    assert_ne!(m.wty, m.x, "Wᵀ is not an inverse");
}

#[test]
fn bilinear_example_upsamples_by_interpolation() {
    let b = bilinear::compute();
    let tent = [0.25f32, 0.75, 0.75, 0.25];
    for a in 0..4 {
        for e in 0..4 {
            assert_eq!(b.kernel_4[[0, 0, a, e]], tent[a] * tent[e]);
        }
    }
    assert_eq!(b.upsampled.dim(), (1, 1, 4, 4));
    // Interior pixels are interpolated: (1·0.75 + 2·0.25)·0.75 + (3·0.75 + 4·0.25)·0.25.
    assert_eq!(b.upsampled[[0, 0, 1, 1]], 1.75);
}

fn golden(name: &str) -> Array4<f32> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/bilinear")
        .join(name);
    read_npy(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn bilinear_kernel_matches_pytorch() {
    for (i, o, k) in [(3, 3, 4), (2, 2, 64), (2, 2, 5)] {
        let want = golden(&format!("bilinear_kernel_{i}_{o}_{k}.npy"));
        let got = tconv::bilinear_kernel(i, o, k);
        assert_eq!(got.dim(), want.dim());
        let err = got
            .iter()
            .zip(&want)
            .fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
        assert!(err <= 1e-7, "({i},{o},{k}): error {err}");
    }
}
