//! Bad parameters and shapes give a `ConvError` that names the parameter and the
//! rule; random nonsense never panics and never allocates without bound.

use ndarray::{Array1, Array4};
use proptest::prelude::*;
use tconv::{Conv2dParams, ConvError, ConvTranspose2dParams};

fn zeros(d: (usize, usize, usize, usize)) -> Array4<f32> {
    Array4::zeros(d)
}

fn conv_err(
    x: (usize, usize, usize, usize),
    w: (usize, usize, usize, usize),
    bias: Option<usize>,
    p: Conv2dParams,
) -> String {
    let b = bias.map(Array1::<f32>::zeros);
    let e = tconv::conv2d(
        zeros(x).view(),
        zeros(w).view(),
        b.as_ref().map(|b| b.view()),
        &p,
    )
    .unwrap_err();
    // The backward pass validates the same way.
    if bias.is_none() {
        let gy = zeros((1, 1, 1, 1));
        assert!(
            tconv::conv2d_backward(zeros(x).view(), zeros(w).view(), gy.view(), false, &p).is_err()
        );
    }
    e.to_string()
}

fn tconv_err(
    x: (usize, usize, usize, usize),
    w: (usize, usize, usize, usize),
    bias: Option<usize>,
    p: ConvTranspose2dParams,
) -> String {
    let b = bias.map(Array1::<f32>::zeros);
    tconv::conv_transpose2d(
        zeros(x).view(),
        zeros(w).view(),
        b.as_ref().map(|b| b.view()),
        &p,
    )
    .unwrap_err()
    .to_string()
}

#[test]
fn zero_stride_dilation_or_groups() {
    let x = (1, 2, 5, 5);
    let w = (2, 2, 3, 3);
    let m = conv_err(
        x,
        w,
        None,
        Conv2dParams {
            stride: [0, 1],
            ..Default::default()
        },
    );
    assert_eq!(
        m,
        "invalid stride: stride must be at least 1 in both dimensions, got [0, 1]"
    );
    let m = conv_err(
        x,
        w,
        None,
        Conv2dParams {
            dilation: [1, 0],
            ..Default::default()
        },
    );
    assert_eq!(
        m,
        "invalid dilation: dilation must be at least 1 in both dimensions, got [1, 0]"
    );
    let m = conv_err(
        x,
        w,
        None,
        Conv2dParams {
            groups: 0,
            ..Default::default()
        },
    );
    assert_eq!(m, "invalid groups: groups must be at least 1, got 0");
    let m = tconv_err(
        x,
        w,
        None,
        ConvTranspose2dParams {
            stride: [1, 0],
            ..Default::default()
        },
    );
    assert!(m.starts_with("invalid stride:"), "{m}");
}

#[test]
fn groups_must_divide_channels() {
    let m = conv_err(
        (1, 4, 5, 5),
        (6, 1, 3, 3),
        None,
        Conv2dParams {
            groups: 3,
            ..Default::default()
        },
    );
    assert_eq!(
        m,
        "invalid groups: groups 3 must divide the input channels 4"
    );
    let m = tconv_err(
        (1, 4, 5, 5),
        (4, 1, 3, 3),
        None,
        ConvTranspose2dParams {
            groups: 3,
            ..Default::default()
        },
    );
    assert_eq!(
        m,
        "invalid groups: groups 3 must divide the input channels 4"
    );
    let m = conv_err(
        (1, 4, 5, 5),
        (3, 2, 3, 3),
        None,
        Conv2dParams {
            groups: 2,
            ..Default::default()
        },
    );
    assert_eq!(
        m,
        "shape mismatch in weight: output channels (weight dim 0) 3 must be a positive multiple of groups 2"
    );
}

#[test]
fn output_padding_must_be_smaller_than_stride_or_dilation() {
    let p = ConvTranspose2dParams {
        stride: [2, 2],
        output_padding: [2, 0],
        ..Default::default()
    };
    let m = tconv_err((1, 1, 3, 3), (1, 1, 3, 3), None, p);
    assert_eq!(
        m,
        "invalid output_padding: output_padding 2 must be smaller than stride 2 or dilation 1 (height)"
    );
    // Smaller than the dilation is enough, as in PyTorch.
    let p = ConvTranspose2dParams {
        stride: [1, 1],
        dilation: [3, 3],
        output_padding: [2, 2],
        ..Default::default()
    };
    let y = tconv::conv_transpose2d(
        zeros((1, 1, 3, 3)).view(),
        zeros((1, 1, 2, 2)).view(),
        None,
        &p,
    )
    .unwrap();
    assert_eq!(y.dim(), (1, 1, 8, 8));
}

#[test]
fn empty_output() {
    let m = conv_err((1, 1, 2, 5), (1, 1, 3, 3), None, Conv2dParams::default());
    assert_eq!(
        m,
        "empty output: height: input 2 plus twice the padding 0 is 2, smaller than the dilated kernel dilation 1 × (kernel 3 − 1) + 1 = 3"
    );
    let p = ConvTranspose2dParams {
        padding: [0, 2],
        ..Default::default()
    };
    let m = tconv_err((1, 1, 2, 2), (1, 1, 2, 2), None, p);
    assert!(m.starts_with("empty output: width:"), "{m}");
    let m = tconv_err(
        (1, 1, 0, 2),
        (1, 1, 2, 2),
        None,
        ConvTranspose2dParams::default(),
    );
    assert_eq!(m, "empty output: input height is 0");
}

