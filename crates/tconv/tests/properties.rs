//! Properties over random shapes and parameters: the fast kernels equal the
//! reference (whole backward and one gradient at a time), a transposed convolution is the adjoint of the convolution, and the
//! documented output-size formulas equal the shapes the reference produces.

mod common;

use common::{Case, case, direct_case, error, subpixel_case};
use ndarray::Array4;
use proptest::prelude::*;
use tconv::{grads, reference};

fn close<D: ndarray::Dimension>(
    what: &str,
    got: &ndarray::Array<f32, D>,
    want: &ndarray::Array<f32, D>,
) -> Result<(), TestCaseError> {
    let (err, scale) = error(got, want);
    prop_assert!(err <= 1e-4 * scale, "{what}: error {err} at scale {scale}");
    Ok(())
}

/// The documented formula, written out again here from the docs.
fn conv_size(n: usize, k: usize, s: usize, p: usize, d: usize) -> Option<usize> {
    let v = n as i64 + 2 * p as i64 - d as i64 * (k as i64 - 1) - 1;
    (v >= 0).then(|| (v / s as i64 + 1) as usize)
}

fn transpose_size(n: usize, k: usize, s: usize, p: usize, d: usize, op: usize) -> Option<usize> {
    let v = (n as i64 - 1) * s as i64 - 2 * p as i64 + d as i64 * (k as i64 - 1) + op as i64 + 1;
    (v >= 1).then_some(v as usize)
}

fn dot(a: &Array4<f32>, b: &Array4<f32>) -> f64 {
    a.iter()
        .zip(b.iter())
        .map(|(x, y)| *x as f64 * *y as f64)
        .sum()
}

/// The fast transposed convolution, its gradients and `grads`' equal the reference's,
/// or both refuse the case alike.
fn transpose_matches_reference(c: &Case) -> Result<(), TestCaseError> {
    let (x, w, b, p) = (
        c.input(),
        c.transpose_weight(),
        c.bias(),
        c.transpose_params(),
    );
    let fast = tconv::conv_transpose2d(x.view(), w.view(), b.as_ref().map(|b| b.view()), &p);
    let slow = reference::conv_transpose2d(x.view(), w.view(), b.as_ref().map(|b| b.view()), &p);
    match (fast, slow) {
        (Ok(fast), Ok(slow)) => {
            close("output", &fast, &slow)?;
            let gy = common::array4(c.seed + 3, slow.dim());
            let fg = tconv::conv_transpose2d_backward(x.view(), w.view(), gy.view(), c.bias, &p)
                .unwrap();
            let sg =
                reference::conv_transpose2d_backward(x.view(), w.view(), gy.view(), c.bias, &p)
                    .unwrap();
            close("grad_input", &fg.input, &sg.input)?;
            close("grad_weight", &fg.weight, &sg.weight)?;
            let gi = grads::conv_transpose2d_input_grad(x.dim(), w.view(), gy.view(), &p).unwrap();
            let gw = grads::conv_transpose2d_weight_grad(x.view(), w.dim(), gy.view(), &p).unwrap();
            close("grads::conv_transpose2d_input_grad", &gi, &sg.input)?;
            close("grads::conv_transpose2d_weight_grad", &gw, &sg.weight)?;
            if let (Some(f), Some(s)) = (fg.bias, &sg.bias) {
                close("grad_bias", &f, s)?;
            }
        }
        (Err(a), Err(b)) => prop_assert_eq!(a, b),
        (a, b) => prop_assert!(false, "fast {:?} but reference {:?}", a.err(), b.err()),
    }
    Ok(())
}

