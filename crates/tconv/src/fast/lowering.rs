//! im2col and its adjoint col2im: the lowering that turns a convolution into a
//! matrix product.
//!
//! For one group of one image, the lowered matrix has a row for every
//! `(image channel, kernel row, kernel column)` and a column for every output position
//! of the convolution; entry = the image value that kernel tap reads there (0 in the
//! padding). Both functions work on a band of column-side rows `y0..y1`, so callers
//! can bound the buffer's size.

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

/// Fills `cols` (`channels·kH·kW × (y1 − y0)·col_width`, row-major) from `img`,
/// `channels` consecutive image planes.
pub(crate) fn im2col(
    geo: &Geometry,
    img: &[f32],
    channels: usize,
    band: (usize, usize),
    cols: &mut [f32],
) {
    let width = (band.1 - band.0) * geo.col[2];
    im2col_strided(geo, img, channels, band, cols, width);
}

/// [`im2col`] with the lowered rows `stride` elements apart (`stride` ≥ the width).
pub(crate) fn im2col_strided(
    geo: &Geometry,
    img: &[f32],
    channels: usize,
    (y0, y1): (usize, usize),
    cols: &mut [f32],
    stride: usize,
) {
    let width = (y1 - y0) * geo.col[2];
    if width == 0 {
        return;
    }
    assert!(stride >= width, "lowered rows overlap");
    let rows = channels * geo.kernel[0] * geo.kernel[1];
    for (r, row) in cols[..rows * stride].chunks_mut(stride).enumerate() {
        fill_row(geo, img, y0, y1, r, &mut row[..width]);
    }
}

/// A row stride for `width` lowered columns that a product reads down the
/// columns (gemm packs the lowered matrix that way for a weight-gradient block kept
/// in row order, one of more than 64 output channels, see `grad_block`): an odd
/// number of 64-byte lines, so that consecutive rows fall in different L1 sets.
/// Widths of a multiple of 1 KiB put every few rows in the same sets, and the
/// stem's gradient at the demo's sizes ran 2–4× slower at them (`stem_timings`).
pub(crate) fn column_read_stride(width: usize) -> usize {
    let lines = width.div_ceil(16);
    (lines | 1) * 16
}

fn fill_row(geo: &Geometry, img: &[f32], y0: usize, y1: usize, r: usize, row: &mut [f32]) {
    let [kh, kw] = geo.kernel;
    let (c, a, e) = (r / (kh * kw), (r / kw) % kh, r % kw);
    let (iw, cw, sw) = (geo.img[2], geo.col[2], geo.stride[1]);
    let offset = (e * geo.dilation[1]) as isize - geo.padding[1] as isize;
    let (lo, hi) = valid_range(cw, sw, offset, iw);
    let plane = &img[c * geo.img_plane()..(c + 1) * geo.img_plane()];
    if geo.stride == [1, 1] && cw == iw {
        fill_row_shifted(geo, plane, (y0, y1), a, offset, (lo, hi), row);
        return;
    }
    for (y, out) in (y0..y1).zip(row.chunks_mut(cw)) {
        let Some(iy) = image_row(geo, a, y).filter(|_| lo < hi) else {
            out.fill(0.0);
            continue;
        };
        let src = &plane[iy * iw..(iy + 1) * iw];
        out[..lo].fill(0.0);
        out[hi..].fill(0.0);
        let start = ((lo * sw) as isize + offset) as usize;
        gather(&mut out[lo..hi], &src[start..], sw);
    }
}

