//! The sub-pixel form of a transposed convolution whose kernel is a multiple of its
//! stride (the FCN's k64 s32 upsampling), and of the two products its backward pass
//! needs.
//!
//! Output position `o` (one dimension) receives `x[i] · w[o + p − i·s]`. Write
//! `o + p = q·s + r` with `0 ≤ r < s`: the taps that reach `o` are `w[j·s + r]` for
//! the inputs `i = q − j`, `0 ≤ j < k/s`. So the outputs of one phase `r` are a
//! small dense convolution of the input with the taps `r, r + s, …`: every output
//! is written once, by one matrix product, with no column buffer the size of
//! `channels · k² · H · W` and no col2im scatter.
//!
//! For one row phase `ry` and one image, with the inputs each output row of that
//! phase reads laid out as `X` (`C_in·my·mx × positions`) and the taps of the phase
//! as `W_ry` (`C_out·s_x × C_in·my·mx`), the product `Xᵀ·W_ryᵀ` holds, for every
//! position `(qy, qx)`, the `s_x` consecutive outputs of every output channel. The
//! correlation ([`gather`]) and the weight gradient ([`weight_grad`]) are the same
//! products read the other way.

use rayon::prelude::*;

use super::gemm::{Mat, Parallelism, matmul};
use super::lowered::SharedOut;
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

/// `img += transposed convolution of col` (see [`super::lowered::scatter`]), for a
/// geometry [`applies`] accepts.
pub(crate) fn scatter(geo: &Geometry, col: &[f32], weight: &[f32], img: &mut [f32]) {
    let plan = Plan::new(geo);
    let (k, m) = (plan.k, plan.m);
    let sy = geo.stride[0];
    let img_size = geo.img[0] * geo.img_plane();
    let col_size = geo.col[0] * geo.col_plane();
    assert_eq!(img.len(), geo.batch * img_size, "image side size");
    let out = SharedOut(img.as_mut_ptr());
    // Pieces: a phase and a run of images, so the phase's taps are gathered once
    // per piece and there are still enough pieces for every thread.
    let runs = (2 * rayon::current_num_threads())
        .div_ceil(sy)
        .clamp(1, geo.batch.max(1));
    let per_run = geo.batch.div_ceil(runs).max(1);
    (0..sy * runs).into_par_iter().for_each(|piece| {
        let (ry, run) = (piece / runs, piece % runs);
        let images = run * per_run..((run + 1) * per_run).min(geo.batch);
        let phase = plan.phase(geo, ry);
        let positions = phase.positions();
        if positions == 0 || k == 0 || images.is_empty() {
            return;
        }
        let mut taps = vec![0.0f32; k * m];
        phase_taps(geo, weight, ry, &mut taps);
        let mut lowered = vec![0.0f32; k * positions];
        let mut y = vec![0.0f32; positions * m];
        for n in images {
            phase.lower(geo, &col[n * col_size..(n + 1) * col_size], &mut lowered);
            // Y[(qy, qx), (co, rx)] = Σ X[·, (qy, qx)] · W_ryᵀ[·, (co, rx)].
            let xt = Mat::row_major(&lowered, k, positions).t();
            let wt = Mat::row_major(&taps, k, m);
            matmul(&mut y, m, xt, wt, false, Parallelism::None);
            let base = out.get();
            phase.for_each_run(geo, ry, |from, to, len| {
                // SAFETY: the run lies in image `n`'s output row `oy` with
                // `oy + py ≡ ry (mod sy)`, which only the piece of phase `ry` that
                // holds image `n` writes; `for_each_run` keeps it inside the row.
                let dst =
                    unsafe { std::slice::from_raw_parts_mut(base.add(n * img_size + to), len) };
                for (d, s) in dst.iter_mut().zip(&y[from..from + len]) {
                    *d += s;
                }
            });
        }
    });
}

/// Calls `f(offset in the weight, offset in W_ryᵀ)` for every run of `s_x` taps
/// that phase `ry` takes: `W_ryᵀ[(ci, jy, jx), (co, rx)] = w[ci, co, jy·sy + ry,
/// jx·sx + rx]`, `W_ryᵀ` being `k × m`.
fn for_each_tap_run(geo: &Geometry, ry: usize, mut f: impl FnMut(usize, usize)) {
    let c_out = geo.img[0];
    let [kh, kw] = geo.kernel;
    let [sy, sx] = geo.stride;
    let (my, mx) = (kh / sy, kw / sx);
    let m = c_out * sx;
    for ci in 0..geo.col[0] {
        for co in 0..c_out {
            for jy in 0..my {
                let w_row = ((ci * c_out + co) * kh + jy * sy + ry) * kw;
                for jx in 0..mx {
                    f(w_row + jx * sx, ((ci * my + jy) * mx + jx) * m + co * sx);
                }
            }
        }
    }
}

