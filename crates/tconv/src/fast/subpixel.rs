//! The sub-pixel form of a transposed convolution whose kernel is a multiple of its
//! stride (the FCN's k64 s32 upsampling, a k4 s2 decoder).
//!
//! Output position `o` (one dimension) receives `x[i] · w[o + p − i·s]`. Write
//! `o + p = q·s + r` with `0 ≤ r < s`: the taps that reach `o` are `w[j·s + r]` for
//! the inputs `i = q − j`, `0 ≤ j < k/s`. So the outputs of one phase `r` are a
//! small dense convolution of the input with the taps `r, r + s, …`: every output
//! is written once, by one matrix product, with no column buffer the size of
//! `channels · k² · H · W` and no col2im scatter.
//!
//! One piece of work is one image and one row phase `ry`: with the inputs each
//! output row of that phase reads laid out as `X` (`C_in·my·mx × positions`) and
//! the taps of the phase as `W_ry` (`C_out·s_x × C_in·my·mx`), the product
//! `Xᵀ·W_ryᵀ` holds, for every position `(qy, qx)`, the `s_x` consecutive outputs
//! of every output channel.

use rayon::prelude::*;

use super::gemm::{Mat, Parallelism, matmul};
use crate::shape::Geometry;

/// Whether the sub-pixel form computes the scatter of `geo` and pays off: no
/// groups, no dilation, each kernel side a multiple of its stride, and a stride
/// across of at least 8, so that each output channel's runs are long copies.
/// Measured (2 threads): the FCN head (k64 s32) takes 2.6 ms here against 6.9 ms
/// with col2im, but a k4 s2 decoder 42 ms against 25 ms.
pub(crate) fn applies(geo: &Geometry) -> bool {
    geo.groups == 1
        && geo.dilation == [1, 1]
        && geo.stride[1] >= 8
        && (0..2).all(|d| geo.kernel[d].is_multiple_of(geo.stride[d]))
}

/// Range `start..end` of `q` whose outputs `q·s + r − p` fall in `0..out` for the
/// phases `rs` (inclusive bounds of the phase range).
fn q_range(out: usize, s: usize, p: usize, (r_lo, r_hi): (usize, usize)) -> (usize, usize) {
    let start = p.saturating_sub(r_hi).div_ceil(s);
    let end = if out + p > r_lo {
        (out - 1 + p - r_lo) / s + 1
    } else {
        start
    };
    (start, end.max(start))
}

/// A pointer that the pieces share; each writes the rows of its own phase.
#[derive(Clone, Copy)]
struct Rows(*mut f32);
// SAFETY: pieces write disjoint output rows (see `scatter`).
unsafe impl Send for Rows {}
unsafe impl Sync for Rows {}

impl Rows {
    fn get(self) -> *mut f32 {
        self.0
    }
}

/// `img += transposed convolution of col` (see [`super::lowered::scatter`]), for a
/// geometry [`applies`] accepts.
pub(crate) fn scatter(geo: &Geometry, col: &[f32], weight: &[f32], img: &mut [f32]) {
    let [c_out, oh, ow] = geo.img;
    let c_in = geo.col[0];
    let [kh, kw] = geo.kernel;
    let [sy, sx] = geo.stride;
    let [py, px] = geo.padding;
    let (my, mx) = (kh / sy, kw / sx);
    let k = c_in * my * mx;
    let m = c_out * sx;
    let (qx0, qx1) = q_range(ow, sx, px, (0, sx - 1));
    let nqx = qx1 - qx0;
    assert_eq!(img.len(), geo.batch * c_out * oh * ow, "image side size");
    let out = Rows(img.as_mut_ptr());
    // Pieces: a phase and a run of images, so the phase's taps are gathered once
    // per piece and there are still enough pieces for every thread.
    let runs = (2 * rayon::current_num_threads())
        .div_ceil(sy)
        .clamp(1, geo.batch.max(1));
    let per_run = geo.batch.div_ceil(runs).max(1);
    (0..sy * runs).into_par_iter().for_each(|piece| {
        let (ry, run) = (piece / runs, piece % runs);
        let images = run * per_run..((run + 1) * per_run).min(geo.batch);
        let (qy0, qy1) = q_range(oh, sy, py, (ry, ry));
        let positions = (qy1 - qy0) * nqx;
        if positions == 0 || k == 0 || images.is_empty() {
            return;
        }
        // W_ryᵀ[(ci, jy, jx), (co, rx)] = w[ci, co, jy·sy + ry, jx·sx + rx].
        let mut taps = vec![0.0f32; k * m];
        for ci in 0..c_in {
            for co in 0..c_out {
                for jy in 0..my {
                    let src = &weight[((ci * c_out + co) * kh + jy * sy + ry) * kw..][..kw];
                    for jx in 0..mx {
                        let row = ((ci * my + jy) * mx + jx) * m + co * sx;
                        taps[row..row + sx].copy_from_slice(&src[jx * sx..(jx + 1) * sx]);
                    }
                }
            }
        }
        let mut lowered = vec![0.0f32; k * positions];
        let mut y = vec![0.0f32; positions * m];
        for n in images {
            phase_image(
                geo,
                (n, ry),
                (qy0, qy1),
                (qx0, qx1),
                col,
                &taps,
                &mut lowered,
                &mut y,
                out,
            );
        }
    });
}

