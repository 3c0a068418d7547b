//! The FCN: ResNet-18 backbone, 1×1 class convolution, ×32 transposed convolution.

pub mod config;
pub mod fcn;
pub mod head;
pub mod layers;
pub mod names;
pub mod resnet;

pub use config::{Arch, FcnConfig, INPUT_MULTIPLE, MAX_CLASSES, MAX_WIDTH};
pub use fcn::{Fcn, FcnNet};
