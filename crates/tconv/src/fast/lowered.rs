//! The three products every convolution pass reduces to, per group of one image:
//!
//! * [`correlate`]: `col = W · im2col(img)` (conv2d forward; grad input of a transposed conv)
//! * [`scatter`]: `img += col2im(Wᵀ · col)` (transposed conv forward; grad input of conv2d)
//! * [`weight_grad`]: `gW = Σ col · im2col(img)ᵀ` (grad weight of both)
//!
//! `W` is one group's slice of the weight, `col_channels/groups × lowered_rows`. The
//! lowered matrix is built a band of column-side rows at a time, small enough to stay
//! in cache. Threads split the work into pieces that write disjoint outputs, so none
//! waits for another: bands of output rows for [`correlate`], blocks of image
//! channels for [`scatter`] and [`weight_grad`]. Each matrix product is single-threaded.

use std::sync::atomic::{AtomicUsize, Ordering};

use rayon::prelude::*;

use super::gemm::{Mat, Parallelism, matmul, matmul_to_ptr};
use super::grad_block::GradBlock;
use super::lowering::{col2im, column_read_stride, im2col, im2col_strided};
use super::scratch::Scratch;
use crate::shape::Geometry;
use split::CorrelateSplit;

mod split;

/// Target size of one lowered band, in elements (1 MiB of `f32`); a variable only
/// so that tests can force many small bands.
static BAND_ELEMENTS: AtomicUsize = AtomicUsize::new(1 << 18);

/// Pieces of work per thread to aim for, so uneven pieces still balance.
const PIECES_PER_THREAD: usize = 4;

/// How many partial weight gradients [`weight_grad_by_bands`] adds; enough to keep
/// every thread of a large machine busy.
const PARTIAL_SUMS: usize = 32;

/// Column-side rows per band when the lowered matrix has `lowered_rows` rows.
fn band_rows(geo: &Geometry, lowered_rows: usize) -> usize {
    let per_row = (lowered_rows * geo.col[2]).max(1);
    (BAND_ELEMENTS.load(Ordering::Relaxed) / per_row).clamp(1, geo.col[1].max(1))
}

fn bands(height: usize, rows: usize) -> impl Iterator<Item = (usize, usize)> {
    (0..height)
        .step_by(rows.max(1))
        .map(move |y0| (y0, (y0 + rows).min(height)))
}

/// Image channels per block, so that `units` independent regions split into enough
/// pieces for every thread.
fn channel_block(channels: usize, units: usize) -> usize {
    let want = PIECES_PER_THREAD * rayon::current_num_threads();
    let blocks = want.div_ceil(units.max(1)).clamp(1, channels.max(1));
    channels.div_ceil(blocks).max(1)
}

/// A thread's buffer for one band of the lowered matrix (none for a pointwise
/// convolution, which reads the image as it is), with room for rows
/// [`column_read_stride`] apart, as the weight gradient lays them out.
fn lowered_buffer(geo: &Geometry, lowered_rows: usize) -> Scratch {
    if geo.is_pointwise() {
        return Scratch::take(0);
    }
    let width = band_rows(geo, lowered_rows) * geo.col[2];
    Scratch::take(lowered_rows * column_read_stride(width))
}

/// A pointer that threads may share because each writes a disjoint part.
/// The sizes every lowered product works with: groups `g`; image-side and
/// column-side channels per group `icg`, `mg`; rows of the lowered (im2col) matrix
/// `k = icg · kH · kW`; the column-side plane `p = H' · W'` and width `cw`; the
/// image-side plane `H · W`.
fn sizes(geo: &Geometry) -> (usize, usize, usize, usize, usize, usize, usize) {
    (
        geo.groups,
        geo.img_group_channels(),
        geo.col_group_channels(),
        geo.lowered_rows(),
        geo.col_plane(),
        geo.col[2],
        geo.img_plane(),
    )
}

#[derive(Clone, Copy)]
pub(super) struct SharedOut(pub(super) *mut f32);
// SAFETY: used only to write disjoint elements from different threads (see callers).
unsafe impl Send for SharedOut {}
unsafe impl Sync for SharedOut {}

impl SharedOut {
    pub(super) fn get(self) -> *mut f32 {
        self.0
    }
}

