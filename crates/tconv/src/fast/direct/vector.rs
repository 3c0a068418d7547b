//! The few vector operations the direct kernel needs, for each instruction set it is
//! compiled for. Every method is `#[inline(always)]` so that it compiles into the
//! `#[target_feature]` function that calls the kernel, with that function's
//! instructions.

/// A vector of `LANES` floats.
pub(super) trait Vector: Copy {
    const LANES: usize;
    fn zero() -> Self;
    fn splat(v: f32) -> Self;
    /// # Safety
    /// `p` must be valid for `LANES` reads (no alignment needed).
    unsafe fn load(p: *const f32) -> Self;
    /// # Safety
    /// `p` must be valid for `LANES` writes (no alignment needed).
    unsafe fn store(self, p: *mut f32);
    /// `a · b + self`, fused where the instruction set has it.
    fn mul_add(self, a: Self, b: Self) -> Self;
}

/// Four floats in plain arithmetic: the baseline, which the compiler turns into
/// SSE2 (no fused multiply-add there, so products round before the sum).
#[derive(Clone, Copy)]
pub(super) struct Quad([f32; 4]);

impl Vector for Quad {
    const LANES: usize = 4;
    #[inline(always)]
    fn zero() -> Self {
        Quad([0.0; 4])
    }
    #[inline(always)]
    fn splat(v: f32) -> Self {
        Quad([v; 4])
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self {
        // SAFETY: the caller guarantees 4 readable floats.
        Quad(unsafe { p.cast::<[f32; 4]>().read_unaligned() })
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f32) {
        // SAFETY: the caller guarantees 4 writable floats.
        unsafe { p.cast::<[f32; 4]>().write_unaligned(self.0) }
    }
    #[inline(always)]
    fn mul_add(self, a: Self, b: Self) -> Self {
        Quad(std::array::from_fn(|i| a.0[i] * b.0[i] + self.0[i]))
    }
}

#[cfg(target_arch = "x86_64")]
pub(super) use x86::{Avx2, Avx512};

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::Vector;
    use std::arch::x86_64::*;

    /// Sixteen floats in a zmm register. Only constructed inside functions compiled
    /// with `avx512f`, on a CPU that has it.
    #[derive(Clone, Copy)]
    pub(in super::super) struct Avx512(__m512);

    // SAFETY (every block below): these run only inlined into `avx512f` functions,
    // which are only called where the CPU supports AVX-512F.
    impl Vector for Avx512 {
        const LANES: usize = 16;
        #[inline(always)]
        fn zero() -> Self {
            Avx512(unsafe { _mm512_setzero_ps() })
        }
        #[inline(always)]
        fn splat(v: f32) -> Self {
            Avx512(unsafe { _mm512_set1_ps(v) })
        }
        #[inline(always)]
        unsafe fn load(p: *const f32) -> Self {
            Avx512(unsafe { _mm512_loadu_ps(p) })
        }
        #[inline(always)]
        unsafe fn store(self, p: *mut f32) {
            unsafe { _mm512_storeu_ps(p, self.0) }
        }
        #[inline(always)]
        fn mul_add(self, a: Self, b: Self) -> Self {
            Avx512(unsafe { _mm512_fmadd_ps(a.0, b.0, self.0) })
        }
    }

    /// Eight floats in a ymm register, with FMA. Only constructed inside functions
    /// compiled with `avx2,fma`, on a CPU that has both.
    #[derive(Clone, Copy)]
    pub(in super::super) struct Avx2(__m256);

    // SAFETY (every block below): these run only inlined into `avx2,fma` functions,
    // which are only called where the CPU supports both.
    impl Vector for Avx2 {
        const LANES: usize = 8;
        #[inline(always)]
        fn zero() -> Self {
            Avx2(unsafe { _mm256_setzero_ps() })
        }
        #[inline(always)]
        fn splat(v: f32) -> Self {
            Avx2(unsafe { _mm256_set1_ps(v) })
        }
        #[inline(always)]
        unsafe fn load(p: *const f32) -> Self {
            Avx2(unsafe { _mm256_loadu_ps(p) })
        }
        #[inline(always)]
        unsafe fn store(self, p: *mut f32) {
            unsafe { _mm256_storeu_ps(p, self.0) }
        }
        #[inline(always)]
        fn mul_add(self, a: Self, b: Self) -> Self {
            Avx2(unsafe { _mm256_fmadd_ps(a.0, b.0, self.0) })
        }
    }
}
