//! The transposed convolution of kernel 4, stride 2, padding 1 (the ×2 decoder
//! layer) as one 3×3 convolution of stride 1, so that Winograd's F(4×4, 3×3)
//! computes it.
//!
//! Output row `2q + r` of such a layer reads input rows `q − 1 + k` through taps
//! `r + 3 − 2k` (`k = 0, 1, 2`; a tap outside `0..4` is absent): each output phase
//! `(ry, rx)` is a 3×3 convolution of the input, padding 1, whose filters are the
//! phase's four taps with zeros around them. Stacking the four phases of every output
//! channel as channels `4·co + 2·ry + rx` gives one convolution with four times the
//! output channels; its outputs, interleaved, are the layer's. Directly, each input
//! pixel costs 16 multiplications per channel pair; F(4×4, 3×3) costs 36 per 16
//! outputs of each of the four phases, 9 per pixel. Measured on `fcn bench`'s
//! `convT_decoder` (8 × 256 × 32 × 32 to 128 channels, 2 threads, AMD EPYC, a quiet
//! hour): 48 → 37–41 ms on the AVX-512 path, 55 → 40–42 ms on the AVX2 one, against
//! gemm + col2im.

use super::{Conv3x3, Conv3x3Path, Filters, Tile, conv, conv3x3_path};
use crate::shape::Geometry;

/// The 3×3 convolution computing `geo`'s scatter, when `geo` is such a layer and the
/// path in use takes Winograd for it. The automatic choice takes F(4×4, 3×3) only
/// where [`super::plan`]'s shape rule does: F(2×2, 3×3) would spend as many
/// multiplications as the direct form, on top of its transforms.
pub(crate) fn plan(geo: &Geometry) -> Option<Conv3x3> {
    let auto = conv3x3_path() == Conv3x3Path::Auto;
    super::plan(as_conv3x3(geo)?, None).filter(|w| !auto || w.tile == Tile::F4)
}

/// `geo` as the 3×3 convolution of its four phases, if it is a ×2 decoder layer.
pub(super) fn as_conv3x3(geo: &Geometry) -> Option<Conv3x3> {
    let fits = geo.kernel == [4, 4]
        && geo.stride == [2, 2]
        && geo.padding == [1, 1]
        && geo.dilation == [1, 1]
        && geo.groups == 1
        && geo.img[1] == 2 * geo.col[1]
        && geo.img[2] == 2 * geo.col[2];
    fits.then_some(Conv3x3 {
        batch: geo.batch,
        channels: geo.col[0],
        height: geo.col[1],
        width: geo.col[2],
        out_channels: 4 * geo.img[0],
        pad: [1, 1],
        dilation: 1,
        tile: Tile::F4,
        interleaved: true,
    })
}

/// `img += transposed convolution of col` for a layer [`plan`] accepted as `p`;
/// `weight` is the layer's, `[channels, out_channels / 4, 4, 4]`.
pub(crate) fn scatter(p: &Conv3x3, col: &[f32], weight: &[f32], img: &mut [f32]) {
    conv(p, col, weight, Filters::Upsample2, img);
}

/// Which of the 4×4 taps (`4·ty + tx`) phase `(ry, rx)` of output channel `o = 4·co +
/// 2·ry + rx` puts at place `k = 3·ky + kx` of its 3×3 filter; `None` for a zero.
pub(super) fn tap(o: usize, k: usize) -> Option<usize> {
    let side = |r: usize, k: usize| (r + 3).checked_sub(2 * k).filter(|&t| t < 4);
    Some(4 * side(o / 2 % 2, k / 3)? + side(o % 2, k % 3)?)
}