/// Phase `ry`'s taps `W_ryᵀ` (`k × m`) from the weight.
fn phase_taps(geo: &Geometry, weight: &[f32], ry: usize, out: &mut [f32]) {
    let sx = geo.stride[1];
    for_each_tap_run(geo, ry, |w, t| {
        out[t..t + sx].copy_from_slice(&weight[w..w + sx]);
    });
}

/// Which inputs and outputs the matrix products see: positions `(qy, qx)` (those
/// of every phase, or of one after [`Plan::phase`]), `k = C_in·my·mx` input rows
/// and `m = C_out·s_x` phase columns.
#[derive(Clone, Copy)]
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

    /// Only the rows `qy` whose outputs in phase `ry` lie inside the image.
    fn phase(self, geo: &Geometry, ry: usize) -> Self {
        let qy = q_range(geo.img[1], geo.stride[0], geo.padding[0], (ry, ry));
        Self { qy, ..self }
    }

    fn nqx(&self) -> usize {
        self.qx.1 - self.qx.0
    }

    fn positions(&self) -> usize {
        (self.qy.1 - self.qy.0) * self.nqx()
    }

    /// `X[(ci, jy, jx), (qy, qx)] = x[ci, qy − jy, qx − jx]` of one column-side
    /// image, zero outside it.
    fn lower(&self, geo: &Geometry, x: &[f32], out: &mut [f32]) {
        let positions = self.positions();
        out.fill(0.0);
        self.for_each_input(geo, |row, pos, at| out[row * positions + pos] = x[at]);
    }

    /// Calls `f(row, position, column-side index)` for every `(ci, jy, jx)` row of
    /// `X` and every position whose input lies inside one column-side image.
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

    /// Calls `f(offset in Y, offset in one image-side image, length)` for every run
    /// of `s_x` (or fewer, at the edges) consecutive outputs of phase `ry`: row
    /// `(qy, qx)` of `Y = positions × m` holds them at columns `co·s_x + rx`.
    fn for_each_run(&self, geo: &Geometry, ry: usize, mut f: impl FnMut(usize, usize, usize)) {
        let [c_out, oh, ow] = geo.img;
        let [sy, sx] = geo.stride;
        let [py, px] = geo.padding;
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
                for co in 0..c_out {
                    let to = (co * oh + oy) * ow + (first + lo as isize) as usize;
                    f(pos * self.m + co * sx + lo, to, hi - lo);
                }
            }
        }
    }

    /// `dY_ry[(qy, qx), (co, rx)]` = the image-side values of phase `ry` of one
    /// image, zero where the output position falls outside.
    fn gather_phase(&self, geo: &Geometry, img: &[f32], ry: usize, out: &mut [f32]) {
        out.fill(0.0);
        self.for_each_run(geo, ry, |to, from, len| {
            out[to..to + len].copy_from_slice(&img[from..from + len]);
        });
    }
}

/// `W_ryᵀ[(ci, jy, jx), (co, rx)]` for every phase, phase-major.
fn all_taps(geo: &Geometry, weight: &[f32], plan: &Plan) -> Vec<f32> {
    let size = plan.k * plan.m;
    let mut taps = vec![0.0f32; geo.stride[0] * size];
    taps.par_chunks_mut(size.max(1))
        .enumerate()
        .for_each(|(ry, out)| phase_taps(geo, weight, ry, out));
    taps
}

/// `col = correlation of img` (see [`super::lowered::correlate`]) in the sub-pixel
/// form: per image, `dX = Σ_ry W_ryᵀ · dY_ryᵀ`, then each `(ci, jy, jx)` row of
/// `dX` added back at its input position.
pub(crate) fn gather(geo: &Geometry, img: &[f32], weight: &[f32], col: &mut [f32]) {
    let plan = Plan::new(geo);
    let (k, m, positions) = (plan.k, plan.m, plan.positions());
    let img_size = geo.img[0] * geo.img_plane();
    let col_size = geo.col[0] * geo.col_plane();
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
    let [sy, sx] = geo.stride;
    let mut gw = vec![0.0f32; geo.col[0] * geo.img[0] * geo.kernel[0] * geo.kernel[1]];
    let img_size = geo.img[0] * geo.img_plane();
    let col_size = geo.col[0] * geo.col_plane();
    if positions == 0 || k == 0 || img_size == 0 || col_size == 0 {
        return gw;
    }
    // X_n for every image, shared by all phases.
    let lowered: Vec<Vec<f32>> = col
        .par_chunks(col_size)
        .map(|x| {
            let mut out = vec![0.0f32; k * positions];
            plan.lower(geo, x, &mut out);
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
        for_each_tap_run(geo, ry, |w, t| {
            gw[w..w + sx].copy_from_slice(&acc[t..t + sx]);
        });
    }
    gw
}
