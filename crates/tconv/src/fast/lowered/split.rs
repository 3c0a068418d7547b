//! How [`super::correlate`] splits its work into pieces for the threads.

use super::{PIECES_PER_THREAD, band_rows};
use crate::shape::Geometry;

/// The product's column tile: `gemm`'s AVX-512 kernel takes 64 columns (output
/// pixels) at a time, and a piece narrower than that, or a few past a multiple of
/// it, runs its remainder on a kernel a quarter as fast.
const GEMM_TILE: usize = 64;

/// Fewest output channels in a block of [`super::correlate`]'s pieces.
const MIN_CHANNEL_BLOCK: usize = 32;

/// How [`super::correlate`] cuts each image and group's product into pieces: spans of
/// output columns split evenly from whole granules (output rows for a lowered
/// product, at most a band's; gemm tiles for a pointwise one, which needs no
/// lowering), as many as give every thread an equal count of pieces (or at least
/// [`PIECES_PER_THREAD`]), and blocks of output channels only where the spans cannot.
/// ResNet-18's layer3 stride-2 3×3 of one 320×480 image made 3 spans before, 2 on one
/// thread and 1 on the other; 4 spans took it from 4.9 to 4.1 ms (medians of 16,
/// alternated in one process, 2-core AVX2 Zen 3), and channel blocks took the
/// stride-2 1×1 layers of one image from 0.86–0.99 to 0.57–0.60 ms.
pub(super) struct CorrelateSplit {
    pub(super) granule: usize,
    pub(super) granules: usize,
    pub(super) spans: usize,
    pub(super) block: usize,
    pub(super) blocks: usize,
}

impl CorrelateSplit {
    pub(super) fn new(geo: &Geometry, k: usize) -> Self {
        let threads = rayon::current_num_threads();
        let wanted = PIECES_PER_THREAD * threads;
        let units = (geo.batch * geo.groups).max(1);
        let p = geo.col_plane();
        let (granule, granules, fewest) = if geo.is_pointwise() {
            let tiles = p.div_ceil(GEMM_TILE);
            (GEMM_TILE, tiles, tiles.min(wanted.div_ceil(units)))
        } else {
            let rows = geo.col[1];
            (geo.col[2], rows, rows.div_ceil(band_rows(geo, k)))
        };
        let even = |n: usize| n >= wanted || n.is_multiple_of(threads);
        let mut spans = fewest.max(1);
        while !even(units * spans) && spans < granules {
            spans += 1;
        }
        // Blocks of output channels only where spans cannot even out the threads:
        // each block packs the lowered matrix again, which made ResNet-18's layer4
        // stride-2 3×3 of one image 20 % slower when split needlessly.
        let mg = geo.col_group_channels().max(1);
        let most = (mg / MIN_CHANNEL_BLOCK).max(1);
        let mut blocks = 1;
        while !even(units * spans * blocks) && blocks < most {
            blocks += 1;
        }
        let block = mg.div_ceil(blocks);
        Self {
            granule: granule.max(1),
            granules: granules.max(1),
            spans,
            block,
            blocks: mg.div_ceil(block),
        }
    }

    /// Output columns `c0 .. c1` of span `band` of a plane of `p`.
    pub(super) fn columns(&self, band: usize, p: usize) -> (usize, usize) {
        let edge = |i: usize| (i * self.granules / self.spans * self.granule).min(p);
        (edge(band), edge(band + 1))
    }

    /// Columns of the widest span.
    pub(super) fn widest(&self) -> usize {
        self.granules.div_ceil(self.spans) * self.granule
    }
}
