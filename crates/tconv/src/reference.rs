//! The textbook forms, written for clarity, not speed: every fast kernel is tested
//! against these.
//!
//! [`trans_conv`] is the scatter form of a single-channel transposed convolution:
//! each input element times the kernel, added into a larger output. The multi-channel
//! functions are direct loops over every index, with the same semantics and layouts
//! as the crate's public functions. They validate their parameters the same way but
//! derive output shapes on their own (by padding, sliding and trimming), so a test
//! can compare them with the documented formulas in [`crate::shape`].

use ndarray::{Array1, Array2, Array4, ArrayView1, ArrayView2, ArrayView4, s};

use crate::shape::Geometry;
use crate::{Conv2dParams, ConvError, ConvGrads, ConvTranspose2dParams};

/// The textbook's single-channel transposed convolution (stride 1, no padding):
/// `Y[i + a, j + b] += X[i, j] · K[a, b]`, so `Y` is `(h + kh − 1) × (w + kw − 1)`.
pub fn trans_conv(x: ArrayView2<f32>, k: ArrayView2<f32>) -> Array2<f32> {
    let (h, w) = x.dim();
    let (kh, kw) = k.dim();
    let mut y = Array2::zeros(((h + kh).saturating_sub(1), (w + kw).saturating_sub(1)));
    for i in 0..h {
        for j in 0..w {
            let mut window = y.slice_mut(s![i..i + kh, j..j + kw]);
            window.scaled_add(x[[i, j]], &k);
        }
    }
    y
}

/// Direct-loop [`crate::conv2d`]: pads the input explicitly, then slides the dilated
/// kernel over it for as long as it fits.
pub fn conv2d(
    input: ArrayView4<f32>,
    weight: ArrayView4<f32>,
    bias: Option<ArrayView1<f32>>,
    p: &Conv2dParams,
) -> Result<Array4<f32>, ConvError> {
    Geometry::conv2d(input.dim(), weight.dim(), bias.map(|b| b.len()), p)?;
    let (n, c, h, w) = input.dim();
    check_alloc(
        "padded input",
        [n, c, h, w],
        [0, 0, 2 * p.padding[0] as u128, 2 * p.padding[1] as u128],
    )?;
    let (o, ig, kh, kw) = weight.dim();
    let og = o / p.groups;
    let [sh, sw] = p.stride;
    let [dh, dw] = p.dilation;
    let [ph, pw] = p.padding;
    let mut padded = Array4::<f32>::zeros((n, c, h + 2 * ph, w + 2 * pw));
    padded
        .slice_mut(s![.., .., ph..ph + h, pw..pw + w])
        .assign(&input);
    let positions = |len: usize, k: usize, s: usize, d: usize| {
        let mut count = 0;
        while count * s + d * (k - 1) < len {
            count += 1;
        }
        count
    };
    let ho = positions(h + 2 * ph, kh, sh, dh);
    let wo = positions(w + 2 * pw, kw, sw, dw);
    let mut out = Array4::<f32>::zeros((n, o, ho, wo));
    for b in 0..n {
        for co in 0..o {
            let g = co / og;
            for y in 0..ho {
                for x in 0..wo {
                    let mut acc = bias.map_or(0.0, |b| b[co]) as f64;
                    for ci in 0..ig {
                        for a in 0..kh {
                            for e in 0..kw {
                                let v = padded[[b, g * ig + ci, y * sh + a * dh, x * sw + e * dw]];
                                acc += v as f64 * weight[[co, ci, a, e]] as f64;
                            }
                        }
                    }
                    out[[b, co, y, x]] = acc as f32;
                }
            }
        }
    }
    Ok(out)
}

/// Direct-loop [`crate::conv_transpose2d`] in scatter form: every input element times
/// its kernel slice, added into an untrimmed output, which is then trimmed by the
/// padding on each side (and extended by output_padding at the bottom and right).
pub fn conv_transpose2d(
    input: ArrayView4<f32>,
    weight: ArrayView4<f32>,
    bias: Option<ArrayView1<f32>>,
    p: &ConvTranspose2dParams,
) -> Result<Array4<f32>, ConvError> {
    let geo = Geometry::conv_transpose2d(input.dim(), weight.dim(), bias.map(|b| b.len()), p)?;
    check_alloc(
        "untrimmed output",
        [geo.batch, geo.img[0], geo.img[1], geo.img[2]],
        [0, 0, 2 * p.padding[0] as u128, 2 * p.padding[1] as u128],
    )?;
    let full = scatter_untrimmed(input, weight, p);
    let (n, o, fh, fw) = full.dim();
    let [ph, pw] = p.padding;
    let mut out = full
        .slice(s![.., .., ph..fh - ph, pw..fw - pw])
        .to_owned()
        .mapv(|v| v as f32);
    if let Some(bias) = bias {
        for b in 0..n {
            for co in 0..o {
                out.slice_mut(s![b, co, .., ..])
                    .mapv_inplace(|v| v + bias[co]);
            }
        }
    }
    Ok(out)
}