/// The fast convolution, its gradients and `grads`' equal the reference's, or both
/// refuse the case alike.
fn conv_matches_reference(c: &Case) -> Result<(), TestCaseError> {
    let (x, w, b, p) = (c.input(), c.conv_weight(), c.bias(), c.conv_params());
    let fast = tconv::conv2d(x.view(), w.view(), b.as_ref().map(|b| b.view()), &p);
    let slow = reference::conv2d(x.view(), w.view(), b.as_ref().map(|b| b.view()), &p);
    match (fast, slow) {
        (Ok(fast), Ok(slow)) => {
            close("output", &fast, &slow)?;
            let gy = common::array4(c.seed + 3, slow.dim());
            let fg = tconv::conv2d_backward(x.view(), w.view(), gy.view(), c.bias, &p).unwrap();
            let sg = reference::conv2d_backward(x.view(), w.view(), gy.view(), c.bias, &p).unwrap();
            close("grad_input", &fg.input, &sg.input)?;
            close("grad_weight", &fg.weight, &sg.weight)?;
            prop_assert_eq!(fg.bias.is_some(), c.bias);
            if let (Some(f), Some(s)) = (fg.bias, &sg.bias) {
                close("grad_bias", &f, s)?;
            }
            let gi = grads::conv2d_input_grad(x.dim(), w.view(), gy.view(), &p).unwrap();
            let gw = grads::conv2d_weight_grad(x.view(), w.dim(), gy.view(), &p).unwrap();
            close("grads::conv2d_input_grad", &gi, &sg.input)?;
            close("grads::conv2d_weight_grad", &gw, &sg.weight)?;
            if let Some(s) = &sg.bias {
                close("grads::bias_grad", &grads::bias_grad(gy.view()), s)?;
            }
        }
        (Err(a), Err(b)) => prop_assert_eq!(a, b),
        (a, b) => prop_assert!(false, "fast {:?} but reference {:?}", a.err(), b.err()),
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn fast_conv2d_equals_reference(c in case()) {
        conv_matches_reference(&c)?;
    }

    #[test]
    fn fast_conv_transpose2d_equals_reference(c in case()) {
        transpose_matches_reference(&c)?;
    }

    #[test]
    fn sub_pixel_transposed_convolution_equals_reference(c in subpixel_case()) {
        transpose_matches_reference(&c)?;
        let x = c.input();
        // The same three products serve a strided convolution with these taps.
        let cp = c.conv_params();
        let wc = c.conv_weight();
        if let Ok(y) = reference::conv2d(x.view(), wc.view(), None, &cp) {
            close("conv2d output", &tconv::conv2d(x.view(), wc.view(), None, &cp).unwrap(), &y)?;
            let gy = common::array4(c.seed + 3, y.dim());
            let fg = tconv::conv2d_backward(x.view(), wc.view(), gy.view(), false, &cp).unwrap();
            let sg = reference::conv2d_backward(x.view(), wc.view(), gy.view(), false, &cp).unwrap();
            close("conv2d grad_input", &fg.input, &sg.input)?;
            close("conv2d grad_weight", &fg.weight, &sg.weight)?;
        }
    }

    #[test]
    fn transposed_convolution_is_the_adjoint(c in case()) {
        let (x, w, p) = (c.input(), c.conv_weight(), c.conv_params());
        let Ok(y) = tconv::conv2d(x.view(), w.view(), None, &p) else { return Ok(()); };
        let r = common::array4(c.seed + 4, y.dim());
        // The transposed convolution that lands exactly on x's size.
        let mut tp = tconv::ConvTranspose2dParams {
            stride: p.stride, padding: p.padding, dilation: p.dilation, groups: p.groups,
            output_padding: [0, 0],
        };
        for d in 0..2 {
            tp.output_padding[d] = (c.size[d] + 2 * p.padding[d] - p.dilation[d] * (c.kernel[d] - 1) - 1) % p.stride[d];
        }
        let back = tconv::conv_transpose2d(r.view(), w.view(), None, &tp).unwrap();
        prop_assert_eq!(back.dim(), x.dim());
        let (lhs, rhs) = (dot(&y, &r), dot(&x, &back));
        prop_assert!((lhs - rhs).abs() <= 1e-4 * (1.0 + lhs.abs()), "<conv x, r> {} vs <x, convT r> {}", lhs, rhs);
    }

    #[test]
    fn output_size_formulas_match_reference_shapes(c in case()) {
        let x = c.input();
        let conv = reference::conv2d(x.view(), c.conv_weight().view(), None, &c.conv_params());
        let want = (0..2).map(|d| conv_size(c.size[d], c.kernel[d], c.stride[d], c.padding[d], c.dilation[d])).collect::<Option<Vec<_>>>();
        match (conv, want) {
            (Ok(y), Some(hw)) => {
                prop_assert_eq!(&y.shape()[2..], &hw[..]);
                prop_assert_eq!(tconv::conv2d_output_size(c.size, c.kernel, &c.conv_params()).unwrap(), [hw[0], hw[1]]);
            }
            (Err(_), None) => prop_assert!(tconv::conv2d_output_size(c.size, c.kernel, &c.conv_params()).is_err()),
            (got, want) => prop_assert!(false, "reference {:?} but formula {:?}", got.map(|y| y.dim()), want),
        }
        let tconv_out = reference::conv_transpose2d(x.view(), c.transpose_weight().view(), None, &c.transpose_params());
        let want = (0..2).map(|d| transpose_size(c.size[d], c.kernel[d], c.stride[d], c.padding[d], c.dilation[d], c.output_padding[d])).collect::<Option<Vec<_>>>();
        match (tconv_out, want) {
            (Ok(y), Some(hw)) => {
                prop_assert_eq!(&y.shape()[2..], &hw[..]);
                prop_assert_eq!(tconv::conv_transpose2d_output_size(c.size, c.kernel, &c.transpose_params()).unwrap(), [hw[0], hw[1]]);
            }
            (Err(_), None) => prop_assert!(tconv::conv_transpose2d_output_size(c.size, c.kernel, &c.transpose_params()).is_err()),
            (got, want) => prop_assert!(false, "reference {:?} but formula {:?}", got.map(|y| y.dim()), want),
        }
    }
}

#[test]
fn non_contiguous_inputs_give_the_same_result() {
    let c = Case {
        batch: 2,
        groups: 1,
        in_per_group: 3,
        out_per_group: 2,
        size: [5, 6],
        kernel: [3, 3],
        stride: [2, 1],
        padding: [1, 1],
        dilation: [1, 1],
        output_padding: [1, 0],
        bias: true,
        seed: 9,
    };
    let x = c.input();
    let mut xt = Array4::zeros((2, 3, 6, 5));
    xt.assign(&x.view().permuted_axes([0, 1, 3, 2]));
    let xt = xt.view().permuted_axes([0, 1, 3, 2]).to_owned();
    let w = c.conv_weight();
    let b = c.bias().unwrap();
    let p = c.conv_params();
    let a = tconv::conv2d(x.view(), w.view(), Some(b.view()), &p).unwrap();
    let strided = x.view().permuted_axes([0, 1, 3, 2]);
    let strided = strided.permuted_axes([0, 1, 3, 2]);
    let b2 = tconv::conv2d(strided, w.view(), Some(b.view()), &p).unwrap();
    let sliced = xt.slice(ndarray::s![.., .., .., ..]);
    let b3 = tconv::conv2d(sliced, w.view(), Some(b.view()), &p).unwrap();
    assert_eq!(a, b2);
    assert_eq!(a, b3);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Few image channels and a large kernel, as ResNet's stem: the direct form,
    /// over rows wider than one block of every instruction set's kernel.
    #[test]
    fn direct_convolution_equals_reference(c in direct_case()) {
        conv_matches_reference(&c)?;
        transpose_matches_reference(&c)?;
    }
}
