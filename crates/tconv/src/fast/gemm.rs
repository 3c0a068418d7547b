//! A safe, bounds-checked front for the `gemm` crate's matrix multiply.

pub(crate) use gemm::Parallelism;

/// A read-only strided matrix over a slice.
#[derive(Clone, Copy)]
pub(crate) struct Mat<'a> {
    data: &'a [f32],
    rows: usize,
    cols: usize,
    row_stride: usize,
    col_stride: usize,
}

impl<'a> Mat<'a> {
    /// `rows × cols`, row-major with rows `ld` elements apart.
    pub fn strided(data: &'a [f32], rows: usize, cols: usize, ld: usize) -> Self {
        let m = Self {
            data,
            rows,
            cols,
            row_stride: ld,
            col_stride: 1,
        };
        assert!(m.fits(data.len()), "matrix view exceeds its slice");
        m
    }

    /// `rows × cols`, densely row-major.
    pub fn row_major(data: &'a [f32], rows: usize, cols: usize) -> Self {
        Self::strided(data, rows, cols, cols)
    }

    /// The transpose, without copying.
    pub fn t(self) -> Self {
        Self {
            rows: self.cols,
            cols: self.rows,
            row_stride: self.col_stride,
            col_stride: self.row_stride,
            ..self
        }
    }

    fn fits(&self, len: usize) -> bool {
        self.rows == 0
            || self.cols == 0
            || (self.rows - 1) * self.row_stride + (self.cols - 1) * self.col_stride < len
    }
}

/// `dst = a · b`, or `dst += a · b` when `accumulate`; `dst` is `a.rows × b.cols`,
/// row-major with rows `ld` elements apart.
pub(crate) fn matmul(
    dst: &mut [f32],
    ld: usize,
    a: Mat,
    b: Mat,
    accumulate: bool,
    parallelism: Parallelism,
) {
    let (m, n) = (a.rows, b.cols);
    if m == 0 || n == 0 {
        return;
    }
    assert!(
        (m - 1) * ld + n <= dst.len() && n <= ld,
        "matrix product exceeds its destination"
    );
    // SAFETY: the destination fits in `dst`, checked above; `dst` is borrowed
    // mutably, so nothing else reads or writes it meanwhile.
    unsafe { matmul_to_ptr(dst.as_mut_ptr(), ld, a, b, accumulate, parallelism) }
}

/// [`matmul`] into a raw destination, for callers that write disjoint blocks of one
/// array from several threads.
///
/// # Safety
/// `dst` must be valid for writes at `dst + r·ld + c` for every `r < a.rows`,
/// `c < b.cols`, and no other thread may access those elements during the call.
pub(crate) unsafe fn matmul_to_ptr(
    dst: *mut f32,
    ld: usize,
    a: Mat,
    b: Mat,
    accumulate: bool,
    parallelism: Parallelism,
) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    assert_eq!(k, b.rows, "inner dimensions of a matrix product differ");
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            for r in 0..m {
                // SAFETY: row r of the destination, valid by the caller's contract.
                unsafe { std::slice::from_raw_parts_mut(dst.add(r * ld), n) }.fill(0.0);
            }
        }
        return;
    }
    // SAFETY: the inputs' extents were checked in `Mat::strided`; the destination's
    // validity and exclusivity are the caller's contract.
    unsafe {
        kernel()(
            m,
            n,
            k,
            dst,
            1,
            ld as isize,
            accumulate,
            a.data.as_ptr(),
            a.col_stride as isize,
            a.row_stride as isize,
            b.data.as_ptr(),
            b.col_stride as isize,
            b.row_stride as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            parallelism,
        );
    }
}

/// gemm's entry point: `dst := alpha·dst + beta·lhs·rhs`, strides per element.
type GemmFn = unsafe fn(
    usize,
    usize,
    usize,
    *mut f32,
    isize,
    isize,
    bool,
    *const f32,
    isize,
    isize,
    *const f32,
    isize,
    isize,
    f32,
    f32,
    bool,
    bool,
    bool,
    Parallelism,
);

/// The gemm for [`simd::path`](crate::kernels::simd::path): the crate's own choice
/// (its widest kernels) on the AVX-512 path, its AVX2 or scalar kernels when
/// `FCN_SIMD` forces a narrower one, so a forced path times the whole network.
fn kernel() -> GemmFn {
    use crate::kernels::simd::{Path, path};
    match path() {
        #[cfg(target_arch = "x86_64")]
        Path::Avx2 => forced::AVX2,
        Path::Scalar => forced::SCALAR,
        _ => gemm::gemm::<f32>,
    }
}

/// gemm's per-instruction-set kernels, driven the way `gemm::gemm` drives its own
/// choice (its column-major preference included), for a path chosen here.
mod forced {
    use gemm_common::gemm::gemm_basic_generic;
    use gemm_common::simd::MixedSimd;

