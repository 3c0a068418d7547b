//! The FCN: a ResNet backbone (18, 34, 50 or 101 layers, optionally dilated) and a
//! head: the textbook's FCN-32s, the FCN paper's FCN-16s and -8s, or torchvision's.

pub mod blocks;
pub mod config;
mod detect;
pub mod fcn;
pub mod head;
pub mod layers;
pub mod names;
pub mod resnet;
pub mod tv_head;

pub use config::{Arch, DEPTHS, FcnConfig, INPUT_MULTIPLE, MAX_CLASSES, MAX_WIDTH, OUTPUT_STRIDES};
pub use fcn::{Fcn, FcnNet};