/// [`fill_row`] at stride 1 where the output is as wide as the image (a "same"
/// convolution): the lowered row is the plane shifted by one offset, so the rows
/// inside the image are copied in one piece and each row's padding columns
/// (`..lo`, `hi..`) zeroed after. Per-row copies of the demo's 24-wide rows spent
/// more time calling `memcpy` than copying.
fn fill_row_shifted(
    geo: &Geometry,
    plane: &[f32],
    (y0, y1): (usize, usize),
    a: usize,
    offset: isize,
    (lo, hi): (usize, usize),
    row: &mut [f32],
) {
    let (w, ih) = (geo.col[2], geo.img[1] as isize);
    let dy = (a * geo.dilation[0]) as isize - geo.padding[0] as isize;
    // Column-side rows `ya..yb` read image rows `ya + dy .. yb + dy`.
    let clip = |y: isize| (y.max(y0 as isize) as usize).min(y1);
    let ya = clip(-dy);
    let yb = clip(ih - dy).max(ya);
    let (inside_start, inside_end) = ((ya - y0) * w, (yb - y0) * w);
    row[..inside_start].fill(0.0);
    row[inside_end..].fill(0.0);
    let inside = &mut row[inside_start..inside_end];
    if lo >= hi {
        inside.fill(0.0);
        return;
    }
    // Element `j` of `inside` reads `plane[base + j]`; those outside the plane lie
    // in padding columns, zeroed below.
    let base = (ya as isize + dy) * w as isize + offset;
    let first = (-base).max(0) as usize;
    let end = (plane.len() as isize - base).clamp(0, inside.len() as isize) as usize;
    if first < end {
        let src = (base + first as isize) as usize;
        inside[first..end].copy_from_slice(&plane[src..src + end - first]);
    }
    for line in inside.chunks_mut(w) {
        zero_few(&mut line[..lo]);
        zero_few(&mut line[hi..]);
    }
}

/// Zeroes a slice of a few elements (a padding's width) without calling `memset`.
#[inline(always)]
fn zero_few(xs: &mut [f32]) {
    for x in xs {
        // SAFETY: `x` is a valid, aligned `&mut f32`; the volatile write only keeps
        // the compiler from turning this short loop into a `memset` call.
        unsafe { std::ptr::write_volatile(x, 0.0) };
    }
}

/// Adds the lowered matrix `cols` (as [`im2col`] lays it out) back into `img`,
/// `channels` consecutive image planes: every entry goes to the image position it
/// was read from.
pub(crate) fn col2im(
    geo: &Geometry,
    cols: &[f32],
    channels: usize,
    (y0, y1): (usize, usize),
    img: &mut [f32],
) {
    let [kh, kw] = geo.kernel;
    let band = kh * kw * (y1 - y0) * geo.col[2];
    let plane = geo.img_plane();
    if band == 0 || plane == 0 {
        return;
    }
    for (dst, src) in img[..channels * plane]
        .chunks_mut(plane)
        .zip(cols.chunks(band))
    {
        add_channel(geo, src, y0, y1, dst);
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

/// `dst[i] = src[i · stride]`, with the common strides 1 and 2 spelled out so they
/// compile to straight vector code.
fn gather(dst: &mut [f32], src: &[f32], stride: usize) {
    match stride {
        1 => dst.copy_from_slice(&src[..dst.len()]),
        2 if !dst.is_empty() => {
            let n = dst.len();
            let pairs = src[..2 * n - 1].chunks(2);
            for (d, pair) in dst.iter_mut().zip(pairs) {
                *d = pair[0];
            }
        }
        _ => {
            for (d, v) in dst.iter_mut().zip(src.iter().step_by(stride)) {
                *d = *v;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::column_read_stride;

    #[test]
    fn column_read_strides_hold_the_row_in_an_odd_number_of_lines() {
        for width in 1..5000 {
            let stride = column_read_stride(width);
            assert!(stride >= width && stride < width + 32, "{width} → {stride}");
            assert_eq!(stride % 16, 0, "{width} → {stride}");
            assert_eq!((stride / 16) % 2, 1, "{width} → {stride}");
        }
        // The stem's band at the demo's half resolution: 32 rows of 48.
        assert_eq!(column_read_stride(1536), 1552);
    }
}
