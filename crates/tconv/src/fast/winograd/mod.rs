//! Winograd's minimal filtering for 3×3 convolutions of stride 1 and one group,
//! dilated or not: F(4×4, 3×3) computes each 4×4 block of outputs (a tile) from the
//! 6×6 input patch under it with 36 multiplications per channel pair instead of
//! 144; F(2×2, 3×3) each 2×2 block from a 4×4 patch with 16 instead of 36.
//!
//! Threads take pieces of tiles (times blocks of output channels). A piece
//! transforms its input patches (`V = Bᵀ·d·B`, one plane per patch element, each
//! `channels × tiles`), multiplies each plane by the transformed filters (`U =
//! G·g·Gᵀ`, `out_channels × channels`) in one matrix product, and transforms the
//! products back (`Y = Aᵀ·M·A`) into its tiles of the output. The transforms run on
//! many tiles at once ([`transform::Tile`]): the input's on each run of tiles along
//! a tile row, reading the rows they share in place; the output's on all the
//! piece's tiles down the columns, then row by row into the output.

mod kept;
mod sample;
mod tiles;
mod transform;
pub(crate) mod upsample2;

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use rayon::prelude::*;

use super::gemm::{Mat, Parallelism, matmul};
use super::lowered::SharedOut;
use crate::shape::Geometry;
use tiles::{RunScratch, TileRange, transform_patches, write_tiles};
pub use transform::Tile;

/// One convolution: `[batch, channels, height, width]` images and
/// `[out_channels, channels, 3, 3]` filters, dilated by `dilation`, to `[batch,
/// out_channels, height + 2·pad − 2·dilation, width + 2·pad − 2·dilation]` outputs.
///
/// A dilated convolution is `dilation²` undilated ones: the outputs whose row and
/// column leave remainders `(ry, rx)` modulo the dilation read only inputs with the
/// same remainders (shifted by the padding), so each such phase is tiled on its own
/// grid, every step of which is `dilation` pixels apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Conv3x3 {
    pub batch: usize,
    pub channels: usize,
    pub height: usize,
    pub width: usize,
    pub out_channels: usize,
    pub pad: [usize; 2],
    pub dilation: usize,
    pub tile: Tile,
    /// The outputs are the four phases of a ×2 upsampling ([`upsample2`]): channel
    /// `4·co + 2·ry + rx`, row `y`, column `x` is added to channel `co`, row `2y +
    /// ry`, column `2x + rx` of an output twice as high and wide.
    pub interleaved: bool,
}

impl Conv3x3 {
    /// The forward pass of `geo`, when Winograd can compute it.
    pub fn forward(geo: &Geometry) -> Option<Self> {
        let d = geo.dilation[0];
        let fits = !geo.transposed
            && geo.kernel == [3, 3]
            && geo.stride == [1, 1]
            && geo.dilation == [d, d]
            && geo.groups == 1
            && geo.padding[0] <= 2 * d
            && geo.padding[1] <= 2 * d;
        fits.then_some(Self {
            batch: geo.batch,
            channels: geo.img[0],
            height: geo.img[1],
            width: geo.img[2],
            out_channels: geo.col[0],
            pad: geo.padding,
            dilation: d,
            tile: Tile::F4,
            interleaved: false,
        })
    }

    /// The convolution giving `geo`'s input gradient from its output gradient: the
    /// same 3×3 filters flipped and with the channels swapped, padding
    /// `2·dilation − pad`.
    pub fn input_grad(geo: &Geometry) -> Option<Self> {
        let fwd = Self::forward(geo)?;
        let d2 = 2 * fwd.dilation;
        Some(Self {
            batch: fwd.batch,
            channels: fwd.out_channels,
            height: geo.col[1],
            width: geo.col[2],
            out_channels: fwd.channels,
            pad: [d2 - fwd.pad[0], d2 - fwd.pad[1]],
            ..fwd
        })
    }

    pub fn out_size(&self) -> [usize; 2] {
        let span = 2 * self.dilation;
        [
            self.height + 2 * self.pad[0] - span,
            self.width + 2 * self.pad[1] - span,
        ]
    }

    /// Tiles down and across one phase of one image (phases whose last row or
    /// column falls outside the output write less of their last tiles).
    fn tile_grid(&self) -> [usize; 2] {
        let phase = self.out_size().map(|s| s.div_ceil(self.dilation));
        phase.map(|s| s.div_ceil(self.tile.out_side()))
    }

