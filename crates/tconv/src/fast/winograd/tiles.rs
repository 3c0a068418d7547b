//! Which tiles a piece owns, and moving their patches in and their outputs out.

use super::Conv3x3;
use crate::fast::lowered::SharedOut;

/// A piece's consecutive tiles, as runs that share one image and tile row.
pub(super) struct TileRange {
    runs: Vec<Run>,
    pub len: usize,
}

/// Tiles `tx0 .. tx0 + len` of tile row `ty` of image `image`, lanes from `lane`.
struct Run {
    image: usize,
    ty: usize,
    tx0: usize,
    len: usize,
    lane: usize,
}

impl TileRange {
    /// Tiles `first .. end` of all images' tiles, counted row by row.
    pub fn new(p: &Conv3x3, first: usize, end: usize) -> Self {
        let [rows, cols] = p.tile_grid();
        let mut runs = Vec::new();
        let mut t = first;
        while t < end {
            let (image, ty, tx0) = (t / (rows * cols), t / cols % rows, t % cols);
            let len = (cols - tx0).min(end - t);
            runs.push(Run {
                image,
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
    let (n, side, step) = (tiles.len, p.tile.in_side(), p.tile.out_side());
    let plane = p.height * p.width;
    for run in &tiles.runs {
        let src = &img[(run.image * p.channels + c) * plane..][..plane];
        for i in 0..side {
            let iy = (step * run.ty + i)
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
                let (lo, hi) = inside(step * run.tx0 + j, step, p.pad[1], p.width, run.len);
                row[..lo].fill(0.0);
                row[hi..].fill(0.0);
                if lo == hi {
                    continue;
                }
                let first = step * (run.tx0 + lo) + j - p.pad[1];
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
    let (n, side) = (tiles.len, p.tile.out_side());
    let [oh, ow] = p.out_size();
    for run in &tiles.runs {
        let base = (run.image * p.out_channels + o) * oh * ow;
        let x0 = side * run.tx0;
        let width = (side * run.len).min(ow - x0);
        for i in 0..side {
            let oy = side * run.ty + i;
            if oy >= oh {
                break;
            }
            // SAFETY: columns `x0 .. x0 + width` of output row `oy` of channel `o`
            // of this image lie inside the output (its length is checked by
            // `conv`) and belong to this run's tiles, which only this piece writes.
            let dst = unsafe {
                std::slice::from_raw_parts_mut(out.get().add(base + oy * ow + x0), width)
            };
            for j in 0..side.min(width) {
                let row = &y[(side * i + j) * n + run.lane..][..run.len];
                for (d, v) in dst[j..].iter_mut().step_by(side).zip(row) {
                    *d = *v;
                }
            }
        }
    }
}
