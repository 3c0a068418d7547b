//! The transforms of Winograd's F(4, 3) and F(2, 3), one dimension at a time (Lavin
//! & Gray's matrices), each applied to many tiles at once: every argument is a row
//! of lanes, one lane a tile, and the transforms, written once for [`Sample`], run
//! on eight lanes at a time ([`V8`]).
//!
//! In one dimension, for `m + 2` input samples `d` and a 3-tap filter `g`, the `m`
//! correlation outputs `y[i] = Σ_k g[k]·d[i+k]` are `Aᵀ·((G·g) ⊙ (Bᵀ·d))`; in two,
//! `Y = Aᵀ·((G·g·Gᵀ) ⊙ (Bᵀ·d·B))·A`, which [`Tile`] applies one axis at a time.

use super::sample::{LANES, Sample, V8};

/// Which transform: F(4×4, 3×3) (6×6 patches, 36 products per channel pair for 16
/// outputs) or F(2×2, 3×3) (4×4 patches, 16 products for 4 outputs; its transforms
/// only add and halve, so it rounds about as little as a direct sum).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tile {
    F4,
    F2,
}

impl Tile {
    /// Outputs per tile side.
    pub fn out_side(self) -> usize {
        match self {
            Tile::F4 => 4,
            Tile::F2 => 2,
        }
    }

    /// Inputs per patch side.
    pub fn in_side(self) -> usize {
        self.out_side() + 2
    }

    /// Planes of a transformed patch.
    pub fn planes(self) -> usize {
        self.in_side() * self.in_side()
    }

    /// `v[(t·ν + ξ)·n + k] = (Bᵀ·d·B)[ξ][ν]` for the `len` patches lying side by side
    /// in `t` rows of `o·len + 2` samples, patch `k` from column `o·k` (`t`, `o`:
    /// the patch's and the tile's side). `rows[i]` holds samples `lo ..` of row `i`;
    /// the samples outside are padding, zero. `cols` is scratch for `t + 1` such
    /// rows and `o` samples more.
    #[inline(always)]
    pub fn input(
        self,
        rows: &[&[f32]],
        lo: usize,
        cols: &mut [f32],
        (v, n): (&mut [f32], usize),
        len: usize,
    ) {
        match self {
            Tile::F4 => input_lines::<6, 4>(rows, lo, cols, (v, n), len, f4::Input),
            Tile::F2 => input_lines::<4, 2>(rows, lo, cols, (v, n), len, f2::Input),
        }
    }

    /// `out[t·ν + ξ] = (G·g·Gᵀ)[ξ][ν]` for every lane's filter `taps[3a + e]`.
    #[inline(always)]
    pub fn filter(self, taps: &[f32], half: &mut [f32], out: &mut [f32], c: usize) {
        match self {
            Tile::F4 => filter_2d::<6>(taps, half, out, c, f4::Filter),
            Tile::F2 => filter_2d::<4>(taps, half, out, c, f2::Filter),
        }
    }

    /// `half[(o·ν + i)·n + k]`: every lane's products `prod[(t·ν + ξ)·n + k]`
    /// transformed down each column (`Aᵀ·M`).
    #[inline(always)]
    pub fn output_columns(self, prod: &[f32], half: &mut [f32], n: usize) {
        match self {
            Tile::F4 => output_columns::<6, 4>(prod, half, n, f4::Output),
            Tile::F2 => output_columns::<4, 2>(prod, half, n, f2::Output),
        }
    }

    /// `row[o·k + j] = (Aᵀ·M·A)[i][j]` for the tiles `k` that `row` covers, from
    /// the lanes `half[(o·ν + i)·n + k]` of [`Tile::output_columns`]: row `i` of
    /// those tiles, side by side, the last one cut to fit.
    #[inline(always)]
    pub fn output_row(self, half: &[f32], n: usize, i: usize, row: &mut [f32]) {
        match self {
            Tile::F4 => output_row::<6, 4>(half, n, i, row, f4::Output),
            Tile::F2 => output_row::<4, 2>(half, n, i, row, f2::Output),
        }
    }
}

