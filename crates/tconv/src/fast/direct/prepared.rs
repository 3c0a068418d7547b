//! The image as the direct kernels read it: zero-padded, each row split by column
//! phase, with room past each row's end for a whole block of the last columns.

use rayon::prelude::*;

use crate::shape::Geometry;

/// Where each tap reads in the prepared image, and that image's layout:
/// `[channel][phase][row][row_len]`, for `out_rows` output rows.
pub(super) struct Taps {
    /// Per tap `(c, a, e)`, in the weight's order: the offset of its first read for
    /// output row 0, column 0.
    pub offsets: Vec<usize>,
    channels: usize,
    phases: usize,
    rows: usize,
    /// Elements from one prepared row to the next.
    pub row_len: usize,
}

impl Taps {
    /// For kernels that take `width` output columns at a time.
    pub fn new(geo: &Geometry, width: usize) -> Self {
        let ([c, _, _], [kh, kw], s) = (geo.img, geo.kernel, geo.stride[0]);
        let [_, oh, ow] = geo.col;
        let rows = s * (oh.max(1) - 1) + kh;
        // Room for the last block's whole width: its loads past the row's end read
        // zeros, and its outputs beyond the row are dropped.
        let row_len = ow.div_ceil(width) * width + (kw - 1) / s;
        let mut offsets = Vec::with_capacity(c * kh * kw);
        for ch in 0..c {
            for a in 0..kh {
                for e in 0..kw {
                    offsets.push(((ch * s + e % s) * rows + a) * row_len + e / s);
                }
            }
        }
        Self {
            offsets,
            channels: c,
            phases: s,
            rows,
            row_len,
        }
    }

    pub fn prepared_len(&self) -> usize {
        self.channels * self.phases * self.rows * self.row_len
    }

    /// Copies one `[C, H, W]` image into `dst`, zero-padded and split by phase,
    /// rows in parallel.
    pub fn prepare(&self, geo: &Geometry, image: &[f32], dst: &mut [f32]) {
        dst.par_chunks_mut(self.row_len)
            .enumerate()
            .for_each(|(i, row)| self.prepare_row(geo, image, i, row));
    }

    fn prepare_row(&self, geo: &Geometry, image: &[f32], i: usize, row: &mut [f32]) {
        let ([_, h, w], [ph, pw], s) = (geo.img, geo.padding, self.phases);
        let (ch, q, r) = (i / (s * self.rows), i / self.rows % s, i % self.rows);
        match r.checked_sub(ph).filter(|&y| y < h) {
            Some(y) => gather(
                &image[(ch * h + y) * w..][..w],
                q as isize - pw as isize,
                s,
                row,
            ),
            None => row.fill(0.0),
        }
    }
}

/// `row[j] = src[s·j + shift]`, zero where that falls outside `src`.
fn gather(src: &[f32], shift: isize, s: usize, row: &mut [f32]) {
    // The first `j` with `s·j + shift ≥ 0`, and the end of those below `src.len()`.
    let first = ((-shift).max(0) as usize).div_ceil(s).min(row.len());
    let end = ((src.len() as isize - shift).max(0) as usize)
        .div_ceil(s)
        .clamp(first, row.len());
    row[..first].fill(0.0);
    row[end..].fill(0.0);
    if first == end {
        return;
    }
    let src = &src[((s * first) as isize + shift) as usize..];
    let row = &mut row[first..end];
    // Whole strides where they fit (a loop that vectorises), then a last lone one.
    let whole = (src.len() / s).min(row.len());
    for (v, x) in row[..whole].iter_mut().zip(src.chunks_exact(s)) {
        *v = x[0];
    }
    if let Some(v) = row.get_mut(whole) {
        *v = src[whole * s];
    }
}