    /// Tiles of every phase of every image.
    fn tiles(&self) -> usize {
        let [ty, tx] = self.tile_grid();
        self.batch * self.dilation * self.dilation * ty * tx
    }
}

/// How 3×3 convolutions of stride 1 are computed: the measured choice, or one way
/// forced (to time or test each). `FCN_CONV3X3=auto|f4|f2|gemm` sets the start value
/// (`winograd` is `f4`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conv3x3Path {
    /// Winograd where it is faster (forward passes and input gradients), im2col +
    /// gemm elsewhere.
    Auto,
    /// F(4×4, 3×3) for every convolution it can compute.
    F4,
    /// F(2×2, 3×3) for every convolution it can compute.
    F2,
    /// im2col + gemm always.
    Gemm,
}

const PATHS: [Conv3x3Path; 4] = [
    Conv3x3Path::Auto,
    Conv3x3Path::F4,
    Conv3x3Path::F2,
    Conv3x3Path::Gemm,
];

static PATH: AtomicU8 = AtomicU8::new(u8::MAX);

/// Sets the path for the whole process.
pub fn set_conv3x3_path(path: Conv3x3Path) {
    PATH.store(path as u8, Ordering::Relaxed);
}

/// The path in use (`FCN_CONV3X3`'s choice until [`set_conv3x3_path`]).
pub fn conv3x3_path() -> Conv3x3Path {
    let code = PATH.load(Ordering::Relaxed);
    if let Some(path) = PATHS.get(code as usize) {
        return *path;
    }
    let path = match std::env::var("FCN_CONV3X3").as_deref() {
        Ok("f4" | "winograd") => Conv3x3Path::F4,
        Ok("f2") => Conv3x3Path::F2,
        Ok("gemm") => Conv3x3Path::Gemm,
        _ => Conv3x3Path::Auto,
    };
    set_conv3x3_path(path);
    path
}

/// `p` with the tile the path in use computes it by, or `None` for im2col + gemm;
/// `kept` says whether its transformed filters can be kept across calls
/// ([`Filters::Kept`]).
///
/// The automatic choice takes Winograd wherever [`pays`] says it is faster: in
/// inference, in training's forward pass and in its input gradients. Its rounding,
/// about 1e-5 of the output's scale for F(4×4, 3×3) and as small as the direct sum's
/// for F(2×2, 3×3) (`cargo run --release -p tconv --example winograd_error`), moves
/// the PyTorch training-step goldens by at most 1.1e-5 of their scale with either
/// tile forced everywhere, except two stem gradients: the textbook FCN's (3.6e-4 with
/// F(4×4)) and the shared FCN-8s set's, which sits where the loss is not smooth:
/// scaling that input by 1 + 1e-7 moves it by 1.6e-3 with im2col + gemm alone (see
/// `crates/fcn/tests/skip.rs`).
pub(crate) fn plan(p: Conv3x3, kept: Option<Kept>) -> Option<Conv3x3> {
    let tile = match conv3x3_path() {
        Conv3x3Path::Auto => pays(&p, kept)?,
        Conv3x3Path::F4 => Tile::F4,
        Conv3x3Path::F2 => Tile::F2,
        Conv3x3Path::Gemm => return None,
    };
    Some(Conv3x3 { tile, ..p })
}