/// Down the columns (`i → ξ`), all of them at once, then along each transformed
/// row (`j → ν`), all its windows at once.
#[inline(always)]
fn input_lines<const T: usize, const O: usize>(
    rows: &[&[f32]],
    lo: usize,
    cols: &mut [f32],
    (v, n): (&mut [f32], usize),
    len: usize,
    f: impl Line<T, T>,
) {
    let width = O * len + T - O;
    let rows: [&[f32]; T] = std::array::from_fn(|i| rows[i]);
    let hi = lo + rows[0].len();
    let (cols, phases) = cols.split_at_mut(T * width);
    let mut down = rows_mut::<T>(cols, width);
    for row in &mut down {
        row[..lo].fill(0.0);
        row[hi..].fill(0.0);
    }
    lanes(rows, down.map(|row| &mut row[lo..hi]), f);
    for xi in 0..T {
        let row = &cols[xi * width..][..width];
        let mut planes = v.chunks_mut(n).skip(xi).step_by(T);
        let out = std::array::from_fn(|_| &mut planes.next().expect("T planes")[..len]);
        lanes(window_streams::<T, O>(row, len, phases), out, f);
    }
}

/// `streams[j][k] = row[O·k + j]`: sample `j` of each of the `len` windows of `T`
/// samples, `O` apart, that `row` holds. Windows overlap, so the row is split into
/// its `O` phases (`phase[r][k] = row[O·k + r]`, in `phases`) and each stream is a
/// phase from its first or second window on: contiguous, so the transform of every
/// window runs along lanes (window by window, it ran scalar).
#[inline(always)]
fn window_streams<'a, const T: usize, const O: usize>(
    row: &[f32],
    len: usize,
    phases: &'a mut [f32],
) -> [&'a [f32]; T] {
    let stride = len + 1;
    {
        let phase = rows_mut::<O>(phases, stride);
        for (k, window) in row[..O * len].chunks_exact(O).enumerate() {
            for r in 0..O {
                phase[r][k] = window[r];
            }
        }
        for (r, &x) in row[O * len..].iter().enumerate() {
            phase[r][len] = x;
        }
    }
    let phases = &*phases;
    std::array::from_fn(|j| &phases[(j % O) * stride + j / O..][..len])
}

#[inline(always)]
fn output_columns<const T: usize, const O: usize>(
    prod: &[f32],
    half: &mut [f32],
    n: usize,
    f: impl Line<T, O>,
) {
    for nu in 0..T {
        let rows = std::array::from_fn(|xi| &prod[(T * nu + xi) * n..][..n]);
        lanes(rows, rows_mut::<O>(&mut half[O * nu * n..], n), f);
    }
}

#[inline(always)]
fn output_row<const T: usize, const O: usize>(
    half: &[f32],
    n: usize,
    i: usize,
    row: &mut [f32],
    f: impl Line<T, O>,
) {
    let len = row.len().div_ceil(O);
    let lanes = std::array::from_fn(|nu| &half[(O * nu + i) * n..][..len]);
    let mut tiles = row.chunks_exact_mut(O);
    for (k, out) in (&mut tiles).enumerate() {
        out.copy_from_slice(&f.apply(lanes.map(|r| r[k])));
    }
    let cut = tiles.into_remainder();
    if !cut.is_empty() {
        let y = f.apply(lanes.map(|r| r[len - 1]));
        cut.copy_from_slice(&y[..cut.len()]);
    }
}

#[inline(always)]
fn filter_2d<const T: usize>(
    taps: &[f32],
    half: &mut [f32],
    out: &mut [f32],
    c: usize,
    f: impl Line<3, T>,
) {
    // Along each filter row (e → ν): half[T·a + ν].
    for a in 0..3 {
        let rows = std::array::from_fn(|e| &taps[(3 * a + e) * c..][..c]);
        lanes(rows, rows_mut::<T>(&mut half[T * a * c..], c), f);
    }
    // Down each column (a → ξ): out[T·ν + ξ].
    for nu in 0..T {
        let rows = std::array::from_fn(|a| &half[(T * a + nu) * c..][..c]);
        lanes(rows, rows_mut::<T>(&mut out[T * nu * c..], c), f);
    }
}