/// One image's outputs of row phase `ry`, given the phase's taps.
#[allow(clippy::too_many_arguments)]
fn phase_image(
    geo: &Geometry,
    (n, ry): (usize, usize),
    (qy0, qy1): (usize, usize),
    (qx0, qx1): (usize, usize),
    col: &[f32],
    taps: &[f32],
    lowered: &mut [f32],
    y: &mut [f32],
    out: Rows,
) {
    let [c_out, oh, ow] = geo.img;
    let [c_in, h, w] = geo.col;
    let [sy, sx] = geo.stride;
    let [py, px] = geo.padding;
    let (my, mx) = (geo.kernel[0] / sy, geo.kernel[1] / sx);
    let (k, m, nqx) = (c_in * my * mx, c_out * sx, qx1 - qx0);
    let positions = (qy1 - qy0) * nqx;
    // X[(ci, jy, jx), (qy, qx)] = x[ci, qy − jy, qx − jx], zero outside.
    let x = &col[n * c_in * h * w..(n + 1) * c_in * h * w];
    lowered.fill(0.0);
    for ci in 0..c_in {
        for jy in 0..my {
            for jx in 0..mx {
                let row = ((ci * my + jy) * mx + jx) * positions;
                for qy in qy0..qy1 {
                    let Some(iy) = qy.checked_sub(jy).filter(|&iy| iy < h) else {
                        continue;
                    };
                    let dst = &mut lowered[row + (qy - qy0) * nqx..][..nqx];
                    let src = &x[(ci * h + iy) * w..][..w];
                    for (t, v) in dst.iter_mut().enumerate() {
                        if let Some(ix) = (qx0 + t).checked_sub(jx).filter(|&ix| ix < w) {
                            *v = src[ix];
                        }
                    }
                }
            }
        }
    }
    // Y[(qy, qx), (co, rx)] = Σ X[·, (qy, qx)] · W_ryᵀ[·, (co, rx)].
    let xt = Mat::row_major(lowered, k, positions).t();
    let wt = Mat::row_major(taps, k, m);
    matmul(y, m, xt, wt, false, Parallelism::None);
    let base = out.get();
    for qy in qy0..qy1 {
        let oy = qy * sy + ry - py;
        for qx in qx0..qx1 {
            let first = (qx * sx) as isize - px as isize;
            let lo = (-first).max(0) as usize;
            let hi = ((ow as isize - first).min(sx as isize)).max(0) as usize;
            if lo >= hi {
                continue;
            }
            let src = &y[((qy - qy0) * nqx + qx - qx0) * m..][..m];
            for co in 0..c_out {
                let at = ((n * c_out + co) * oh + oy) * ow + (first + lo as isize) as usize;
                // SAFETY: row `oy` of image `n` belongs to phase `ry`
                // (`oy + py ≡ ry mod sy`), which only this piece computes; the
                // columns `first + lo .. first + hi` lie in `0..ow`.
                unsafe {
                    let dst = std::slice::from_raw_parts_mut(base.add(at), hi - lo);
                    for (d, s) in dst.iter_mut().zip(&src[co * sx + lo..co * sx + hi]) {
                        *d += s;
                    }
                }
            }
        }
    }
}