/// Which tile beats im2col + gemm, if one does: from `cargo run --release -p tconv
/// --example conv3x3_table` on a 2-core AMD EPYC (README). F(4×4, 3×3) with 64
/// channels or more both ways and at least 128 of its tiles (ResNet-18's layer1 and
/// layer2 at 320×480, layer1–3 in batches, fcn_resnet50's dilated layers at 520×520;
/// layer2 of one image, 150 tiles, ran 2.71 against 2.82 ms with F(2×2, 3×3) on the
/// AVX-512 machine and 4.68 against 5.81 on an AVX2 Zen 3); else
/// F(2×2, 3×3), whose filters transform into 16 planes instead of 36, with 32
/// channels or more and at least 128 of its tiles, 8 or more across (layer2 and
/// layer3 of one image, layer4 in batches). Fewer channels leave the transforms a
/// larger share than the products save; fewer tiles leave too few columns to
/// amortise the transformed filters, and short rows of them short vectors for the
/// transforms (8×12 images in batches of 8 ran 0.75× as fast as im2col + gemm).
///
/// Filters transformed once and kept make F(2×2, 3×3) pay with fewer tiles: with 256
/// channels or more and at least 32 tiles (ResNet-18's layer4 of one 320×480 image,
/// 40 tiles, 512 channels: 4.4 ms with im2col + gemm, 5.6 ms with F(2×2, 3×3)
/// transforming its 512² filters on each call, 2.7 of them in the transform), and
/// F(4×4, 3×3) with 128 channels or more and at least 24 of its tiles: with kept
/// filters on the AVX2 Zen 3 (`--example conv3x3_kept`, medians of 10 rounds),
/// layer3 of one 320×480 image (40 tiles) ran 3.5–3.8 ms against 3.9–4.8 with
/// F(2×2, 3×3), layer4 of eight (96 tiles) 27.1 against 39.5, and 16×24 planes of
/// 256 channels (24 tiles) 2.5 against 2.9; layer4 of one image (12 tiles) 6.2
/// against 4.9, so it keeps F(2×2, 3×3).
fn pays(p: &Conv3x3, kept: Option<Kept>) -> Option<Tile> {
    let tiles = |tile| Conv3x3 { tile, ..*p }.tiles();
    let across = |tile| Conv3x3 { tile, ..*p }.tile_grid()[1];
    let channels_at_least = |c: usize| p.channels >= c && p.out_channels >= c;
    let f2 = tiles(Tile::F2);
    let f2_pays = channels_at_least(32) && f2 >= 128 && across(Tile::F2) >= 8;
    let f2_kept_pays =
        kept.is_some() && channels_at_least(256) && (32..KEEP_BELOW_TILES).contains(&f2);
    let as_f4 = Conv3x3 {
        tile: Tile::F4,
        ..*p
    };
    let f4 = as_f4.tiles();
    // Only where they will be kept: transformed on every call, F(4×4)'s 36 planes
    // cost more than F(2×2)'s 16 (a ResNet-101's layer3 would fill the store).
    let f4_kept_pays = channels_at_least(128)
        && (24..KEEP_BELOW_TILES).contains(&f4)
        && kept.is_some_and(|(owner, weight)| kept::holds_or_fits(owner, weight, &as_f4));
    if (channels_at_least(64) && f4 >= 128) || f4_kept_pays {
        Some(Tile::F4)
    } else if f2_pays || f2_kept_pays {
        Some(Tile::F2)
    } else {
        None
    }
}

/// `out = conv(img, filters of weight)` for `p` (dense NCHW arrays; no bias).
pub(crate) fn conv(p: &Conv3x3, img: &[f32], weight: &[f32], filters: Filters, out: &mut [f32]) {
    let [oh, ow] = p.out_size();
    assert_eq!(img.len(), p.batch * p.channels * p.height * p.width);
    let taps = if matches!(filters, Filters::Upsample2) {
        4
    } else {
        9
    };
    assert_eq!(weight.len(), p.out_channels * p.channels * taps);
    assert_eq!(out.len(), p.batch * p.out_channels * oh * ow);
    let u = match filters {
        Filters::Kept(owner) if p.tiles() < KEEP_BELOW_TILES => {
            kept::filters(owner, weight, p, || transform_filters(p, weight, filters))
        }
        _ => Arc::new(transform_filters(p, weight, filters)),
    };
    let n = lanes_per_piece(p);
    let tile_pieces = p.tiles().div_ceil(n);
    let block = out_block(p, tile_pieces);
    let out_pieces = p.out_channels.div_ceil(block);
    let dst = SharedOut(out.as_mut_ptr());
    (0..tile_pieces * out_pieces).into_par_iter().for_each_init(
        || Scratch::new(p, n, block),
        |s, piece| {
            let (tp, op) = (piece / out_pieces, piece % out_pieces);
            let first = tp * n;
            let tiles = TileRange::new(p, first, (first + n).min(p.tiles()));
            let outs = op * block..((op + 1) * block).min(p.out_channels);
            // The transforms read short rows and strided windows: compiled for
            // AVX-512 (through `simd::wide`) they measured slower than the
            // baseline's SSE2 (3.0–3.6 against 2.7 ms for layer1's shape,
            // 2026-12-03); for AVX2, faster (fcn_infer_b1 1.03×, fcn_infer_b8 1.08×
            // on a Zen 3 EPYC, 2026-12-07).
            crate::kernels::simd::wide_avx2(
                #[inline(always)]
                || {
                    if s.transformed != Some(tp) {
                        transform_inputs(p, img, &tiles, s);
                        s.transformed = Some(tp);
                    }
                    multiply_and_write(p, &u, &tiles, outs, s, dst)
                },
            )
        },
    );
}