/// A 1-D transform of `I` samples to `O`, on single samples and on vectors alike.
pub(super) trait Line<const I: usize, const O: usize>: Copy {
    fn apply<S: Sample>(self, x: [S; I]) -> [S; O];
}

/// F(4, 3), interpolation points 0, ±1, ±2 and ∞.
mod f4 {
    use super::{Line, Sample};

    /// `Bᵀ·d`: six input samples to six transformed ones.
    #[derive(Clone, Copy)]
    pub(super) struct Input;

    impl Line<6, 6> for Input {
        #[inline(always)]
        fn apply<S: Sample>(self, d: [S; 6]) -> [S; 6] {
            [
                d[0] * 4.0 - d[2] * 5.0 + d[4],
                d[1] * -4.0 - d[2] * 4.0 + d[3] + d[4],
                d[1] * 4.0 - d[2] * 4.0 - d[3] + d[4],
                d[1] * -2.0 - d[2] + d[3] * 2.0 + d[4],
                d[1] * 2.0 - d[2] - d[3] * 2.0 + d[4],
                d[1] * 4.0 - d[3] * 5.0 + d[5],
            ]
        }
    }

    /// `G·g`: three filter taps to six transformed ones.
    #[derive(Clone, Copy)]
    pub(super) struct Filter;

    impl Line<3, 6> for Filter {
        #[inline(always)]
        fn apply<S: Sample>(self, g: [S; 3]) -> [S; 6] {
            [
                g[0] / 4.0,
                -(g[0] + g[1] + g[2]) / 6.0,
                -(g[0] - g[1] + g[2]) / 6.0,
                g[0] / 24.0 + g[1] / 12.0 + g[2] / 6.0,
                g[0] / 24.0 - g[1] / 12.0 + g[2] / 6.0,
                g[2],
            ]
        }
    }

    /// `Aᵀ·m`: six products to four outputs.
    #[derive(Clone, Copy)]
    pub(super) struct Output;

    impl Line<6, 4> for Output {
        #[inline(always)]
        fn apply<S: Sample>(self, m: [S; 6]) -> [S; 4] {
            let (s12, d12) = (m[1] + m[2], m[1] - m[2]);
            let (s34, d34) = (m[3] + m[4], m[3] - m[4]);
            [
                m[0] + s12 + s34,
                d12 + d34 * 2.0,
                s12 + s34 * 4.0,
                d12 + d34 * 8.0 + m[5],
            ]
        }
    }
}

/// F(2, 3), interpolation points 0, ±1 and ∞.
mod f2 {
    use super::{Line, Sample};

    /// `Bᵀ·d`.
    #[derive(Clone, Copy)]
    pub(super) struct Input;

    impl Line<4, 4> for Input {
        #[inline(always)]
        fn apply<S: Sample>(self, d: [S; 4]) -> [S; 4] {
            [d[0] - d[2], d[1] + d[2], d[2] - d[1], d[1] - d[3]]
        }
    }

    /// `G·g`.
    #[derive(Clone, Copy)]
    pub(super) struct Filter;

    impl Line<3, 4> for Filter {
        #[inline(always)]
        fn apply<S: Sample>(self, g: [S; 3]) -> [S; 4] {
            [
                g[0],
                (g[0] + g[1] + g[2]) * 0.5,
                (g[0] - g[1] + g[2]) * 0.5,
                g[2],
            ]
        }
    }

    /// `Aᵀ·m`.
    #[derive(Clone, Copy)]
    pub(super) struct Output;

    impl Line<4, 2> for Output {
        #[inline(always)]
        fn apply<S: Sample>(self, m: [S; 4]) -> [S; 2] {
            [m[0] + m[1] + m[2], m[1] - m[2] - m[3]]
        }
    }
}

