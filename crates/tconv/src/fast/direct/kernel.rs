//! The register-blocked kernel: a block of output channels times a run of output
//! columns of one output row, summed over every tap straight from the prepared
//! image. Per tap it loads the run's inputs once and multiplies them by each
//! channel's weight, so an 8 × 3 block of AVX-512 vectors does 24 fused
//! multiply-adds for 3 loads and 8 broadcasts.

use super::vector::{Quad, Vector};

/// One output row of one image.
pub(super) struct RowJob<'a> {
    /// Per tap, the offset of its first read in `src`.
    pub taps: &'a [usize],
    /// The prepared image from this output row's first input row on.
    pub src: &'a [f32],
    /// Output columns.
    pub width: usize,
    /// Channel 0's output row; channel `m`'s is `m · channel_stride` further on.
    pub out: *mut f32,
    pub channel_stride: usize,
}

/// Weights as [`super::pack_weights`] lays them out.
pub(super) struct Block {
    pub weights: Vec<f32>,
    pub full_blocks: usize,
}

/// A compiled kernel for one instruction set.
pub(super) type RowKernel = unsafe fn(&RowJob, &Block);

/// A kernel, the output channels its blocks take (the weights are packed for this
/// many) and the output columns (the room [`super::Taps`] leaves past each row).
#[derive(Clone, Copy)]
pub(super) struct Kernel {
    pub row: RowKernel,
    pub channels: usize,
    pub width: usize,
}

/// The widest block any kernel takes, in columns (a stack buffer's size).
const MAX_WIDTH: usize = 64;

/// Blocks per instruction set: as many accumulators as leave registers for one
/// tap's inputs and a weight (AVX-512 has 32 vector registers, AVX2 16). AVX2's
/// 2 × 6 (48 columns) beat 3 × 4 (32 columns, which left ResNet's 64 channels a
/// one-channel tail and 240-column rows a half-empty last block) by 5–20 %, and
/// 4 × 3 ran at half the speed (`cargo run --release -p tconv --example
/// stem_timings` with `FCN_SIMD=avx2`, 2026-12-06).
const AVX512: (usize, usize) = (8, 3);
const AVX2: (usize, usize) = (2, 6);
const BASELINE: (usize, usize) = (4, 2);

/// The kernel for the instruction set in use.
pub(super) fn for_path(path: crate::kernels::simd::Path) -> Kernel {
    use crate::kernels::simd::Path;
    let kernel = |row, (channels, vectors): (usize, usize), lanes: usize| Kernel {
        row,
        channels,
        width: vectors * lanes,
    };
    match path {
        #[cfg(target_arch = "x86_64")]
        Path::Avx512 => kernel(avx512_row, AVX512, 16),
        #[cfg(target_arch = "x86_64")]
        Path::Avx2 => kernel(avx2_row, AVX2, 8),
        _ => kernel(baseline_row, BASELINE, 4),
    }
}

/// # Safety
/// The CPU supports AVX-512F; `job` is as [`row`] requires.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn avx512_row(job: &RowJob, block: &Block) {
    // SAFETY: passed on from the caller.
    unsafe { row::<super::vector::Avx512, { AVX512.0 }, { AVX512.1 }>(job, block) }
}

/// # Safety
/// The CPU supports AVX2 and FMA; `job` is as [`row`] requires.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn avx2_row(job: &RowJob, block: &Block) {
    // SAFETY: passed on from the caller.
    unsafe { row::<super::vector::Avx2, { AVX2.0 }, { AVX2.1 }>(job, block) }
}

/// # Safety
/// `job` is as [`row`] requires.
unsafe fn baseline_row(job: &RowJob, block: &Block) {
    // SAFETY: passed on from the caller.
    unsafe { row::<Quad, { BASELINE.0 }, { BASELINE.1 }>(job, block) }
}

