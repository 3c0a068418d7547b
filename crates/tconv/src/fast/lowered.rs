//! The three products every convolution pass reduces to, per group of one image:
//!
//! * [`correlate`]: `col = W · im2col(img)` (conv2d forward; grad input of a transposed conv)
//! * [`scatter`]: `img += col2im(Wᵀ · col)` (transposed conv forward; grad input of conv2d)
//! * [`weight_grad`]: `gW = Σ col · im2col(img)ᵀ` (grad weight of both)
//!
//! `W` is one group's slice of the weight, `col_channels/groups × lowered_rows`. The
//! lowered matrix is built a band of rows at a time so its buffer stays bounded.
//! Work is spread over threads by (image, group) when there are enough of those,
//! otherwise inside each matrix product and lowering.

use rayon::prelude::*;

use super::gemm::{Mat, Parallelism, matmul};
use super::lowering::{col2im, im2col};
use crate::shape::Geometry;

use std::sync::atomic::{AtomicUsize, Ordering};

/// Upper bound on the elements of one lowered band (16 MiB of `f32`); a variable
/// only so that tests can force many small bands.
static BAND_ELEMENTS: AtomicUsize = AtomicUsize::new(1 << 22);

/// How one (image, group) unit of work runs.
#[derive(Clone, Copy)]
struct Mode {
    /// Split the products and lowerings themselves across threads.
    inner_parallel: bool,
}

impl Mode {
    fn for_units(units: usize) -> Self {
        let threads = rayon::current_num_threads();
        Self {
            inner_parallel: threads > 1 && units < threads,
        }
    }

    fn gemm(self) -> Parallelism {
        if self.inner_parallel {
            Parallelism::Rayon(0)
        } else {
            Parallelism::None
        }
    }
}

/// Bands of column-side rows `(y0, y1)` whose lowered matrix fits [`BAND_ELEMENTS`].
fn bands(geo: &Geometry) -> impl Iterator<Item = (usize, usize)> {
    let per_row = (geo.lowered_rows() * geo.col[2]).max(1);
    let rows = (BAND_ELEMENTS.load(Ordering::Relaxed) / per_row).clamp(1, geo.col[1].max(1));
    let height = geo.col[1];
    (0..height)
        .step_by(rows)
        .map(move |y0| (y0, (y0 + rows).min(height)))
}

fn band_buffer(geo: &Geometry) -> Vec<f32> {
    if geo.is_pointwise() {
        return Vec::new();
    }
    let rows = bands(geo).next().map_or(0, |(y0, y1)| y1 - y0);
    vec![0.0; geo.lowered_rows() * rows * geo.col[2]]
}

/// Runs `f(unit index, unit's slice of dst)` over every (image, group), each slice
/// `chunk` long, in parallel when the mode says so.
fn for_each_unit(
    dst: &mut [f32],
    chunk: usize,
    mode: Mode,
    f: impl Fn(usize, &mut [f32]) + Sync + Send,
) {
    if chunk == 0 {
        return;
    }
    if mode.inner_parallel {
        dst.chunks_mut(chunk).enumerate().for_each(|(u, d)| f(u, d));
    } else {
        dst.par_chunks_mut(chunk)
            .enumerate()
            .for_each(|(u, d)| f(u, d));
    }
}

