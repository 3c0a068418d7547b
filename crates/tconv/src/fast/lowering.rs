//! im2col and its adjoint col2im: the lowering that turns a convolution into a
//! matrix product.
//!
//! For one group of one image, the lowered matrix has a row for every
//! `(image channel, kernel row, kernel column)` and a column for every output position
//! of the convolution; entry = the image value that kernel tap reads there (0 in the
//! padding). Both functions work on a band of column-side rows `y0..y1`, so callers
//! can bound the buffer's size.

use rayon::prelude::*;

use crate::shape::Geometry;

/// The range of `o` in `0..out_len` for which `o · stride + offset` lies in `0..in_len`.
fn valid_range(out_len: usize, stride: usize, offset: isize, in_len: usize) -> (usize, usize) {
    let s = stride as isize;
    let lo = if offset >= 0 {
        0
    } else {
        (-offset + s - 1) / s
    };
    let room = in_len as isize - offset;
    let hi = if room <= 0 { 0 } else { (room + s - 1) / s };
    let hi = (hi as usize).min(out_len);
    ((lo as usize).min(hi), hi)
}

/// Which image row a lowered row reads for column-side row `y`, if any.
fn image_row(geo: &Geometry, a: usize, y: usize) -> Option<usize> {
    let iy = (y * geo.stride[0] + a * geo.dilation[0]) as isize - geo.padding[0] as isize;
    (iy >= 0 && (iy as usize) < geo.img[1]).then_some(iy as usize)
}

/// Fills `cols` (`lowered_rows × (y1 − y0)·col_width`, row-major) from `img`, the
/// `img_channels / groups` planes of one group.
pub(crate) fn im2col(
    geo: &Geometry,
    img: &[f32],
    y0: usize,
    y1: usize,
    cols: &mut [f32],
    parallel: bool,
) {
    let width = (y1 - y0) * geo.col[2];
    if width == 0 {
        return;
    }
    let cols = &mut cols[..geo.lowered_rows() * width];
    let fill = |(r, row): (usize, &mut [f32])| fill_row(geo, img, y0, y1, r, row);
    if parallel {
        cols.par_chunks_mut(width).enumerate().for_each(fill);
    } else {
        cols.chunks_mut(width).enumerate().for_each(fill);
    }
}

fn fill_row(geo: &Geometry, img: &[f32], y0: usize, y1: usize, r: usize, row: &mut [f32]) {
    let [kh, kw] = geo.kernel;
    let (c, a, e) = (r / (kh * kw), (r / kw) % kh, r % kw);
    let (iw, cw, sw) = (geo.img[2], geo.col[2], geo.stride[1]);
    let offset = (e * geo.dilation[1]) as isize - geo.padding[1] as isize;
    let (lo, hi) = valid_range(cw, sw, offset, iw);
    let plane = &img[c * geo.img_plane()..(c + 1) * geo.img_plane()];
    for (y, out) in (y0..y1).zip(row.chunks_mut(cw)) {
        let Some(iy) = image_row(geo, a, y).filter(|_| lo < hi) else {
            out.fill(0.0);
            continue;
        };
        let src = &plane[iy * iw..(iy + 1) * iw];
        out[..lo].fill(0.0);
        out[hi..].fill(0.0);
        let start = (lo * sw) as isize + offset;
        if sw == 1 {
            out[lo..hi].copy_from_slice(&src[start as usize..start as usize + (hi - lo)]);
        } else {
            for (o, v) in out[lo..hi]
                .iter_mut()
                .zip(src[start as usize..].iter().step_by(sw))
            {
                *o = *v;
            }
        }
    }
}

/// Adds the lowered matrix `cols` (as [`im2col`] lays it out) back into `img`, the
/// planes of one group: every entry goes to the image position it was read from.
pub(crate) fn col2im(
    geo: &Geometry,
    cols: &[f32],
    y0: usize,
    y1: usize,
    img: &mut [f32],
    parallel: bool,
) {
    let [kh, kw] = geo.kernel;
    let band = kh * kw * (y1 - y0) * geo.col[2];
    let plane = geo.img_plane();
    if band == 0 || plane == 0 {
        return;
    }
    let img = &mut img[..geo.img_group_channels() * plane];
    let add = |(dst, src): (&mut [f32], &[f32])| add_channel(geo, src, y0, y1, dst);
    if parallel {
        img.par_chunks_mut(plane)
            .zip(cols.par_chunks(band))
            .for_each(add);
    } else {
        img.chunks_mut(plane).zip(cols.chunks(band)).for_each(add);
    }
}

fn add_channel(geo: &Geometry, band: &[f32], y0: usize, y1: usize, plane: &mut [f32]) {
    let [kh, kw] = geo.kernel;
    let (iw, cw, sw) = (geo.img[2], geo.col[2], geo.stride[1]);
    let width = (y1 - y0) * cw;
    for a in 0..kh {
        for e in 0..kw {
            let row = &band[(a * kw + e) * width..(a * kw + e + 1) * width];
            let offset = (e * geo.dilation[1]) as isize - geo.padding[1] as isize;
            let (lo, hi) = valid_range(cw, sw, offset, iw);
            if lo >= hi {
                continue;
            }
            for (y, src) in (y0..y1).zip(row.chunks(cw)) {
                let Some(iy) = image_row(geo, a, y) else {
                    continue;
                };
                let start = ((lo * sw) as isize + offset) as usize;
                let dst = &mut plane[iy * iw..(iy + 1) * iw];
                if sw == 1 {
                    for (d, v) in dst[start..start + (hi - lo)].iter_mut().zip(&src[lo..hi]) {
                        *d += *v;
                    }
                } else {
                    for (d, v) in dst[start..].iter_mut().step_by(sw).zip(&src[lo..hi]) {
                        *d += *v;
                    }
                }
            }
        }
    }
}
