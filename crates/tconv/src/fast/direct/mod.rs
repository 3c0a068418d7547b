//! Direct convolution for layers with few image channels, such as ResNet's stem (3
//! channels, 7×7, stride 2). Lowering such a layer writes every input pixel
//! `kH·kW / stride²` times (a 147-row, 22 MB im2col matrix for one 320×480 image)
//! for a product with only 147 terms per output; here the outputs are summed in
//! registers straight from the image.
//!
//! Each image is first copied once into zero-padded rows split by column phase
//! ([`prepared::Taps`]): with stride `s`, the input column of output `ox` under tap `e` is
//! `s·(ox + e / s) + e % s`, so in the row of phase `e % s` a tap reads consecutive
//! outputs' inputs from consecutive elements, and a vector load serves
//! [`vector::Vector::LANES`] outputs at once. The kernel then keeps a block of output channels
//! times a run of output columns in registers while it walks the taps.

mod kernel;
mod prepared;
mod vector;

use rayon::prelude::*;

use super::lowered::SharedOut;
use super::scratch::Scratch;
use crate::kernels::simd;
use crate::shape::Geometry;
use kernel::{Block, RowJob};
use prepared::Taps;

/// Image channels up to which the direct form is taken (the stem has 3).
const MAX_CHANNELS: usize = 4;

/// Taps per channel from which it pays: the lowered matrix of a 3×3 kernel is
/// small enough that gemm's blocking wins.
const MIN_TAPS: usize = 25;

/// Whether [`correlate`] takes this convolution: one group, no dilation, stride 1
/// or 2 (the same both ways), few image channels and a large kernel.
pub(crate) fn applies(geo: &Geometry) -> bool {
    let [s, t] = geo.stride;
    geo.groups == 1
        && geo.dilation == [1, 1]
        && s == t
        && (1..=2).contains(&s)
        && (1..=MAX_CHANNELS).contains(&geo.img[0])
        && geo.kernel[0] * geo.kernel[1] >= MIN_TAPS
        && geo.col[1] * geo.col[2] > 0
}

/// `col = W · im2col(img)` for every image, as [`super::lowered::correlate`]
/// computes it: `img` is `[N, C, H, W]`, `weight` `[M, C, kH, kW]`, `col` `[N, M,
/// H', W']`, all dense.
pub(crate) fn correlate(geo: &Geometry, img: &[f32], weight: &[f32], col: &mut [f32]) {
    assert_eq!(
        col.len(),
        geo.batch * geo.col[0] * geo.col_plane(),
        "column side size"
    );
    run(geo, img, weight, SharedOut(col.as_mut_ptr()));
}

/// [`correlate`] into a fresh output, which it writes without zeroing it first
/// (that `memset` was 5 % of the stem's time).
pub(crate) fn forward(geo: &Geometry, img: &[f32], weight: &[f32]) -> Vec<f32> {
    let len = geo.batch * geo.col[0] * geo.col_plane();
    let mut col = Vec::with_capacity(len);
    run(geo, img, weight, SharedOut(col.as_mut_ptr()));
    // SAFETY: `run` wrote every output channel's every row and column: all `len`.
    unsafe { col.set_len(len) };
    col
}

/// The whole convolution, one output row of one image per task, into `out`: the
/// start of `[N, M, H', W']` floats, every one of which it writes.
fn run(geo: &Geometry, img: &[f32], weight: &[f32], out: SharedOut) {
    let kernel = kernel::for_path(simd::path());
    let [m, oh, ow] = geo.col;
    let taps = Taps::new(geo, kernel.width);
    let packed = pack_weights(weight, m, taps.offsets.len(), kernel.channels);
    let plane = geo.img[0] * geo.img[1] * geo.img[2];
    let mut prepared = Scratch::take(taps.prepared_len());
    for (n, image) in img.chunks_exact(plane.max(1)).enumerate() {
        taps.prepare(geo, image, &mut prepared);
        let prepared = &prepared[..];
        (0..oh).into_par_iter().for_each(|oy| {
            let job = RowJob {
                taps: &taps.offsets,
                src: &prepared[oy * geo.stride[0] * taps.row_len..],
                width: ow,
                // SAFETY: output row `oy` of image `n`, channel 0; each channel's row
                // is `oh·ow` further on. Rows of different `oy` are disjoint.
                out: unsafe { out.get().add(n * m * oh * ow + oy * ow) },
                channel_stride: oh * ow,
            };
            // SAFETY: `path` never exceeds what the CPU supports; `taps` sized
            // `prepared` for every load of a block of `kernel.width` columns, and `out`
            // holds the whole output (the callers' guarantee).
            unsafe { (kernel.row)(&job, &packed) };
        });
    }
}

/// Weights regrouped so that a block's `mb` values of one tap are adjacent:
/// `[M / mb][taps][mb]`, then the remaining channels one by one, `[taps]` each.
fn pack_weights(weight: &[f32], m: usize, taps: usize, mb: usize) -> Block {
    let full = m / mb;
    let mut packed = Vec::with_capacity(m * taps);
    for b in 0..full {
        for t in 0..taps {
            packed.extend((0..mb).map(|i| weight[(b * mb + i) * taps + t]));
        }
    }
    packed.extend_from_slice(&weight[full * mb * taps..m * taps]);
    Block {
        weights: packed,
        full_blocks: full,
    }
}