/// Refuses the reference's own intermediate arrays (`dims` grown by `extra`) when
/// they would exceed [`crate::shape::MAX_ELEMENTS`]; the fast kernels never build them.
fn check_alloc(array: &'static str, dims: [usize; 4], extra: [u128; 4]) -> Result<(), ConvError> {
    let elements: u128 = (0..4).map(|i| dims[i] as u128 + extra[i]).product();
    crate::shape::check_elements(array, elements)
}

fn scatter_untrimmed(
    input: ArrayView4<f32>,
    weight: ArrayView4<f32>,
    p: &ConvTranspose2dParams,
) -> Array4<f64> {
    let (n, c, h, w) = input.dim();
    let (_, og, kh, kw) = weight.dim();
    let cg = c / p.groups;
    let [sh, sw] = p.stride;
    let [dh, dw] = p.dilation;
    let fh = (h - 1) * sh + dh * (kh - 1) + 1 + p.output_padding[0];
    let fw = (w - 1) * sw + dw * (kw - 1) + 1 + p.output_padding[1];
    let mut full = Array4::<f64>::zeros((n, og * p.groups, fh, fw));
    for b in 0..n {
        for ci in 0..c {
            let g = ci / cg;
            for i in 0..h {
                for j in 0..w {
                    let v = input[[b, ci, i, j]] as f64;
                    for co in 0..og {
                        for a in 0..kh {
                            for e in 0..kw {
                                full[[b, g * og + co, i * sh + a * dh, j * sw + e * dw]] +=
                                    v * weight[[ci, co, a, e]] as f64;
                            }
                        }
                    }
                }
            }
        }
    }
    full
}

/// Direct-loop [`crate::conv2d_backward`]: walks every (output, kernel) pair of the
/// forward pass and sends the upstream gradient back along it.
pub fn conv2d_backward(
    input: ArrayView4<f32>,
    weight: ArrayView4<f32>,
    grad_output: ArrayView4<f32>,
    has_bias: bool,
    p: &Conv2dParams,
) -> Result<ConvGrads, ConvError> {
    let geo = Geometry::conv2d(input.dim(), weight.dim(), None, p)?;
    geo.check_grad_output(grad_output.dim())?;
    let mut gx = Array4::<f64>::zeros(input.dim());
    let mut gw = Array4::<f64>::zeros(weight.dim());
    geo.for_each_tap(|b, img_ch, (iy, ix), col_ch, (oy, ox), wi| {
        let gy = grad_output[[b, col_ch, oy, ox]] as f64;
        gx[[b, img_ch, iy, ix]] += gy * weight[wi] as f64;
        gw[wi] += gy * input[[b, img_ch, iy, ix]] as f64;
    });
    Ok(ConvGrads {
        input: gx.mapv(|v| v as f32),
        weight: gw.mapv(|v| v as f32),
        bias: has_bias.then(|| channel_sums(grad_output)),
    })
}

/// Direct-loop [`crate::conv_transpose2d_backward`], the same walk as
/// [`conv2d_backward`] with the roles of input and output exchanged.
pub fn conv_transpose2d_backward(
    input: ArrayView4<f32>,
    weight: ArrayView4<f32>,
    grad_output: ArrayView4<f32>,
    has_bias: bool,
    p: &ConvTranspose2dParams,
) -> Result<ConvGrads, ConvError> {
    let geo = Geometry::conv_transpose2d(input.dim(), weight.dim(), None, p)?;
    geo.check_grad_output(grad_output.dim())?;
    let mut gx = Array4::<f64>::zeros(input.dim());
    let mut gw = Array4::<f64>::zeros(weight.dim());
    geo.for_each_tap(|b, img_ch, (oy, ox), col_ch, (iy, ix), wi| {
        let gy = grad_output[[b, img_ch, oy, ox]] as f64;
        gx[[b, col_ch, iy, ix]] += gy * weight[wi] as f64;
        gw[wi] += gy * input[[b, col_ch, iy, ix]] as f64;
    });
    Ok(ConvGrads {
        input: gx.mapv(|v| v as f32),
        weight: gw.mapv(|v| v as f32),
        bias: has_bias.then(|| channel_sums(grad_output)),
    })
}

fn channel_sums(a: ArrayView4<f32>) -> Array1<f32> {
    let (n, c, _, _) = a.dim();
    Array1::from_shape_fn(c, |ch| {
        (0..n)
            .map(|b| {
                a.slice(s![b, ch, .., ..])
                    .iter()
                    .map(|&v| v as f64)
                    .sum::<f64>()
            })
            .sum::<f64>() as f32
    })
}
