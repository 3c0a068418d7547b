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
        gemm::gemm(
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