    /// Swaps the operands (`dstᵀ = rhsᵀ·lhsᵀ`) when the destination is stored by rows:
    /// the microkernels want it by columns. Every stride here is positive.
    macro_rules! oriented {
        ($simd:ty, $ukr:path, $lanes:expr) => {{
            use $ukr as k;
            |m,
             n,
             depth,
             dst,
             d_cs,
             d_rs,
             read,
             lhs,
             l_cs,
             l_rs,
             rhs,
             r_cs,
             r_rs,
             alpha,
             beta,
             _,
             _,
             _,
             par| {
                let args = if d_cs.abs() < d_rs.abs() {
                    (n, m, d_rs, d_cs, rhs, r_rs, r_cs, lhs, l_rs, l_cs)
                } else {
                    (m, n, d_cs, d_rs, lhs, l_cs, l_rs, rhs, r_cs, r_rs)
                };
                let (m, n, d_cs, d_rs, lhs, l_cs, l_rs, rhs, r_cs, r_rs) = args;
                // SAFETY: `kernel` picks this only on a CPU with the instruction set
                // (`simd::path` is capped at what the CPU supports); the pointers are
                // the caller's contract, as for `gemm::gemm`.
                unsafe {
                    gemm_basic_generic::<
                        $simd,
                        f32,
                        { $lanes },
                        { k::MR_DIV_N * $lanes },
                        { k::NR },
                        { k::MR_DIV_N },
                        { k::H_M },
                        { k::H_N },
                    >(
                        <$simd as MixedSimd<f32, f32, f32, f32>>::try_new()
                            .expect("the CPU has the forced instruction set"),
                        m,
                        n,
                        depth,
                        dst,
                        d_cs,
                        d_rs,
                        read,
                        lhs,
                        l_cs,
                        l_rs,
                        rhs,
                        r_cs,
                        r_rs,
                        alpha,
                        beta,
                        false,
                        false,
                        false,
                        |a, b, c| a * b + c,
                        &k::UKR,
                        &k::H_UKR,
                        false,
                        par,
                    )
                }
            }
        }};
    }

    #[cfg(target_arch = "x86_64")]
    pub(super) const AVX2: super::GemmFn =
        oriented!(gemm_common::simd::V3, gemm_f32::microkernel::fma::f32, 8);
    pub(super) const SCALAR: super::GemmFn = oriented!(
        gemm_common::simd::Scalar,
        gemm_f32::microkernel::scalar::f32,
        1
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every kernel against a plain triple loop, on shapes that leave partial
    /// microkernel tiles, with rows-major and transposed operands, overwriting and
    /// accumulating.
    #[test]
    fn each_instruction_set_multiplies_like_the_definition() {
        let mut kernels: Vec<(&str, GemmFn)> =
            vec![("auto", gemm::gemm::<f32>), ("scalar", forced::SCALAR)];
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            kernels.push(("avx2", forced::AVX2));
        }
        let value = |i: usize| ((i * 37 % 101) as f32 - 50.0) / 25.0;
        for (m, k, n) in [
            (1, 1, 1),
            (5, 3, 7),
            (17, 33, 29),
            (64, 70, 48),
            (3, 300, 2),
        ] {
            let a: Vec<f32> = (0..m * k).map(value).collect();
            let b: Vec<f32> = (0..k * n).map(|i| value(i + 7)).collect();
            let bt: Vec<f32> = (0..n * k).map(|i| b[(i % k) * n + i / k]).collect();
            let start: Vec<f32> = (0..m * n).map(|i| value(i + 3)).collect();
            for accumulate in [false, true] {
                let expected: Vec<f64> = (0..m * n)
                    .map(|i| {
                        let (r, c) = (i / n, i % n);
                        let dot: f64 = (0..k)
                            .map(|j| a[r * k + j] as f64 * b[j * n + c] as f64)
                            .sum();
                        dot + if accumulate { start[i] as f64 } else { 0.0 }
                    })
                    .collect();
                for (name, f) in &kernels {
                    for transposed in [false, true] {
                        let mut dst = start.clone();
                        let rhs = if transposed {
                            Mat::row_major(&bt, n, k).t()
                        } else {
                            Mat::row_major(&b, k, n)
                        };
                        let lhs = Mat::row_major(&a, m, k);
                        // SAFETY: `dst` holds m × n elements and is borrowed mutably.
                        unsafe {
                            f(
                                m,
                                n,
                                k,
                                dst.as_mut_ptr(),
                                1,
                                n as isize,
                                accumulate,
                                lhs.data.as_ptr(),
                                lhs.col_stride as isize,
                                lhs.row_stride as isize,
                                rhs.data.as_ptr(),
                                rhs.col_stride as isize,
                                rhs.row_stride as isize,
                                1.0,
                                1.0,
                                false,
                                false,
                                false,
                                Parallelism::None,
                            )
                        };
                        for (got, want) in dst.iter().zip(&expected) {
                            assert!(
                                (*got as f64 - want).abs() <= 1e-4 * (1.0 + want.abs()),
                                "{name} {m}x{k}x{n} transposed={transposed} accumulate={accumulate}: {got} vs {want}"
                            );
                        }
                    }
                }
            }
        }
    }
}
