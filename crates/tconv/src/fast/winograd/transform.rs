//! The transforms of Winograd's F(4, 3) and F(2, 3), one dimension at a time (Lavin
//! & Gray's matrices), each applied to many tiles at once: every argument is a row
//! of lanes, one lane a tile, so the loops vectorise.
//!
//! In one dimension, for `m + 2` input samples `d` and a 3-tap filter `g`, the `m`
//! correlation outputs `y[i] = Σ_k g[k]·d[i+k]` are `Aᵀ·((G·g) ⊙ (Bᵀ·d))`; in two,
//! `Y = Aᵀ·((G·g·Gᵀ) ⊙ (Bᵀ·d·B))·A`, which [`Tile`] applies one axis at a time.

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
    /// the samples outside are padding, zero. `cols` is scratch for `t` such rows.
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
            Tile::F4 => input_lines::<6, 4>(rows, lo, cols, (v, n), len, f4::input),
            Tile::F2 => input_lines::<4, 2>(rows, lo, cols, (v, n), len, f2::input),
        }
    }

    /// `out[t·ν + ξ] = (G·g·Gᵀ)[ξ][ν]` for every lane's filter `taps[3a + e]`.
    #[inline(always)]
    pub fn filter(self, taps: &[f32], half: &mut [f32], out: &mut [f32], c: usize) {
        match self {
            Tile::F4 => filter_2d::<6>(taps, half, out, c, f4::filter),
            Tile::F2 => filter_2d::<4>(taps, half, out, c, f2::filter),
        }
    }

    /// `half[(o·ν + i)·n + k]`: every lane's products `prod[(t·ν + ξ)·n + k]`
    /// transformed down each column (`Aᵀ·M`).
    #[inline(always)]
    pub fn output_columns(self, prod: &[f32], half: &mut [f32], n: usize) {
        match self {
            Tile::F4 => output_columns::<6, 4>(prod, half, n, f4::output),
            Tile::F2 => output_columns::<4, 2>(prod, half, n, f2::output),
        }
    }

    /// `row[o·k + j] = (Aᵀ·M·A)[i][j]` for the tiles `k` that `row` covers, from
    /// the lanes `half[(o·ν + i)·n + k]` of [`Tile::output_columns`]: row `i` of
    /// those tiles, side by side, the last one cut to fit.
    #[inline(always)]
    pub fn output_row(self, half: &[f32], n: usize, i: usize, row: &mut [f32]) {
        match self {
            Tile::F4 => output_row::<6, 4>(half, n, i, row, f4::output),
            Tile::F2 => output_row::<4, 2>(half, n, i, row, f2::output),
        }
    }
}

/// Down the columns (`i → ξ`), all of them at once, then along each transformed
/// row (`j → ν`) window by window.
#[inline(always)]
fn input_lines<const T: usize, const O: usize>(
    rows: &[&[f32]],
    lo: usize,
    cols: &mut [f32],
    (v, n): (&mut [f32], usize),
    len: usize,
    f: impl Fn([f32; T]) -> [f32; T] + Copy,
) {
    let width = O * len + T - O;
    let rows: [&[f32]; T] = std::array::from_fn(|i| rows[i]);
    let hi = lo + rows[0].len();
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
        windows::<T, O, T>(row, out, f);
    }
}

#[inline(always)]
fn output_columns<const T: usize, const O: usize>(
    prod: &[f32],
    half: &mut [f32],
    n: usize,
    f: impl Fn([f32; T]) -> [f32; O] + Copy,
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
    f: impl Fn([f32; T]) -> [f32; O] + Copy,
) {
    let len = row.len().div_ceil(O);
    let lanes = std::array::from_fn(|nu| &half[(O * nu + i) * n..][..len]);
    let mut tiles = row.chunks_exact_mut(O);
    for (k, out) in (&mut tiles).enumerate() {
        out.copy_from_slice(&f(lanes.map(|r| r[k])));
    }
    let cut = tiles.into_remainder();
    if !cut.is_empty() {
        let y = f(lanes.map(|r| r[len - 1]));
        cut.copy_from_slice(&y[..cut.len()]);
    }
}

