//! What Winograd's 1-D transforms compute on: one `f32`, or [`V8`], eight tiles'
//! samples at once, so that a transform written once runs on whole AVX2 vectors.
//! Every operation is the same IEEE one per lane, so both give the same bits.

use std::ops::{Add, Div, Mul, Neg, Sub};

/// A sample, or a vector of samples, of the transforms.
pub(super) trait Sample:
    Copy
    + Add<Output = Self>
    + Sub<Output = Self>
    + Neg<Output = Self>
    + Mul<f32, Output = Self>
    + Div<f32, Output = Self>
{
}

impl Sample for f32 {}

/// Lanes per [`V8`].
pub(super) const LANES: usize = 8;

/// Eight lanes, operated on element by element (one AVX2 register once compiled for
/// it): a loop over lanes with the transform inside was vectorised with a scalar
/// epilogue of up to eight lanes even for whole vectors, which took about as long
/// as the vector part.
#[derive(Clone, Copy)]
pub(super) struct V8([f32; LANES]);

impl V8 {
    #[inline(always)]
    pub fn load(from: &[f32]) -> Self {
        V8(from[..LANES].try_into().expect("eight lanes"))
    }

    #[inline(always)]
    pub fn store(self, to: &mut [f32]) {
        to[..LANES].copy_from_slice(&self.0);
    }

    #[inline(always)]
    fn zip(self, other: V8, f: impl Fn(f32, f32) -> f32) -> V8 {
        V8(std::array::from_fn(|i| f(self.0[i], other.0[i])))
    }
}

impl Sample for V8 {}

impl Add for V8 {
    type Output = V8;
    #[inline(always)]
    fn add(self, other: V8) -> V8 {
        self.zip(other, |a, b| a + b)
    }
}

impl Sub for V8 {
    type Output = V8;
    #[inline(always)]
    fn sub(self, other: V8) -> V8 {
        self.zip(other, |a, b| a - b)
    }
}

impl Neg for V8 {
    type Output = V8;
    #[inline(always)]
    fn neg(self) -> V8 {
        V8(self.0.map(|a| -a))
    }
}

impl Mul<f32> for V8 {
    type Output = V8;
    #[inline(always)]
    fn mul(self, c: f32) -> V8 {
        V8(self.0.map(|a| a * c))
    }
}

impl Div<f32> for V8 {
    type Output = V8;
    #[inline(always)]
    fn div(self, c: f32) -> V8 {
        V8(self.0.map(|a| a / c))
    }
}