/// The layout both backward products share: every position `(qy, qx)` that any
/// phase uses, with `k = C_in·my·mx` input rows and `m = C_out·s_x` phase columns.
struct Plan {
    k: usize,
    m: usize,
    qy: (usize, usize),
    qx: (usize, usize),
}

impl Plan {
    fn new(geo: &Geometry) -> Self {
        let [c_out, oh, ow] = geo.img;
        let [sy, sx] = geo.stride;
        let (my, mx) = (geo.kernel[0] / sy, geo.kernel[1] / sx);
        Self {
            k: geo.col[0] * my * mx,
            m: c_out * sx,
            qy: q_range(oh, sy, geo.padding[0], (0, sy - 1)),
            qx: q_range(ow, sx, geo.padding[1], (0, sx - 1)),
        }
    }

    fn nqx(&self) -> usize {
        self.qx.1 - self.qx.0
    }

    fn positions(&self) -> usize {
        (self.qy.1 - self.qy.0) * self.nqx()
    }

    /// The `(ci, jy, jx)` rows of one column-side image and where each lands:
    /// calls `f(row, position, column-side index)` for every valid pair.
    fn for_each_input(&self, geo: &Geometry, mut f: impl FnMut(usize, usize, usize)) {
        let [c_in, h, w] = geo.col;
        let (my, mx) = (geo.kernel[0] / geo.stride[0], geo.kernel[1] / geo.stride[1]);
        let nqx = self.nqx();
        for ci in 0..c_in {
            for jy in 0..my {
                for jx in 0..mx {
                    let row = (ci * my + jy) * mx + jx;
                    for qy in self.qy.0..self.qy.1 {
                        let Some(iy) = qy.checked_sub(jy).filter(|&iy| iy < h) else {
                            continue;
                        };
                        for qx in self.qx.0..self.qx.1 {
                            if let Some(ix) = qx.checked_sub(jx).filter(|&ix| ix < w) {
                                let pos = (qy - self.qy.0) * nqx + qx - self.qx.0;
                                f(row, pos, (ci * h + iy) * w + ix);
                            }
                        }
                    }
                }
            }
        }
    }

    /// `dY_ry[(qy, qx), (co, rx)]` = the image-side values of phase `ry`, zero where
    /// the output position falls outside.
    fn gather_phase(&self, geo: &Geometry, img: &[f32], ry: usize, out: &mut [f32]) {
        let [c_out, oh, ow] = geo.img;
        let [sy, sx] = geo.stride;
        let [py, px] = geo.padding;
        out.fill(0.0);
        for qy in self.qy.0..self.qy.1 {
            let Some(oy) = (qy * sy + ry).checked_sub(py).filter(|&oy| oy < oh) else {
                continue;
            };
            for qx in self.qx.0..self.qx.1 {
                let first = (qx * sx) as isize - px as isize;
                let lo = (-first).max(0) as usize;
                let hi = ((ow as isize - first).min(sx as isize)).max(0) as usize;
                if lo >= hi {
                    continue;
                }
                let pos = (qy - self.qy.0) * self.nqx() + qx - self.qx.0;
                let dst = &mut out[pos * self.m..(pos + 1) * self.m];
                for co in 0..c_out {
                    let at = (co * oh + oy) * ow + (first + lo as isize) as usize;
                    dst[co * sx + lo..co * sx + hi].copy_from_slice(&img[at..at + hi - lo]);
                }
            }
        }
    }
}

/// `W_ryᵀ[(ci, jy, jx), (co, rx)]` for every phase, phase-major.
fn all_taps(geo: &Geometry, weight: &[f32], plan: &Plan) -> Vec<f32> {
    let [c_out, _, _] = geo.img;
    let c_in = geo.col[0];
    let [kh, kw] = geo.kernel;
    let [sy, sx] = geo.stride;
    let (my, mx) = (kh / sy, kw / sx);
    let (k, m) = (plan.k, plan.m);
    let mut taps = vec![0.0f32; sy * k * m];
    taps.par_chunks_mut((k * m).max(1))
        .enumerate()
        .for_each(|(ry, out)| {
            for ci in 0..c_in {
                for co in 0..c_out {
                    for jy in 0..my {
                        let src = &weight[((ci * c_out + co) * kh + jy * sy + ry) * kw..][..kw];
                        for jx in 0..mx {
                            let row = ((ci * my + jy) * mx + jx) * m + co * sx;
                            out[row..row + sx].copy_from_slice(&src[jx * sx..(jx + 1) * sx]);
                        }
                    }
                }
            }
        });
    taps
}