/// `col[n, group] = W_group · im2col(img[n, group])` for every image and group.
/// `img` is `[N, img_channels, H, W]` and `col` `[N, col_channels, H', W']`, both dense.
pub(crate) fn correlate(geo: &Geometry, img: &[f32], weight: &[f32], col: &mut [f32]) {
    let (g, icg, mg) = (
        geo.groups,
        geo.img_group_channels(),
        geo.col_group_channels(),
    );
    let (k, p) = (geo.lowered_rows(), geo.col_plane());
    let mode = Mode::for_units(geo.batch * g);
    for_each_unit(col, mg * p, mode, |u, out| {
        let grp = u % g;
        let src = &img[u * icg * geo.img_plane()..(u + 1) * icg * geo.img_plane()];
        let w = Mat::row_major(&weight[grp * mg * k..(grp + 1) * mg * k], mg, k);
        if geo.is_pointwise() {
            matmul(out, p, w, Mat::row_major(src, k, p), false, mode.gemm());
            return;
        }
        let mut buf = band_buffer(geo);
        for (y0, y1) in bands(geo) {
            let width = (y1 - y0) * geo.col[2];
            im2col(geo, src, y0, y1, &mut buf, mode.inner_parallel);
            let lowered = Mat::row_major(&buf[..k * width], k, width);
            matmul(
                &mut out[y0 * geo.col[2]..],
                p,
                w,
                lowered,
                false,
                mode.gemm(),
            );
        }
    });
}

/// `img[n, group] += col2im(W_groupᵀ · col[n, group])` for every image and group.
pub(crate) fn scatter(geo: &Geometry, col: &[f32], weight: &[f32], img: &mut [f32]) {
    let (g, icg, mg) = (
        geo.groups,
        geo.img_group_channels(),
        geo.col_group_channels(),
    );
    let (k, p) = (geo.lowered_rows(), geo.col_plane());
    let mode = Mode::for_units(geo.batch * g);
    for_each_unit(img, icg * geo.img_plane(), mode, |u, out| {
        let grp = u % g;
        let src = &col[u * mg * p..(u + 1) * mg * p];
        let wt = Mat::row_major(&weight[grp * mg * k..(grp + 1) * mg * k], mg, k).t();
        if geo.is_pointwise() {
            matmul(out, p, wt, Mat::row_major(src, mg, p), true, mode.gemm());
            return;
        }
        let mut buf = band_buffer(geo);
        for (y0, y1) in bands(geo) {
            let width = (y1 - y0) * geo.col[2];
            let band = Mat::strided(&src[y0 * geo.col[2]..], mg, width, p);
            matmul(&mut buf, width, wt, band, false, mode.gemm());
            col2im(geo, &buf, y0, y1, out, mode.inner_parallel);
        }
    });
}

/// `gW[group] = Σ_n col[n, group] · im2col(img[n, group])ᵀ`, the weight gradient of
/// both a convolution and a transposed convolution, laid out like the weight.
pub(crate) fn weight_grad(geo: &Geometry, img: &[f32], col: &[f32]) -> Vec<f32> {
    let g = geo.groups;
    let (mg, k) = (geo.col_group_channels(), geo.lowered_rows());
    let len = geo.col[0] * k;
    let mode = Mode::for_units(geo.batch * g);
    let accumulate_image = |n: usize, grad: &mut [f32], buf: &mut Vec<f32>| {
        for grp in 0..g {
            let gw = &mut grad[grp * mg * k..(grp + 1) * mg * k];
            accumulate_unit(geo, n * g + grp, img, col, gw, buf, mode);
        }
    };
    if mode.inner_parallel || geo.batch <= 1 {
        let mut grad = vec![0.0; len];
        let mut buf = band_buffer(geo);
        for n in 0..geo.batch {
            accumulate_image(n, &mut grad, &mut buf);
        }
        return grad;
    }
    (0..geo.batch)
        .into_par_iter()
        .fold(
            || (vec![0.0; len], band_buffer(geo)),
            |(mut grad, mut buf), n| {
                accumulate_image(n, &mut grad, &mut buf);
                (grad, buf)
            },
        )
        .map(|(grad, _)| grad)
        .reduce_with(|mut a, b| {
            a.iter_mut().zip(&b).for_each(|(x, y)| *x += y);
            a
        })
        .unwrap_or_else(|| vec![0.0; len])
}

