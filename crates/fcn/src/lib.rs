//! `fcn`: semantic segmentation with fully convolutional networks, on Burn.
//!
//! What it is: the model (ResNet-18 backbone, 1×1 class convolution, ×32 transposed
//! convolution initialised to bilinear upsampling), PyTorch weights in and out, and
//! the inference API that the `fcn` command line and users call.
//!
//! What it is not: a general deep-learning library, nor a renderer. Tensors,
//! autodiff and layers are Burn's; every kernel at the slice level lives in `tconv`
//! (`fcn::ops` only wires them into Burn); drawing masks, plots and reports is the
//! command line's. ARCHITECTURE.md at the repository root maps the modules and which
//! may use which: `model`, `weights`, `state`, `loss` over `ops`; `data`, `train`,
//! `infer`, `metrics` over those.
//!
//! ```no_run
//! let device = burn::tensor::Device::flex();
//! let model = fcn::Fcn::load("fcn_d2l.pth", &device)?;
//! let image = image::open("photo.jpg").unwrap().to_rgb8();
//! let classes = model.predict(&image)?; // one class index per pixel
//! # Ok::<(), fcn::FcnError>(())
//! ```

pub mod classes;
pub mod data;
pub mod device;
mod error;
pub mod infer;
pub mod loss;
pub mod metrics;
pub mod model;
pub mod onnx;
pub mod ops;
pub mod precision;
pub mod state;
pub mod train;
pub mod tta;
pub mod upsample;
pub mod weights;

pub use error::{FcnError, Result};
pub use model::{Fcn, FcnConfig, FcnNet};
