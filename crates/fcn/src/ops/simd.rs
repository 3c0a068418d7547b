//! Runs a closure compiled for AVX-512 when the CPU has it. The crate is built for
//! the x86-64 baseline (SSE2, 4 lanes) so that the binary runs anywhere; the
//! element-wise loops of the fused kernels (the loss's exponentials, pooling,
//! BatchNorm sums) were limited by that width, and 16 lanes make them up to four
//! times faster. Results are identical either way: these loops never reorder a sum
//! (vectorised sums keep explicit lanes).

/// `f()`, with AVX-512 enabled for whatever of `f` is inlined into it (callers
/// mark their hot inner functions `#[inline(always)]`).
#[inline(always)]
pub fn wide<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU was just seen to support every enabled feature.
            return unsafe { avx512(f) };
        }
    }
    f()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn avx512<R>(f: impl FnOnce() -> R) -> R {
    f()
}