/// Every output channel of `job`'s row, `VB` vectors of columns at a time.
///
/// # Safety
/// `src` holds `offset + width rounded up to VB · LANES` elements past every tap's
/// offset, and `out` is valid for writes of `width` columns of every channel's
/// row (`block`'s channels), `channel_stride` apart.
#[inline(always)]
unsafe fn row<V: Vector, const MB: usize, const VB: usize>(job: &RowJob, block: &Block) {
    let span = VB * V::LANES;
    debug_assert!(span <= MAX_WIDTH);
    debug_assert!(
        job.taps
            .iter()
            .all(|&t| t + job.width.div_ceil(span) * span <= job.src.len())
    );
    let taps = job.taps.len();
    let tail = &block.weights[block.full_blocks * MB * taps..];
    for x0 in (0..job.width).step_by(span) {
        // SAFETY: every load is inside `src` (the caller's guarantee).
        let src = unsafe { job.src.as_ptr().add(x0) };
        for b in 0..block.full_blocks {
            let w = &block.weights[b * MB * taps..(b + 1) * MB * taps];
            // SAFETY: as above; the stores are the caller's rows and columns.
            unsafe {
                let acc = tile::<V, MB, VB>(job.taps, src, w);
                store(job, b * MB, x0, &acc);
            }
        }
        for (i, w) in tail.chunks_exact(taps).enumerate() {
            // SAFETY: as above.
            unsafe {
                let acc = tile::<V, 1, VB>(job.taps, src, w);
                store(job, block.full_blocks * MB + i, x0, &acc);
            }
        }
    }
}

/// `MB` channels × `VB` vectors of outputs, summed over the taps; `w` holds the
/// `MB` weights of each tap in turn.
#[inline(always)]
unsafe fn tile<V: Vector, const MB: usize, const VB: usize>(
    taps: &[usize],
    src: *const f32,
    w: &[f32],
) -> [[V; VB]; MB] {
    let mut acc = [[V::zero(); VB]; MB];
    for (&offset, w) in taps.iter().zip(w.chunks_exact(MB)) {
        // SAFETY: inside `src` (the caller's guarantee).
        let load = |v: usize| unsafe { V::load(src.add(offset + v * V::LANES)) };
        if MB <= VB {
            // Fewer weights than inputs: keep the weights in registers and stream
            // the inputs (AVX2's 16 registers hold 2 × 6 accumulators, 2 weights
            // and one input, not 6 inputs too).
            let w: [V; MB] = std::array::from_fn(|i| V::splat(w[i]));
            for v in 0..VB {
                let x = load(v);
                for (acc, &w) in acc.iter_mut().zip(&w) {
                    acc[v] = acc[v].mul_add(w, x);
                }
            }
        } else {
            // Keep the inputs and broadcast each weight in turn (AVX-512 folds the
            // broadcast into the multiply-add).
            let x: [V; VB] = std::array::from_fn(load);
            for (acc, &w) in acc.iter_mut().zip(w) {
                let w = V::splat(w);
                for (acc, &x) in acc.iter_mut().zip(&x) {
                    *acc = acc.mul_add(w, x);
                }
            }
        }
    }
    acc
}

/// Writes a tile's channels `m0 ..` at columns `x0 ..`, dropping the columns past
/// the row's end.
#[inline(always)]
unsafe fn store<V: Vector, const VB: usize>(job: &RowJob, m0: usize, x0: usize, acc: &[[V; VB]]) {
    let valid = (job.width - x0).min(VB * V::LANES);
    for (i, acc) in acc.iter().enumerate() {
        // SAFETY: channel `m0 + i`'s row, columns `x0 .. x0 + valid`: the caller's.
        let dst = unsafe { job.out.add((m0 + i) * job.channel_stride + x0) };
        if valid == VB * V::LANES {
            for (v, a) in acc.iter().enumerate() {
                // SAFETY: as above.
                unsafe { a.store(dst.add(v * V::LANES)) };
            }
        } else {
            let mut buf = [0.0f32; MAX_WIDTH];
            for (v, a) in acc.iter().enumerate() {
                // SAFETY: `buf` holds `MAX_WIDTH ≥ VB · LANES` floats.
                unsafe { a.store(buf.as_mut_ptr().add(v * V::LANES)) };
            }
            // SAFETY: as above, `valid` columns.
            unsafe { std::ptr::copy_nonoverlapping(buf.as_ptr(), dst, valid) };
        }
    }
}