/// `gw += col[unit] · im2col(img[unit])ᵀ` for one (image, group) unit.
fn accumulate_unit(
    geo: &Geometry,
    u: usize,
    img: &[f32],
    col: &[f32],
    gw: &mut [f32],
    buf: &mut [f32],
    mode: Mode,
) {
    let (icg, mg, k, p) = (
        geo.img_group_channels(),
        geo.col_group_channels(),
        geo.lowered_rows(),
        geo.col_plane(),
    );
    let src = &img[u * icg * geo.img_plane()..(u + 1) * icg * geo.img_plane()];
    let grad_col = &col[u * mg * p..(u + 1) * mg * p];
    if geo.is_pointwise() {
        let lhs = Mat::row_major(grad_col, mg, p);
        matmul(gw, k, lhs, Mat::row_major(src, k, p).t(), true, mode.gemm());
        return;
    }
    for (y0, y1) in bands(geo) {
        let width = (y1 - y0) * geo.col[2];
        im2col(geo, src, y0, y1, buf, mode.inner_parallel);
        let lhs = Mat::strided(&grad_col[y0 * geo.col[2]..], mg, width, p);
        let lowered = Mat::row_major(&buf[..k * width], k, width);
        matmul(gw, k, lhs, lowered.t(), true, mode.gemm());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Conv2dParams, ConvTranspose2dParams, reference};
    use ndarray::Array4;

    fn ramp(dim: (usize, usize, usize, usize), k: f32) -> Array4<f32> {
        let mut i = 0.0f32;
        Array4::from_shape_fn(dim, |_| {
            i += 1.0;
            (i * k).sin()
        })
    }

    fn max_err(a: &Array4<f32>, b: &Array4<f32>) -> f32 {
        a.iter().zip(b).fold(0.0, |m, (x, y)| m.max((x - y).abs()))
    }

    /// With a band of a few rows, every product is built from several bands; the
    /// results must not change.
    #[test]
    fn banded_lowering_matches_reference() {
        BAND_ELEMENTS.store(40, Ordering::Relaxed);
        let x = ramp((2, 4, 11, 9), 0.37);
        let w = ramp((6, 2, 3, 2), 0.91);
        let p = Conv2dParams {
            stride: [2, 1],
            padding: [1, 1],
            dilation: [1, 2],
            groups: 2,
        };
        let fast = crate::conv2d(x.view(), w.view(), None, &p).unwrap();
        let slow = reference::conv2d(x.view(), w.view(), None, &p).unwrap();
        assert!(max_err(&fast, &slow) < 1e-4);
        let gy = ramp(fast.dim(), 0.53);
        let fg = crate::conv2d_backward(x.view(), w.view(), gy.view(), false, &p).unwrap();
        let sg = reference::conv2d_backward(x.view(), w.view(), gy.view(), false, &p).unwrap();
        assert!(max_err(&fg.input, &sg.input) < 1e-4);
        assert!(max_err(&fg.weight, &sg.weight) < 1e-3);

        let wt = ramp((4, 3, 4, 3), 0.29);
        let tp = ConvTranspose2dParams {
            stride: [2, 3],
            padding: [1, 0],
            output_padding: [1, 2],
            dilation: [1, 1],
            groups: 1,
        };
        let fast = crate::conv_transpose2d(x.view(), wt.view(), None, &tp).unwrap();
        let slow = reference::conv_transpose2d(x.view(), wt.view(), None, &tp).unwrap();
        assert!(max_err(&fast, &slow) < 1e-4);
        let gy = ramp(fast.dim(), 0.71);
        let fg =
            crate::conv_transpose2d_backward(x.view(), wt.view(), gy.view(), true, &tp).unwrap();
        let sg = reference::conv_transpose2d_backward(x.view(), wt.view(), gy.view(), true, &tp)
            .unwrap();
        assert!(max_err(&fg.input, &sg.input) < 1e-4);
        assert!(max_err(&fg.weight, &sg.weight) < 1e-3);
        BAND_ELEMENTS.store(1 << 22, Ordering::Relaxed);
    }
}
