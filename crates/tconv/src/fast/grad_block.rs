//! A block of a weight gradient, `rows × cols` (output channels × lowered rows),
//! summed from products `output gradient · loweredᵀ` and stored whichever way
//! round makes gemm copy less.
//!
//! gemm copies ("packs") the operand it must read across its rows. Stored by rows,
//! the block makes it pack the lowered matrix, `cols × width` per band; stored by
//! columns (transposed), it packs the output gradient, `rows × width`, and reads
//! the lowered matrix in place. With few output channels the second copies far
//! less: the demo's network's weight gradients went from 5.9–6.4 to 5.1–5.4 ms a
//! step (`layer_timings -- 8 4 128x192 8`). With many (ResNet-18's layer3 and
//! layer4 at full width), reading the lowered matrix in place for every block of
//! output channels cost up to 3× more, so those keep the row order.

use super::gemm::{Mat, Parallelism, matmul};

/// The most output channels for which a block is stored transposed (measured
/// with `layer_timings`: 64 gained, 128 lost).
const MAX_TRANSPOSED_ROWS: usize = 64;

pub(super) struct GradBlock {
    data: Vec<f32>,
    rows: usize,
    cols: usize,
    transposed: bool,
}

impl GradBlock {
    /// A zero block of `rows` output channels and `cols` lowered rows.
    pub(super) fn zeros(rows: usize, cols: usize) -> Self {
        Self::laid_out(rows, cols, rows <= MAX_TRANSPOSED_ROWS)
    }

    fn laid_out(rows: usize, cols: usize, transposed: bool) -> Self {
        Self {
            data: vec![0.0; rows * cols],
            rows,
            cols,
            transposed,
        }
    }

    /// `self += grad · loweredᵀ`, `grad` being `rows × width` and `lowered`
    /// `cols × width`.
    pub(super) fn add_product(&mut self, grad: Mat, lowered: Mat) {
        let (ld, a, b) = match self.transposed {
            true => (self.rows, lowered, grad.t()),
            false => (self.cols, grad, lowered.t()),
        };
        matmul(&mut self.data, ld, a, b, true, Parallelism::None);
    }

    /// Adds another block of the same shape and layout, element by element.
    pub(super) fn add(&mut self, other: &GradBlock) {
        assert_eq!(
            (self.rows, self.cols, self.transposed),
            (other.rows, other.cols, other.transposed),
            "gradient blocks differ in shape or layout"
        );
        self.data
            .iter_mut()
            .zip(&other.data)
            .for_each(|(a, b)| *a += b);
    }

    /// Writes the block into a row-major weight gradient `ld` columns wide, its
    /// row `r` at `weight[r · ld + first_col ..]`.
    pub(super) fn copy_into(&self, weight: &mut [f32], ld: usize, first_col: usize) {
        for r in 0..self.rows {
            let out = &mut weight[r * ld + first_col..][..self.cols];
            if self.transposed {
                for (j, o) in out.iter_mut().enumerate() {
                    *o = self.data[j * self.rows + r];
                }
            } else {
                out.copy_from_slice(&self.data[r * self.cols..(r + 1) * self.cols]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Both layouts sum the same products to the same block as a plain loop.
    #[test]
    fn both_layouts_sum_products_like_the_definition() {
        let (rows, cols, width) = (5, 7, 11);
        let value = |i: usize| ((i * 29 % 53) as f32 - 26.0) / 13.0;
        let grad: Vec<f32> = (0..rows * width).map(value).collect();
        let lowered: Vec<f32> = (0..cols * width).map(|i| value(i + 5)).collect();
        let direct = |r: usize, c: usize| -> f32 {
            let dot: f64 = (0..width)
                .map(|x| grad[r * width + x] as f64 * lowered[c * width + x] as f64)
                .sum();
            2.0 * dot as f32
        };
        for transposed in [false, true] {
            let mut block = GradBlock::laid_out(rows, cols, transposed);
            let mut once = GradBlock::laid_out(rows, cols, transposed);
            let g = Mat::row_major(&grad, rows, width);
            let l = Mat::row_major(&lowered, cols, width);
            block.add_product(g, l);
            once.add_product(g, l);
            block.add(&once);
            // Written one column in from the left of a wider matrix.
            let ld = cols + 2;
            let mut weight = vec![0.0; rows * ld];
            block.copy_into(&mut weight, ld, 1);
            for r in 0..rows {
                let row = &weight[r * ld + 1..][..cols];
                for (c, got) in row.iter().enumerate() {
                    let want = direct(r, c);
                    assert!(
                        (got - want).abs() < 1e-4 * (1.0 + want.abs()),
                        "transposed={transposed} ({r}, {c}): {got} vs {want}"
                    );
                }
            }
        }
    }
}