#[inline(always)]
fn filter_2d<const T: usize>(
    taps: &[f32],
    half: &mut [f32],
    out: &mut [f32],
    c: usize,
    f: impl Fn([f32; 3]) -> [f32; T] + Copy,
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

/// F(4, 3), interpolation points 0, ±1, ±2 and ∞.
mod f4 {
    /// `Bᵀ·d`: six input samples to six transformed ones.
    #[inline(always)]
    pub(super) fn input(d: [f32; 6]) -> [f32; 6] {
        [
            4.0 * d[0] - 5.0 * d[2] + d[4],
            -4.0 * d[1] - 4.0 * d[2] + d[3] + d[4],
            4.0 * d[1] - 4.0 * d[2] - d[3] + d[4],
            -2.0 * d[1] - d[2] + 2.0 * d[3] + d[4],
            2.0 * d[1] - d[2] - 2.0 * d[3] + d[4],
            4.0 * d[1] - 5.0 * d[3] + d[5],
        ]
    }

    /// `G·g`: three filter taps to six transformed ones.
    #[inline(always)]
    pub(super) fn filter(g: [f32; 3]) -> [f32; 6] {
        [
            g[0] / 4.0,
            -(g[0] + g[1] + g[2]) / 6.0,
            -(g[0] - g[1] + g[2]) / 6.0,
            g[0] / 24.0 + g[1] / 12.0 + g[2] / 6.0,
            g[0] / 24.0 - g[1] / 12.0 + g[2] / 6.0,
            g[2],
        ]
    }

    /// `Aᵀ·m`: six products to four outputs.
    #[inline(always)]
    pub(super) fn output(m: [f32; 6]) -> [f32; 4] {
        let (s12, d12) = (m[1] + m[2], m[1] - m[2]);
        let (s34, d34) = (m[3] + m[4], m[3] - m[4]);
        [
            m[0] + s12 + s34,
            d12 + 2.0 * d34,
            s12 + 4.0 * s34,
            d12 + 8.0 * d34 + m[5],
        ]
    }
}

/// F(2, 3), interpolation points 0, ±1 and ∞.
mod f2 {
    /// `Bᵀ·d`.
    #[inline(always)]
    pub(super) fn input(d: [f32; 4]) -> [f32; 4] {
        [d[0] - d[2], d[1] + d[2], d[2] - d[1], d[1] - d[3]]
    }

    /// `G·g`.
    #[inline(always)]
    pub(super) fn filter(g: [f32; 3]) -> [f32; 4] {
        [
            g[0],
            (g[0] + g[1] + g[2]) * 0.5,
            (g[0] - g[1] + g[2]) * 0.5,
            g[2],
        ]
    }

    /// `Aᵀ·m`.
    #[inline(always)]
    pub(super) fn output(m: [f32; 4]) -> [f32; 2] {
        [m[0] + m[1] + m[2], m[1] - m[2] - m[3]]
    }
}

/// `out[r][t] = f(column t of `rows`)[r]` for every lane `t`: one 1-D transform
/// applied to as many tiles as the rows are long.
#[inline(always)]
fn lanes<const I: usize, const O: usize>(
    rows: [&[f32]; I],
    out: [&mut [f32]; O],
    f: impl Fn([f32; I]) -> [f32; O],
) {
    let n = out[0].len();
    let rows = rows.map(|r| &r[..n]);
    let mut out = out.map(|o| &mut o[..n]);
    for t in 0..n {
        let y = f(rows.map(|r| r[t]));
        for (o, v) in out.iter_mut().zip(y) {
            o[t] = v;
        }
    }
}

/// `out[r][k] = f(row[step·k .. step·k + I])[r]`: one 1-D transform of each window
/// of `I` samples, windows `step` apart.
#[inline(always)]
fn windows<const I: usize, const STEP: usize, const R: usize>(
    row: &[f32],
    out: [&mut [f32]; R],
    f: impl Fn([f32; I]) -> [f32; R],
) {
    let len = out[0].len();
    let mut out = out.map(|o| &mut o[..len]);
    for (k, w) in row.windows(I).step_by(STEP).take(len).enumerate() {
        let y = f(std::array::from_fn(|j| w[j]));
        for (o, v) in out.iter_mut().zip(y) {
            o[k] = v;
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
        let (u, v) = (f4::filter(g), f4::input(d));
        let y = f4::output(std::array::from_fn(|i| u[i] * v[i]));
        let d2 = [d[0], d[1], d[2], d[3]];
        let (u2, v2) = (f2::filter(g), f2::input(d2));
        let y2 = f2::output(std::array::from_fn(|i| u2[i] * v2[i]));
        for (i, yi) in y.iter().chain(&y2).enumerate() {
            let w = want(i % 4);
            assert!((yi - w).abs() < 1e-5, "output {i}: {yi} vs {w}");
        }
    }

    #[test]
    fn rows_mut_splits_in_order() {
        let mut buf: Vec<f32> = (0..8).map(|v| v as f32).collect();
        let [a, b, c] = rows_mut::<3>(&mut buf, 2);
        assert_eq!((a[0], b[0], c[1]), (0.0, 2.0, 5.0));
    }
}