#[test]
fn channels_that_disagree() {
    let m = conv_err((1, 3, 5, 5), (2, 2, 3, 3), None, Conv2dParams::default());
    assert_eq!(
        m,
        "shape mismatch in weight: weight has 2 input channels per group (dim 1) × groups 1 = 2, but the input has 3 channels"
    );
    let m = tconv_err(
        (1, 3, 5, 5),
        (2, 2, 3, 3),
        None,
        ConvTranspose2dParams::default(),
    );
    assert_eq!(
        m,
        "shape mismatch in weight: weight has 2 input channels (dim 0) but the input has 3"
    );
}

#[test]
fn bias_of_the_wrong_length() {
    let m = conv_err((1, 2, 5, 5), (4, 2, 3, 3), Some(3), Conv2dParams::default());
    assert_eq!(
        m,
        "shape mismatch in bias: bias has 3 elements but there are 4 output channels"
    );
    let p = ConvTranspose2dParams {
        groups: 2,
        ..Default::default()
    };
    let m = tconv_err((1, 2, 5, 5), (2, 3, 3, 3), Some(3), p);
    assert_eq!(
        m,
        "shape mismatch in bias: bias has 3 elements but there are 6 output channels"
    );
}

#[test]
fn grad_output_of_the_wrong_shape() {
    let x = zeros((1, 2, 5, 5));
    let w = zeros((4, 2, 3, 3));
    let gy = zeros((1, 4, 3, 4));
    let e = tconv::conv2d_backward(
        x.view(),
        w.view(),
        gy.view(),
        true,
        &Conv2dParams::default(),
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "shape mismatch in grad_output: grad_output has shape (1, 4, 3, 4) but the output has shape (1, 4, 3, 3)"
    );
}

#[test]
fn absurd_sizes_are_refused_not_allocated() {
    let p = ConvTranspose2dParams {
        stride: [1 << 20, 1 << 20],
        ..Default::default()
    };
    let e = tconv::conv_transpose2d(
        zeros((1, 1, 64, 64)).view(),
        zeros((1, 1, 1, 1)).view(),
        None,
        &p,
    )
    .unwrap_err();
    assert!(matches!(e, ConvError::TooLarge { .. }), "{e}");
    let p = Conv2dParams {
        padding: [usize::MAX / 2, 0],
        ..Default::default()
    };
    let e = tconv::conv2d(
        zeros((1, 1, 4, 4)).view(),
        zeros((1, 1, 1, 1)).view(),
        None,
        &p,
    )
    .unwrap_err();
    assert!(
        e.to_string().starts_with("invalid padding: padding ["),
        "{e}"
    );
}

fn wild() -> impl Strategy<Value = usize> {
    prop_oneof![
        6 => 0usize..=4,
        1 => Just(7usize),
        1 => Just(1000usize),
        1 => Just(1usize << 24),
        1 => Just((1usize << 24) + 1),
        1 => Just(usize::MAX),
        1 => any::<usize>(),
    ]
}

fn wild_pair() -> impl Strategy<Value = [usize; 2]> {
    (wild(), wild()).prop_map(|(a, b)| [a, b])
}

fn small_dim() -> impl Strategy<Value = (usize, usize, usize, usize)> {
    (0usize..=3, 0usize..=4, 0usize..=6, 0usize..=6)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Random, mostly nonsensical, parameters and shapes: every call returns, Ok or
    /// Err, without a panic.
    #[test]
    fn nonsense_never_panics(
        x in small_dim(), w in small_dim(), gy in small_dim(), bias in proptest::option::of(0usize..=6),
        stride in wild_pair(), padding in wild_pair(), dilation in wild_pair(), output_padding in wild_pair(),
        groups in wild(),
    ) {
        let (x, w, gy) = (zeros(x), zeros(w), zeros(gy));
        let b = bias.map(Array1::<f32>::zeros);
        let b = b.as_ref().map(|b| b.view());
        let p = Conv2dParams { stride, padding, dilation, groups };
        let tp = ConvTranspose2dParams { stride, padding, output_padding, dilation, groups };
        let _ = tconv::conv2d(x.view(), w.view(), b, &p);
        let _ = tconv::conv_transpose2d(x.view(), w.view(), b, &tp);
        let _ = tconv::conv2d_backward(x.view(), w.view(), gy.view(), bias.is_some(), &p);
        let _ = tconv::conv_transpose2d_backward(x.view(), w.view(), gy.view(), bias.is_some(), &tp);
        let _ = tconv::reference::conv2d(x.view(), w.view(), b, &p);
        let _ = tconv::reference::conv_transpose2d(x.view(), w.view(), b, &tp);
        let _ = tconv::matrix::conv2d_matrix([x.dim().1, x.dim().2, x.dim().3], w.view(), &p);
        let _ = tconv::matrix::conv_transpose2d_matrix([x.dim().1, x.dim().2, x.dim().3], w.view(), &tp);
        let _ = tconv::conv2d_output_size([x.dim().2, x.dim().3], [w.dim().2, w.dim().3], &p);
        let _ = tconv::conv_transpose2d_output_size([x.dim().2, x.dim().3], [w.dim().2, w.dim().3], &tp);
    }
}
