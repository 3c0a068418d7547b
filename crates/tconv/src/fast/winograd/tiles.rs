//! Which tiles a piece owns, and moving their patches in and their outputs out.

use super::Conv3x3;
use crate::fast::lowered::SharedOut;

/// A piece's consecutive tiles, as runs that share one image and tile row.
pub(super) struct TileRange {
    runs: Vec<Run>,
    pub len: usize,
}

/// Tiles `tx0 .. tx0 + len` of tile row `ty` of phase `(ry, rx)` of image `image`,
/// lanes from `lane`.
struct Run {
    image: usize,
    ry: usize,
    rx: usize,
    ty: usize,
    tx0: usize,
    len: usize,
    lane: usize,
}

impl TileRange {
    /// Tiles `first .. end` of all images' phases' tiles, counted row by row.
    pub fn new(p: &Conv3x3, first: usize, end: usize) -> Self {
        let [rows, cols] = p.tile_grid();
        let d = p.dilation;
        let mut runs = Vec::new();
        let mut t = first;
        while t < end {
            let (phase, ty, tx0) = (t / (rows * cols), t / cols % rows, t % cols);
            let len = (cols - tx0).min(end - t);
            runs.push(Run {
                image: phase / (d * d),
                ry: phase / d % d,
                rx: phase % d,
                ty,
                tx0,
                len,
                lane: t - first,
            });
            t += len;
        }
        Self {
            runs,
            len: end - first,
        }
    }
}

/// `patch[side·i + j][lane]` = the input at row `i`, column `j` of the lane's
/// patch (0 in the padding), for channel `c`.
#[inline(always)]
pub(super) fn gather(p: &Conv3x3, img: &[f32], c: usize, tiles: &TileRange, patch: &mut [f32]) {
    let (n, side, d) = (tiles.len, p.tile.in_side(), p.dilation);
    // Neighbouring tiles' patches start this many input columns apart.
    let step = d * p.tile.out_side();
    let plane = p.height * p.width;
    for run in &tiles.runs {
        let src = &img[(run.image * p.channels + c) * plane..][..plane];
        for i in 0..side {
            let iy = (d * (p.tile.out_side() * run.ty + i) + run.ry)
                .checked_sub(p.pad[0])
                .filter(|&y| y < p.height);
            for j in 0..side {
                let row = &mut patch[(side * i + j) * n + run.lane..][..run.len];
                let Some(iy) = iy else {
                    row.fill(0.0);
                    continue;
                };
                let line = &src[iy * p.width..][..p.width];
                // Lanes `lo..hi` read inside the row; the rest read padding.
                let x0 = step * run.tx0 + d * j + run.rx;
                let (lo, hi) = inside(x0, step, p.pad[1], p.width, run.len);
                row[..lo].fill(0.0);
                row[hi..].fill(0.0);
                if lo == hi {
                    continue;
                }
                let first = x0 + step * lo - p.pad[1];
                for (v, x) in row[lo..hi]
                    .iter_mut()
                    .zip(line[first..].iter().step_by(step))
                {
                    *v = *x;
                }
            }
        }
    }
}

/// The lanes `k < len` whose column `x0 + step·k − pad` lies in `0..width`.
fn inside(x0: usize, step: usize, pad: usize, width: usize, len: usize) -> (usize, usize) {
    let lo = pad.saturating_sub(x0).div_ceil(step);
    let hi = (width + pad).saturating_sub(x0).div_ceil(step).min(len);
    (lo.min(hi), hi)
}

/// Writes output channel `o` of the piece's tiles from `y[side·i + j][lane]`,
/// cutting tiles at the output's right and bottom edges.
#[inline(always)]
pub(super) fn scatter(p: &Conv3x3, o: usize, y: &[f32], tiles: &TileRange, out: SharedOut) {
    let (n, side, d) = (tiles.len, p.tile.out_side(), p.dilation);
    let step = d * side;
    let [oh, ow] = p.out_size();
    for run in &tiles.runs {
        let base = (run.image * p.out_channels + o) * oh * ow;
        for i in 0..side {
            let oy = d * (side * run.ty + i) + run.ry;
            if oy >= oh {
                break;
            }
            for j in 0..side {
                let x0 = step * run.tx0 + d * j + run.rx;
                // Lanes `0..count` land inside the row.
                let count = ow.saturating_sub(x0).div_ceil(step).min(run.len);
                let row = &y[(side * i + j) * n + run.lane..][..count];
                let dst = base + oy * ow + x0;
                for (k, v) in row.iter().enumerate() {
                    // SAFETY: column `x0 + step·k < ow` of row `oy < oh` of channel `o`
                    // lies inside the output (its length is checked by `conv`), and
                    // only this piece writes this tile's outputs; other pieces may
                    // write other columns of the same row, so no slice is formed.
                    unsafe { *out.get().add(dst + step * k) = *v };
                }
            }
        }
    }
}
