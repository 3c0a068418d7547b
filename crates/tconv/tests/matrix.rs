//! The matrix view on random cases: `vec(conv2d(x)) = W · vec(x)` and
//! `vec(conv_transpose2d(y)) = Wᵀ · vec(y)`, for channels, stride, padding,
//! dilation and groups.

mod common;

use common::case;
use ndarray::{Array1, Array4};
use proptest::prelude::*;
use tconv::matrix::{conv_transpose2d_matrix, conv2d_matrix};

fn flat(a: &Array4<f32>) -> Array1<f32> {
    a.iter().copied().collect()
}

fn max_err(a: &Array1<f32>, b: &Array1<f32>) -> f32 {
    a.iter().zip(b).fold(0.0, |m, (x, y)| m.max((x - y).abs()))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn convolution_is_w_times_x(mut c in case()) {
        c.batch = 1;
        let (x, w, p) = (c.input(), c.conv_weight(), c.conv_params());
        let Ok(y) = tconv::conv2d(x.view(), w.view(), None, &p) else { return Ok(()); };
        let m = conv2d_matrix([c.in_channels(), c.size[0], c.size[1]], w.view(), &p).unwrap();
        prop_assert_eq!(m.dim(), (y.len(), x.len()));
        prop_assert!(max_err(&m.dot(&flat(&x)), &flat(&y)) < 1e-4);

        // The transposed convolution of any r of y's shape is Wᵀ · vec(r), once its
        // output padding makes it land on x's size.
        let r = common::array4(c.seed + 5, y.dim());
        let mut tp = c.transpose_params();
        for d in 0..2 {
            tp.output_padding[d] = (c.size[d] + 2 * p.padding[d] - p.dilation[d] * (c.kernel[d] - 1) - 1) % p.stride[d];
        }
        let z = tconv::conv_transpose2d(r.view(), w.view(), None, &tp).unwrap();
        prop_assert!(max_err(&m.t().dot(&flat(&r)), &flat(&z)) < 1e-4);
        let mt = conv_transpose2d_matrix([c.out_channels(), y.dim().2, y.dim().3], w.view(), &tp).unwrap();
        prop_assert_eq!(mt, m.t().to_owned());
    }

    #[test]
    fn transposed_convolution_is_its_matrix(mut c in case()) {
        c.batch = 1;
        let (x, w, p) = (c.input(), c.transpose_weight(), c.transpose_params());
        let Ok(y) = tconv::conv_transpose2d(x.view(), w.view(), None, &p) else { return Ok(()); };
        let m = conv_transpose2d_matrix([c.in_channels(), c.size[0], c.size[1]], w.view(), &p).unwrap();
        prop_assert!(max_err(&m.dot(&flat(&x)), &flat(&y)) < 1e-4);
    }
}