/// `col[n, group] = W_group · im2col(img[n, group])` for every image and group.
/// `img` is `[N, img_channels, H, W]` and `col` `[N, col_channels, H', W']`, both dense.
pub(crate) fn correlate(geo: &Geometry, img: &[f32], weight: &[f32], col: &mut [f32]) {
    let (g, icg, mg, k, p, _, plane) = sizes(geo);
    assert_eq!(col.len(), geo.batch * geo.col[0] * p, "column side size");
    if p == 0 || mg == 0 {
        return;
    }
    let split = CorrelateSplit::new(geo, k);
    let out = SharedOut(col.as_mut_ptr());
    let buffer = if geo.is_pointwise() {
        0
    } else {
        k * split.widest()
    };
    let pieces = geo.batch * g * split.spans * split.blocks;
    (0..pieces).into_par_iter().for_each_init(
        || (Scratch::take(buffer), None),
        |(buf, lowered_span), piece| {
            let (span, block) = (piece / split.blocks, piece % split.blocks);
            let (unit, band) = (span / split.spans, span % split.spans);
            let (c0, c1) = split.columns(band, p);
            let width = c1 - c0;
            let src = &img[unit * icg * plane..(unit + 1) * icg * plane];
            let lowered = if geo.is_pointwise() {
                Mat::strided(&src[c0..], k, width, p)
            } else {
                // Consecutive pieces share a span; its lowering is built once.
                if *lowered_span != Some(span) {
                    im2col(geo, src, icg, (c0 / geo.col[2], c1 / geo.col[2]), buf);
                    *lowered_span = Some(span);
                }
                Mat::row_major(&buf[..k * width], k, width)
            };
            let (o0, o1) = (block * split.block, ((block + 1) * split.block).min(mg));
            let grp = unit % g;
            let w = &weight[(grp * mg + o0) * k..(grp * mg + o1) * k];
            let w = Mat::row_major(w, o1 - o0, k);
            let offset = (unit * mg + o0) * p + c0;
            // SAFETY: this piece writes rows `unit·mg + o0 .. unit·mg + o1` of `col`,
            // columns `c0 .. c1` of each: inside `col` (its length is checked
            // above) and disjoint from every other piece's.
            unsafe {
                let dst = out.get().add(offset);
                matmul_to_ptr(dst, p, w, lowered, false, Parallelism::None);
            }
        },
    );
}

/// `img[n, group] += col2im(W_groupᵀ · col[n, group])` for every image and group.
pub(crate) fn scatter(geo: &Geometry, col: &[f32], weight: &[f32], img: &mut [f32]) {
    let (g, icg, mg, k, p, cw, plane) = sizes(geo);
    let taps = geo.kernel[0] * geo.kernel[1];
    // Narrow bands starve the product of columns: prefer fewer channels per block.
    let band = BAND_ELEMENTS.load(Ordering::Relaxed);
    let cb = channel_block(icg, geo.batch * g).min((band / (taps * p).max(1)).max(1));
    if icg * plane == 0 {
        return;
    }
    img.par_chunks_mut(icg * plane)
        .enumerate()
        .for_each(|(unit, region)| {
            let grp = unit % g;
            let src = &col[unit * mg * p..(unit + 1) * mg * p];
            region.par_chunks_mut(cb * plane).enumerate().for_each_init(
                || lowered_buffer(geo, cb * taps),
                |buf, (block, out)| {
                    let channels = out.len() / plane;
                    let kb = channels * taps;
                    let w = &weight[grp * mg * k + block * cb * taps..];
                    let wt = Mat::strided(w, mg, kb, k).t();
                    if geo.is_pointwise() {
                        let x = Mat::row_major(src, mg, p);
                        matmul(out, p, wt, x, true, Parallelism::None);
                        return;
                    }
                    for (y0, y1) in bands(geo.col[1], band_rows(geo, cb * taps)) {
                        let width = (y1 - y0) * cw;
                        let x = Mat::strided(&src[y0 * cw..], mg, width, p);
                        matmul(buf, width, wt, x, false, Parallelism::None);
                        col2im(geo, buf, channels, (y0, y1), out);
                    }
                },
            );
        });
}

/// `gW[group] = Σ_n col[n, group] · im2col(img[n, group])ᵀ`, the weight gradient of
/// both a convolution and a transposed convolution, laid out like the weight.
pub(crate) fn weight_grad(geo: &Geometry, img: &[f32], col: &[f32]) -> Vec<f32> {
    let cb = channel_block(geo.img_group_channels(), geo.groups);
    let pieces = geo.groups * geo.img_group_channels().div_ceil(cb.max(1));
    if pieces < PIECES_PER_THREAD * rayon::current_num_threads() {
        weight_grad_by_bands(geo, img, col)
    } else {
        weight_grad_by_channels(geo, img, col)
    }
}

