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

/// `v[q·n + lane]`: channel `c`'s patches of `tiles`, transformed. A run's patches
/// share their input rows, which the transform reads in place (the padding being
/// zero); a dilated phase's every `dilation`-th column is first copied into `lines`.
#[inline(always)]
pub(super) fn transform_patches(
    p: &Conv3x3,
    (img, c): (&[f32], usize),
    tiles: &TileRange,
    s: RunScratch,
    v: &mut [f32],
) {
    let (n, side, d) = (tiles.len, p.tile.in_side(), p.dilation);
    let out_side = p.tile.out_side();
    let plane = p.height * p.width;
    for run in &tiles.runs {
        let src = &img[(run.image * p.channels + c) * plane..][..plane];
        let width = out_side * run.len + side - out_side;
        // The padded column of the run's first sample, and the samples inside.
        let x0 = d * out_side * run.tx0 + run.rx;
        let (lo, hi) = inside(x0, d, p.pad[1], p.width, width);
        let first = (x0 + d * lo).saturating_sub(p.pad[1]);
        let mut rows = [&s.zeros[..hi - lo]; 6];
        let mut lines = s.lines.chunks_mut(width);
        // A run wholly in the padding (wide padding, dilated phase) reads nothing:
        // its `first` may lie past the row's end.
        let rows_read = if lo < hi { side } else { 0 };
        for (i, row) in rows.iter_mut().enumerate().take(rows_read) {
            let line = lines.next().expect("a line per patch row");
            let Some(iy) = (d * (out_side * run.ty + i) + run.ry)
                .checked_sub(p.pad[0])
                .filter(|&y| y < p.height)
            else {
                continue;
            };
            let src_row = &src[iy * p.width + first..];
            if d == 1 {
                *row = &src_row[..hi - lo];
            } else {
                let line = &mut line[..hi - lo];
                for (v, x) in line.iter_mut().zip(src_row.iter().step_by(d)) {
                    *v = *x;
                }
                *row = line;
            }
        }
        p.tile
            .input(&rows[..side], lo, s.cols, (&mut v[run.lane..], n), run.len);
    }
}

/// A thread's buffers for [`transform_patches`]: `zeros` stays zero.
pub(super) struct RunScratch<'a> {
    pub zeros: &'a [f32],
    pub lines: &'a mut [f32],
    pub cols: &'a mut [f32],
}

/// The lanes `k < len` whose column `x0 + step·k − pad` lies in `0..width`.
fn inside(x0: usize, step: usize, pad: usize, width: usize, len: usize) -> (usize, usize) {
    let lo = pad.saturating_sub(x0).div_ceil(step);
    let hi = (width + pad).saturating_sub(x0).div_ceil(step).min(len);
    (lo.min(hi), hi)
}

/// Writes output channel `o` of the piece's tiles from their products transformed
/// down the columns (`half`, [`super::Tile::output_columns`]): each row of a run's
/// tiles, cut at the output's right and bottom edges, is finished straight into the
/// output (a dilated phase's through `line`, its columns being `dilation` apart).
#[inline(always)]
pub(super) fn write_tiles(
    p: &Conv3x3,
    o: usize,
    half: &[f32],
    tiles: &TileRange,
    line: &mut [f32],
    out: SharedOut,
) {
    let (n, side, d) = (tiles.len, p.tile.out_side(), p.dilation);
    let [oh, ow] = p.out_size();
    if p.interleaved {
        return add_interleaved(p, o, half, tiles, line, out);
    }
    for run in &tiles.runs {
        let base = (run.image * p.out_channels + o) * oh * ow;
        let x0 = d * side * run.tx0 + run.rx;
        // Samples `0..count` of a row land inside it.
        let count = ow.saturating_sub(x0).div_ceil(d).min(side * run.len);
        for i in 0..side {
            let oy = d * (side * run.ty + i) + run.ry;
            if oy >= oh {
                break;
            }
            let dst = base + oy * ow + x0;
            let half = &half[run.lane..];
            if d == 1 {
                // SAFETY: columns `x0 .. x0 + count` of row `oy < oh` of channel `o`
                // lie inside the output (its length is checked by `conv`), and only
                // this piece writes them (other pieces write other columns of the
                // row, through slices of their own).
                let row = unsafe { std::slice::from_raw_parts_mut(out.get().add(dst), count) };
                p.tile.output_row(half, n, i, row);
            } else {
                let line = &mut line[..count];
                p.tile.output_row(half, n, i, line);
                for (k, v) in line.iter().enumerate() {
                    // SAFETY: as above, column `x0 + d·k < ow`; the phase's columns
                    // interleave with other phases', so no slice is formed.
                    unsafe { *out.get().add(dst + d * k) = *v };
                }
            }
        }
    }
}

/// [`write_tiles`] for outputs that are the phases of a ×2 upsampling
/// ([`Conv3x3::interleaved`]): each row of channel `o`'s tiles is added to every
/// other column of its phase's row.
#[inline(always)]
fn add_interleaved(
    p: &Conv3x3,
    o: usize,
    half: &[f32],
    tiles: &TileRange,
    line: &mut [f32],
    out: SharedOut,
) {
    let (n, side) = (tiles.len, p.tile.out_side());
    let [oh, ow] = p.out_size();
    let (co, ry, rx) = (o / 4, o / 2 % 2, o % 2);
    for run in &tiles.runs {
        let base = (run.image * p.out_channels / 4 + co) * 4 * oh * ow;
        let x0 = side * run.tx0;
        let count = ow.saturating_sub(x0).min(side * run.len);
        for i in 0..side {
            let oy = side * run.ty + i;
            if oy >= oh {
                break;
            }
            let line = &mut line[..count];
            p.tile.output_row(&half[run.lane..], n, i, line);
            let dst = base + (2 * oy + ry) * 2 * ow + 2 * x0 + rx;
            for (k, v) in line.iter().enumerate() {
                // SAFETY: row `2·oy + ry < 2·oh` and column `2·(x0 + k) + rx < 2·ow`
                // of channel `co` lie inside the output (its length is checked by
                // `conv`); only this piece writes this phase's samples of the row,
                // which interleave with other phases', so no slice is formed.
                unsafe { *out.get().add(dst + 2 * k) += *v };
            }
        }
    }
}
