//! Bilinear resizing with PyTorch's `F.interpolate(x, size, mode="bilinear",
//! align_corners=False)` semantics. On `tconv` (f32 on the CPU) it is one op with
//! its own backward, two taps per output (`tconv::kernels::resize`). Elsewhere it is
//! two matrix products, `Ry · x · Rxᵀ`, where each row of `Ry` (`Rx`) holds the two
//! weights that output row (column) takes from its input neighbours: they run on
//! every backend and autodiff differentiates them, so the backward pass is
//! PyTorch's too. The matrix form took about 5 % of a demo training epoch on the
//! CPU, for a few MFLOP of work.
//!
//! Burn's own `interpolate` is not used: the semantics of its bilinear mode have
//! changed between versions, and both forms here are exact by construction.

use burn::backend::Dispatch;
use burn::tensor::{Device, Tensor, TensorData};

use super::backend::TconvBackend;
use super::{Kernels, on_tconv};

/// The `[out, input]` interpolation matrix of one axis, from the taps of
/// `tconv::kernels::resize::bilinear_taps`.
pub fn interpolation_matrix(out: usize, input: usize) -> Vec<f32> {
    let mut m = vec![0.0f32; out * input];
    let taps = tconv::kernels::resize::bilinear_taps(out, input);
    for (d, t) in taps.iter().enumerate() {
        m[d * input + t.lo] += 1.0 - t.far;
        m[d * input + t.hi] += t.far;
    }
    m
}

fn matrix(rows: usize, cols: usize, values: Vec<f32>, device: &Device) -> Tensor<4> {
    Tensor::from_data(TensorData::new(values, [1, 1, rows, cols]), device)
}

/// `x` `[N, C, h, w]` resized to `[N, C, height, width]`, bilinear, corners not
/// aligned, on `kernels`. Empty sizes are the caller's to refuse.
pub fn resize_bilinear(x: Tensor<4>, [height, width]: [usize; 2], kernels: Kernels) -> Tensor<4> {
    let [n, c, h, w] = x.dims();
    if [h, w] == [height, width] {
        return x;
    }
    if on_tconv(&x, kernels) {
        let y =
            <Dispatch as TconvBackend>::tconv_resize_bilinear(x.into_dispatch(), [height, width]);
        return Tensor::from_dispatch(y);
    }
    let device = x.device();
    let rows = matrix(height, h, interpolation_matrix(height, h), &device);
    let mut cols_t = interpolation_matrix(width, w);
    cols_t = transpose(&cols_t, width, w);
    let cols_t = matrix(w, width, cols_t, &device);
    let y = rows.expand([n, c, height, h]).matmul(x);
    y.matmul(cols_t.expand([n, c, w, width]))
}

fn transpose(m: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut t = vec![0.0; m.len()];
    for r in 0..rows {
        for c in 0..cols {
            t[c * rows + r] = m[r * cols + c];
        }
    }
    t
}

#[cfg(test)]
mod tests {
    use super::interpolation_matrix;

    /// Worked by hand from PyTorch's formula: 2 → 4 samples at source coordinates
    /// −0.25 (clamped to 0), 0.25, 0.75, 1.25 (past the last input: all on it).
    #[test]
    fn upsampling_by_two_by_hand() {
        let m = interpolation_matrix(4, 2);
        assert_eq!(m, vec![1.0, 0.0, 0.75, 0.25, 0.25, 0.75, 0.0, 1.0]);
    }

    /// 4 → 2: coordinates 0.5 and 2.5, halfway between neighbours.
    #[test]
    fn downsampling_by_two_by_hand() {
        let m = interpolation_matrix(2, 4);
        assert_eq!(m, vec![0.5, 0.5, 0.0, 0.0, 0.0, 0.0, 0.5, 0.5]);
    }

    #[test]
    fn every_row_sums_to_one() {
        for (out, input) in [(13, 100), (100, 13), (65, 520), (7, 7), (1, 5), (5, 1)] {
            let m = interpolation_matrix(out, input);
            for r in m.chunks(input) {
                assert!((r.iter().sum::<f32>() - 1.0).abs() < 1e-6, "{out}×{input}");
            }
        }
    }
}