/// `col = correlation of img` (see [`super::lowered::correlate`]) in the sub-pixel
/// form: per image, `dX = Σ_ry W_ryᵀ · dY_ryᵀ`, then each `(ci, jy, jx)` row of
/// `dX` added back at its input position.
pub(crate) fn gather(geo: &Geometry, img: &[f32], weight: &[f32], col: &mut [f32]) {
    let plan = Plan::new(geo);
    let (k, m, positions) = (plan.k, plan.m, plan.positions());
    let img_size = geo.img[0] * geo.img[1] * geo.img[2];
    let col_size = geo.col[0] * geo.col[1] * geo.col[2];
    if positions == 0 || k == 0 || col_size == 0 {
        return;
    }
    let taps = all_taps(geo, weight, &plan);
    col.par_chunks_mut(col_size)
        .zip(img.par_chunks(img_size.max(1)))
        .for_each(|(out, src)| {
            let mut dx = vec![0.0f32; k * positions];
            let mut dy = vec![0.0f32; positions * m];
            for ry in 0..geo.stride[0] {
                plan.gather_phase(geo, src, ry, &mut dy);
                let w = Mat::row_major(&taps[ry * k * m..(ry + 1) * k * m], k, m);
                let d = Mat::row_major(&dy, positions, m).t();
                matmul(&mut dx, positions, w, d, ry > 0, Parallelism::None);
            }
            plan.for_each_input(geo, |row, pos, at| out[at] += dx[row * positions + pos]);
        });
}

/// `gW = Σ_n col[n] · im2col(img[n])ᵀ` (see [`super::lowered::weight_grad`]) in the
/// sub-pixel form: per phase, `Σ_n X_n · dY_ry,n`, written back to the phase's taps.
pub(crate) fn weight_grad(geo: &Geometry, img: &[f32], col: &[f32]) -> Vec<f32> {
    let plan = Plan::new(geo);
    let (k, m, positions) = (plan.k, plan.m, plan.positions());
    let [c_out, _, _] = geo.img;
    let c_in = geo.col[0];
    let [kh, kw] = geo.kernel;
    let [sy, sx] = geo.stride;
    let (my, mx) = (kh / sy, kw / sx);
    let mut gw = vec![0.0f32; c_in * c_out * kh * kw];
    let img_size = geo.img[0] * geo.img[1] * geo.img[2];
    let col_size = geo.col[0] * geo.col[1] * geo.col[2];
    if positions == 0 || k == 0 || img_size == 0 || col_size == 0 {
        return gw;
    }
    // X_n for every image, shared by all phases.
    let lowered: Vec<Vec<f32>> = col
        .par_chunks(col_size)
        .map(|x| {
            let mut out = vec![0.0f32; k * positions];
            plan.for_each_input(geo, |row, pos, at| out[row * positions + pos] = x[at]);
            out
        })
        .collect();
    let per_phase: Vec<Vec<f32>> = (0..sy)
        .into_par_iter()
        .map(|ry| {
            let mut acc = vec![0.0f32; k * m];
            let mut dy = vec![0.0f32; positions * m];
            for (n, x) in lowered.iter().enumerate() {
                plan.gather_phase(geo, &img[n * img_size..(n + 1) * img_size], ry, &mut dy);
                let a = Mat::row_major(x, k, positions);
                let b = Mat::row_major(&dy, positions, m);
                matmul(&mut acc, m, a, b, n > 0, Parallelism::None);
            }
            acc
        })
        .collect();
    for (ry, acc) in per_phase.iter().enumerate() {
        for ci in 0..c_in {
            for co in 0..c_out {
                for jy in 0..my {
                    let dst = &mut gw[((ci * c_out + co) * kh + jy * sy + ry) * kw..][..kw];
                    for jx in 0..mx {
                        let row = ((ci * my + jy) * mx + jx) * m + co * sx;
                        dst[jx * sx..(jx + 1) * sx].copy_from_slice(&acc[row..row + sx]);
                    }
                }
            }
        }
    }
    gw
}
