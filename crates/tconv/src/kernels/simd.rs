//! Runs a closure compiled for the widest vectors the CPU has: AVX-512, else AVX2
//! with FMA, else the x86-64 baseline the crate is built for (SSE2, 4 lanes), so
//! that one binary runs anywhere and the element-wise loops of the kernels (the
//! loss's exponentials, pooling, BatchNorm sums) use 16 or 8 lanes where they can.
//! Results are identical on every path: these loops never reorder a sum
//! (vectorised sums keep explicit lanes).
//!
//! `FCN_SIMD=avx512|avx2|scalar` forces a path (one the CPU lacks falls back to the
//! best it has), to time or test the AVX2 path on an AVX-512 machine. The matrix
//! products follow it too: `fast::gemm` then calls the gemm crate's AVX2 or scalar
//! kernels instead of its own choice.

use std::sync::OnceLock;

/// The instruction sets a kernel may be compiled for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Path {
    /// The x86-64 baseline (or any other architecture's default).
    Scalar,
    /// AVX2 with FMA.
    Avx2,
    /// AVX-512 (F).
    Avx512,
}

impl Path {
    /// The name `FCN_SIMD` takes and `fcn bench` prints.
    pub fn name(self) -> &'static str {
        match self {
            Path::Scalar => "scalar",
            Path::Avx2 => "avx2",
            Path::Avx512 => "avx512",
        }
    }
}

/// The best path this CPU supports.
pub fn supported() -> Path {
    #[cfg(target_arch = "x86_64")]
    {
        // The AVX-512 path also runs AVX2+FMA code (`wide_avx2`), so it needs both:
        // real CPUs with AVX-512 have them, a virtual CPU need not report them.
        let avx2 = std::arch::is_x86_feature_detected!("avx2")
            && std::arch::is_x86_feature_detected!("fma");
        if avx2 && std::arch::is_x86_feature_detected!("avx512f") {
            return Path::Avx512;
        }
        if avx2 {
            return Path::Avx2;
        }
    }
    Path::Scalar
}

/// The path in use: `FCN_SIMD`'s choice, capped at what the CPU supports.
pub fn path() -> Path {
    static PATH: OnceLock<Path> = OnceLock::new();
    *PATH.get_or_init(|| {
        let forced = match std::env::var("FCN_SIMD").as_deref() {
            Ok("avx512") => Path::Avx512,
            Ok("avx2") => Path::Avx2,
            Ok("scalar") => Path::Scalar,
            _ => Path::Avx512,
        };
        forced.min(supported())
    })
}

/// `f()`, compiled for [`path`] for whatever of `f` is inlined into it. Callers
/// mark both the closure (`wide(#[inline(always)] || …)`) and their hot inner
/// functions `#[inline(always)]`: a closure left to the inliner's judgement is, once
/// its body is large, compiled on its own for the baseline, and every path then
/// runs SSE2 code (as the kernels did until the closures were marked).
#[inline(always)]
pub fn wide<R>(f: impl FnOnce() -> R) -> R {
    match path() {
        // SAFETY: `path` never exceeds what the CPU was seen to support.
        #[cfg(target_arch = "x86_64")]
        Path::Avx512 => unsafe { avx512(f) },
        #[cfg(target_arch = "x86_64")]
        Path::Avx2 => unsafe { avx2(f) },
        _ => f(),
    }
}

/// `f()`, compiled for AVX2 with FMA on either vector path: for loops whose rows
/// are short or strided (Winograd's transforms), where 512-bit code measured slower
/// than the baseline's and 256-bit code faster.
#[inline(always)]
pub fn wide_avx2<R>(f: impl FnOnce() -> R) -> R {
    match path() {
        // SAFETY: both paths imply AVX2 and FMA (`supported`).
        #[cfg(target_arch = "x86_64")]
        Path::Avx512 | Path::Avx2 => unsafe { avx2(f) },
        _ => f(),
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn avx512<R>(f: impl FnOnce() -> R) -> R {
    f()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn avx2<R>(f: impl FnOnce() -> R) -> R {
    f()
}