/// `out[r][t] = f(column t of `rows`)[r]` for every lane `t`: one 1-D transform
/// applied to as many tiles as the rows are long, [`LANES`] at a time.
#[inline(always)]
fn lanes<const I: usize, const O: usize>(
    rows: [&[f32]; I],
    out: [&mut [f32]; O],
    f: impl Line<I, O>,
) {
    let n = out[0].len();
    let rows = rows.map(|r| &r[..n]);
    let out = out.map(|o| &mut o[..n]);
    let whole = n / LANES * LANES;
    for t in (0..whole).step_by(LANES) {
        let y = f.apply(rows.map(|r| V8::load(&r[t..])));
        for j in 0..O {
            y[j].store(&mut out[j][t..]);
        }
    }
    for t in whole..n {
        let y = f.apply(rows.map(|r| r[t]));
        for j in 0..O {
            out[j][t] = y[j];
        }
    }
}

/// The first `N` rows of `n` lanes of `buf`, as separate mutable slices.
#[inline(always)]
fn rows_mut<const N: usize>(buf: &mut [f32], n: usize) -> [&mut [f32]; N] {
    let mut rest = &mut buf[..N * n];
    std::array::from_fn(|_| {
        let (row, tail) = std::mem::take(&mut rest).split_at_mut(n);
        rest = tail;
        row
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The 1-D identities the 2-D transforms rest on, against the plain correlation.
    #[test]
    fn one_dimension_equals_correlation() {
        let d = [0.3f32, -1.2, 2.5, 0.7, -0.4, 1.9];
        let g = [0.5f32, -0.25, 1.5];
        let want = |i: usize| -> f32 { (0..3).map(|k| g[k] * d[i + k]).sum() };
        let (u, v) = (f4::Filter.apply(g), f4::Input.apply(d));
        let y = f4::Output.apply(std::array::from_fn(|i| u[i] * v[i]));
        let d2 = [d[0], d[1], d[2], d[3]];
        let (u2, v2) = (f2::Filter.apply(g), f2::Input.apply(d2));
        let y2 = f2::Output.apply(std::array::from_fn(|i| u2[i] * v2[i]));
        for (i, yi) in y.iter().chain(&y2).enumerate() {
            let w = want(i % 4);
            assert!((yi - w).abs() < 1e-5, "output {i}: {yi} vs {w}");
        }
    }

    /// Window `k` of a row, sample `j`, is `row[4k + j]` (F(4, 3): six samples,
    /// four apart), whichever phase and offset it is read from.
    #[test]
    fn window_streams_read_every_window() {
        let (len, width) = (5, 4 * 5 + 2);
        let row: Vec<f32> = (0..width).map(|v| v as f32).collect();
        let mut phases = vec![f32::NAN; 4 * (len + 1)];
        let streams = window_streams::<6, 4>(&row, len, &mut phases);
        for (j, stream) in streams.iter().enumerate() {
            let want: Vec<f32> = (0..len).map(|k| (4 * k + j) as f32).collect();
            assert_eq!(stream.to_vec(), want, "sample {j}");
        }
    }

    /// Thirteen lanes: one vector of eight and five single ones, each the transform
    /// of its own column.
    #[test]
    fn lanes_transform_each_column_alike() {
        let n = 13;
        let rows: Vec<Vec<f32>> = (0..6)
            .map(|i| {
                (0..n)
                    .map(|t| ((i * 7 + t * 3) % 11) as f32 - 5.0)
                    .collect()
            })
            .collect();
        let mut out = vec![0.0; 4 * n];
        lanes(
            std::array::from_fn(|i| &rows[i][..]),
            rows_mut::<4>(&mut out, n),
            f4::Output,
        );
        for t in 0..n {
            let y = f4::Output.apply(std::array::from_fn(|i| rows[i][t]));
            for (r, want) in y.iter().enumerate() {
                assert_eq!(out[r * n + t], *want, "lane {t}, output {r}");
            }
        }
    }

    #[test]
    fn rows_mut_splits_in_order() {
        let mut buf: Vec<f32> = (0..8).map(|v| v as f32).collect();
        let [a, b, c] = rows_mut::<3>(&mut buf, 2);
        assert_eq!((a[0], b[0], c[1]), (0.0, 2.0, 5.0));
    }
}