/// Output channels per piece: all of them, unless there are too few tiles to give
/// every thread work; then blocks of at least 16 channels.
fn out_block(p: &Conv3x3, tile_pieces: usize) -> usize {
    let wanted = 4 * rayon::current_num_threads();
    let blocks = wanted.div_ceil(tile_pieces.max(1));
    p.out_channels.div_ceil(blocks).max(16).min(p.out_channels)
}

/// Tiles per piece: a multiple of 16 (one AVX-512 vector) that keeps a piece's
/// transformed inputs and products near 2 MiB, with enough pieces for every thread.
///
/// The tiles are the products' rows as gemm sees them (it swaps the operands of a
/// row-major product), so with many channels the size rule gives way to gemm's
/// widest microkernel: 16 tiles left it the 16 × 6 kernel for fcn_resnet50's
/// dilated 256- and 512-channel layers, where 64 gives it the 64 × 6 one
/// (tv_fcn50_infer_b1 1.30× faster, fcn_infer_b1 1.09×, on the AVX-512 path).
fn lanes_per_piece(p: &Conv3x3) -> usize {
    let per_lane = p.tile.planes() * (p.channels + p.out_channels);
    let by_size = ((1usize << 19) / per_lane.max(1)).clamp(gemm_rows(), 256);
    let wanted = 4 * rayon::current_num_threads();
    let by_threads = p.tiles().div_ceil(wanted).next_multiple_of(16);
    by_size.min(by_threads).max(16) / 16 * 16
}

/// Rows of gemm's widest microkernel on the SIMD path in use: four AVX-512
/// vectors, or two AVX2 ones.
fn gemm_rows() -> usize {
    match crate::kernels::simd::path() {
        crate::kernels::simd::Path::Avx512 => 64,
        _ => 16,
    }
}

/// A weight whose transformed filters may be kept, and its owner ([`Filters::Kept`]).
pub(crate) type Kept<'a> = (&'a crate::WeightOwner, &'a [f32]);

/// Where filter `(m, c)` of a convolution lies in the weight it is taken from: the
/// weight as it is, or flipped with its channels swapped (the input gradient's); or
/// as it is, in a weight that cannot change while its owner lives, so that its
/// transformed filters can be kept for the next call; or phase `(ry, rx)` of output
/// channel `co` of a ×2 decoder layer's 4×4 weight, for `m = 4·co + 2·ry + rx`
/// ([`upsample2`]).
#[derive(Clone, Copy)]
pub(crate) enum Filters<'a> {
    AsIs,
    Flipped,
    Kept(&'a crate::WeightOwner),
    Upsample2,
}

/// Tiles below which a convolution keeps its transformed filters: with more, the
/// transform is a small share of the work (fcn_resnet50's 65×65 layers have 289 per
/// image) and keeping them would only hold memory.
const KEEP_BELOW_TILES: usize = 256;

/// `U[m][q][c]` with `q = 6ν + ξ`: filter `(m, c)` of `p` transformed,
/// `(G·g·Gᵀ)[ξ][ν]`, in parallel over output channels.
fn transform_filters(p: &Conv3x3, weight: &[f32], filters: Filters) -> Vec<f32> {
    let (m, c) = (p.out_channels, p.channels);
    let planes = p.tile.planes();
    let mut u = vec![0.0; m * planes * c];
    u.par_chunks_mut(planes * c).enumerate().for_each_init(
        || vec![0.0; (9 + 3 * p.tile.in_side()) * c],
        |buf, (o, out)| {
            let (taps, half) = buf.split_at_mut(9 * c);
            for (k, row) in taps.chunks_exact_mut(c).enumerate() {
                gather_taps(weight, filters, (m, c), (o, k), row);
            }
            p.tile.filter(taps, half, out, c)
        },
    );
    u
}