/// [`weight_grad`] split over images and bands of rows: each rayon task sums its
/// pieces into a whole weight-shaped accumulator, and the accumulators are added.
/// The split for few image channels (the stem has three), where splitting by
/// channel leaves threads idle: the stem's gradient at the demo's size went from
/// 8.4 to 5.9 ms (`layer_timings`). With more channels the channel split is faster.
fn weight_grad_by_bands(geo: &Geometry, img: &[f32], col: &[f32]) -> Vec<f32> {
    let (g, icg, mg, k, p, cw, plane) = sizes(geo);
    let rows = if geo.is_pointwise() {
        geo.col[1].max(1)
    } else {
        band_rows(geo, k)
    };
    let per_unit = geo.col[1].div_ceil(rows).max(1);
    let units = geo.batch * g;
    let add_piece = |buf: &mut [f32], acc: &mut [GradBlock], piece: usize| {
        let (unit, band) = (piece / per_unit, piece % per_unit);
        let (y0, y1) = (band * rows, ((band + 1) * rows).min(geo.col[1]));
        let width = (y1 - y0) * cw;
        let grp = unit % g;
        let src = &img[unit * icg * plane..(unit + 1) * icg * plane];
        let grad_col = &col[unit * mg * p..(unit + 1) * mg * p];
        let lhs = Mat::strided(&grad_col[y0 * cw..], mg, width, p);
        let lowered = if geo.is_pointwise() {
            Mat::strided(&src[y0 * cw..], k, width, p)
        } else {
            let stride = column_read_stride(width);
            im2col_strided(geo, src, icg, (y0, y1), buf, stride);
            Mat::strided(&buf[..k * stride], k, width, stride)
        };
        acc[grp].add_product(lhs, lowered);
    };
    // A fixed number of partial sums, added in order: the gradient does not depend
    // on how rayon happens to split the work, so a seeded run repeats exactly.
    let pieces = units * per_unit;
    let partials = pieces.min(PARTIAL_SUMS);
    let zeros = || -> Vec<GradBlock> { (0..g).map(|_| GradBlock::zeros(mg, k)).collect() };
    let sums: Vec<Vec<GradBlock>> = (0..partials)
        .into_par_iter()
        .map(|i| {
            let mut buf = lowered_buffer(geo, k);
            let mut acc = zeros();
            for piece in i * pieces / partials..(i + 1) * pieces / partials {
                add_piece(&mut buf, &mut acc, piece);
            }
            acc
        })
        .collect();
    let total = sums
        .into_iter()
        .reduce(|mut a, b| {
            a.iter_mut().zip(&b).for_each(|(a, b)| a.add(b));
            a
        })
        .unwrap_or_else(zeros);
    let mut grad = vec![0.0; g * mg * k];
    for (grp, block) in total.iter().enumerate() {
        block.copy_into(&mut grad[grp * mg * k..], k, 0);
    }
    grad
}

