//! Framework-free kernels on slices for the rest of a network besides its
//! convolutions: max pooling forward and backward, training BatchNorm, the fused
//! per-pixel cross-entropy, the fused Adam step, a vectorising `exp`, the lane sum they share and the
//! SIMD dispatch that runs them compiled for the widest vectors the CPU has.
//! `fcn::ops` wires them into Burn; nothing here knows Burn.

pub mod adam;
pub mod batch_norm;
pub mod cross_entropy;
pub mod exp;
pub mod lanes;
pub mod pool;
pub mod resize;
pub mod simd;
pub(crate) mod uninit;