/// `row[ch]`: tap `k` of filter `(o, ch)` for every input channel `ch`.
#[inline(always)]
fn gather_taps(
    weight: &[f32],
    filters: Filters,
    (m, c): (usize, usize),
    (o, k): (usize, usize),
    row: &mut [f32],
) {
    match filters {
        Filters::AsIs | Filters::Kept(_) => {
            for (ch, t) in row.iter_mut().enumerate() {
                *t = weight[(o * c + ch) * 9 + k];
            }
        }
        Filters::Flipped => {
            for (ch, t) in row.iter_mut().enumerate() {
                *t = weight[(ch * m + o) * 9 + 8 - k];
            }
        }
        Filters::Upsample2 => match upsample2::tap(o, k) {
            Some(tap) => {
                for (ch, t) in row.iter_mut().enumerate() {
                    *t = weight[(ch * (m / 4) + o / 4) * 16 + tap];
                }
            }
            None => row.fill(0.0),
        },
    }
}

/// A thread's buffers, reused across its pieces.
struct Scratch {
    b: Buffers,
    /// A row of padding for [`RunScratch`].
    zeros: Vec<f32>,
    /// The block of tiles whose transformed inputs `b.v` holds.
    transformed: Option<usize>,
}

/// The buffers a thread's pieces overwrite before they read them, kept for its
/// next convolution: zeroing fresh ones took about 4 % of the forward pass of
/// ResNet-18's layer1 at 320×480.
#[derive(Default)]
struct Buffers {
    /// A dilated run's input rows side by side, and a run's rows transformed down
    /// the columns.
    lines: Vec<f32>,
    cols: Vec<f32>,
    v: Vec<f32>,
    prod: Vec<f32>,
    half: Vec<f32>,
    /// One row of a dilated run's outputs.
    line: Vec<f32>,
}

thread_local! {
    static SPARE: std::cell::Cell<Buffers> = std::cell::Cell::default();
}

impl Scratch {
    fn new(p: &Conv3x3, n: usize, out_block: usize) -> Self {
        let (side, planes) = (p.tile.in_side(), p.tile.planes());
        let width = p.tile.out_side() * n + side - p.tile.out_side();
        let mut b = SPARE.take();
        b.lines.resize(side * width, 0.0);
        b.cols.resize((side + 1) * width + p.tile.out_side(), 0.0);
        b.v.resize(p.channels * planes * n, 0.0);
        b.prod.resize(out_block * planes * n, 0.0);
        b.half.resize(planes * n, 0.0);
        b.line.resize(p.tile.out_side() * n, 0.0);
        Self {
            b,
            zeros: vec![0.0; width],
            transformed: None,
        }
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        SPARE.set(std::mem::take(&mut self.b));
    }
}

/// `s.v[c][6ν + ξ]`: every channel's patches of `tiles`, transformed.
#[inline(always)]
fn transform_inputs(p: &Conv3x3, img: &[f32], tiles: &TileRange, s: &mut Scratch) {
    let per_channel = p.tile.planes() * tiles.len;
    let b = &mut s.b;
    for c in 0..p.channels {
        let v = &mut b.v[c * per_channel..][..per_channel];
        let run = RunScratch {
            zeros: &s.zeros,
            lines: &mut b.lines,
            cols: &mut b.cols,
        };
        transform_patches(p, (img, c), tiles, run, v);
    }
}

/// The 36 products for output channels `outs`, transformed back into the output.
#[inline(always)]
fn multiply_and_write(
    p: &Conv3x3,
    u: &[f32],
    tiles: &TileRange,
    outs: std::ops::Range<usize>,
    s: &mut Scratch,
    out: SharedOut,
) {
    let (n, c, m, planes) = (tiles.len, p.channels, outs.len(), p.tile.planes());
    let s = &mut s.b;
    for q in 0..planes {
        let a = Mat::strided(&u[(outs.start * planes + q) * c..], m, c, planes * c);
        let b = Mat::strided(&s.v[q * n..], c, n, planes * n);
        let dst = &mut s.prod[q * n..];
        matmul(dst, planes * n, a, b, false, Parallelism::None);
    }
    for (k, o) in outs.enumerate() {
        let prod = &s.prod[k * planes * n..][..planes * n];
        p.tile.output_columns(prod, &mut s.half, n);
        write_tiles(p, o, &s.half, tiles, &mut s.line, out);
    }
}

#[cfg(test)]
mod tests;