/// [`weight_grad`] split over blocks of image channels: each piece owns its
/// columns of the result, so nothing is summed twice.
fn weight_grad_by_channels(geo: &Geometry, img: &[f32], col: &[f32]) -> Vec<f32> {
    let (g, icg, mg, k, p, cw, plane) = sizes(geo);
    let taps = geo.kernel[0] * geo.kernel[1];
    let cb = channel_block(icg, g);
    let blocks = icg.div_ceil(cb);
    // Each piece owns the columns of one block of image channels in one group.
    let pieces: Vec<GradBlock> = (0..g * blocks)
        .into_par_iter()
        .map_init(
            || lowered_buffer(geo, cb * taps),
            |buf, piece| {
                let (grp, c0) = (piece / blocks, (piece % blocks) * cb);
                let channels = cb.min(icg - c0);
                let kb = channels * taps;
                let mut acc = GradBlock::zeros(mg, kb);
                for n in 0..geo.batch {
                    let unit = n * g + grp;
                    let first = (unit * icg + c0) * plane;
                    let src = &img[first..first + channels * plane];
                    let grad_col = &col[unit * mg * p..(unit + 1) * mg * p];
                    if geo.is_pointwise() {
                        let lhs = Mat::row_major(grad_col, mg, p);
                        acc.add_product(lhs, Mat::row_major(src, channels, p));
                        continue;
                    }
                    for (y0, y1) in bands(geo.col[1], band_rows(geo, cb * taps)) {
                        let width = (y1 - y0) * cw;
                        let stride = column_read_stride(width);
                        im2col_strided(geo, src, channels, (y0, y1), buf, stride);
                        let lhs = Mat::strided(&grad_col[y0 * cw..], mg, width, p);
                        let lowered = Mat::strided(&buf[..kb * stride], kb, width, stride);
                        acc.add_product(lhs, lowered);
                    }
                }
                acc
            },
        )
        .collect();
    let mut grad = vec![0.0; geo.col[0] * k];
    for (piece, acc) in pieces.iter().enumerate() {
        let (grp, c0) = (piece / blocks, (piece % blocks) * cb);
        acc.copy_into(&mut grad[grp * mg * k..], k, c0 * taps);
    }
    grad
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

    /// The tests here run one at a time: one of them shrinks the global band size,
    /// and a kernel that read it once for its buffer and again for its bands
    /// would then overrun the buffer (seen in CI as a rare panic).
    static BAND_SETTING: std::sync::Mutex<()> = std::sync::Mutex::new(());

    fn serial() -> std::sync::MutexGuard<'static, ()> {
        BAND_SETTING.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Both ways of splitting the weight gradient give the reference's, with
    /// groups, stride, dilation and a 1×1 kernel.
    #[test]
    fn both_weight_gradient_splits_match_reference() {
        let _one_at_a_time = serial();
        let cases = [
            ((2, 4, 11, 9), (6, 2, 3, 2), [2, 1], [1, 1], [1, 2], 2),
            ((3, 3, 16, 12), (8, 3, 7, 7), [2, 2], [3, 3], [1, 1], 1),
            ((2, 6, 8, 8), (4, 6, 1, 1), [1, 1], [0, 0], [1, 1], 1),
            ((2, 6, 9, 8), (4, 6, 1, 1), [2, 2], [0, 0], [1, 1], 1),
        ];
        for (i, (xd, wd, stride, padding, dilation, groups)) in cases.into_iter().enumerate() {
            let p = Conv2dParams {
                stride,
                padding,
                dilation,
                groups,
            };
            let x = ramp(xd, 0.37);
            let w = ramp(wd, 0.91);
            let y = reference::conv2d(x.view(), w.view(), None, &p).unwrap();
            let gy = ramp(y.dim(), 0.53);
            let want = reference::conv2d_backward(x.view(), w.view(), gy.view(), false, &p)
                .unwrap()
                .weight;
            let geo = Geometry::conv2d(xd, wd, None, &p).unwrap();
            let (xs, gs) = (x.as_slice().unwrap(), gy.as_slice().unwrap());
            for (how, got) in [
                ("bands", weight_grad_by_bands(&geo, xs, gs)),
                ("channels", weight_grad_by_channels(&geo, xs, gs)),
            ] {
                let got = Array4::from_shape_vec(wd, got).unwrap();
                assert!(max_err(&got, &want) < 1e-3, "case {i} by {how}");
            }
        }
    }

    /// On 1 to 5 threads, one image's stride-2 layers split into spans and blocks of
    /// output channels that cover every output exactly once: the results match the
    /// reference, and the spans are disjoint, whole granules and no wider than
    /// [`CorrelateSplit::widest`].
    #[test]
    fn correlate_split_covers_every_output_once() {
        let _one_at_a_time = serial();
        let cases = [((1, 16, 21, 31), 96, 3), ((1, 24, 19, 29), 128, 1)];
        for threads in 1..=5 {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            for (xd, m, kk) in cases {
                let p = Conv2dParams {
                    stride: [2, 2],
                    padding: [kk / 2, kk / 2],
                    dilation: [1, 1],
                    groups: 1,
                };
                let x = ramp(xd, 0.37);
                let w = ramp((m, xd.1, kk, kk), 0.91);
                let geo = Geometry::conv2d(xd, w.dim(), None, &p).unwrap();
                let fast = pool.install(|| {
                    let split = CorrelateSplit::new(&geo, geo.lowered_rows());
                    let plane = geo.col_plane();
                    let mut next = 0;
                    for band in 0..split.spans {
                        let (c0, c1) = split.columns(band, plane);
                        assert_eq!(c0, next, "{threads} threads, {xd:?}");
                        assert!(c1 - c0 <= split.widest() && c0 % split.granule == 0);
                        next = c1;
                    }
                    assert_eq!(next, plane);
                    assert!(split.block * split.blocks >= m);
                    crate::conv2d(x.view(), w.view(), None, &p).unwrap()
                });
                let slow = reference::conv2d(x.view(), w.view(), None, &p).unwrap();
                assert!(max_err(&fast, &slow) < 1e-4, "{threads} threads, {xd:?}");
            }
        }
    }

    /// With a band of a few rows, every product is built from several bands; the
    /// results must not change.
    #[test]
    fn banded_lowering_matches_reference() {
        let _one_at_a_time = serial();
        /// Puts the band size back when the test ends, passed or failed.
        struct Restore(usize);
        impl Drop for Restore {
            fn drop(&mut self) {
                BAND_ELEMENTS.store(self.0, Ordering::Relaxed);
            }
        }
        let _restore = Restore(BAND_ELEMENTS.swap(40, Ordering::Relaxed));
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
    }
}
