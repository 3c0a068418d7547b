//! The weight-format detector and the three weight readers (PyTorch zip/pickle,
//! safetensors with our metadata), then the model built from what they read.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "scratch.rs"]
mod scratch;

fuzz_target!(|data: &[u8]| {
    let _ = fcn::weights::detect(data, data.len() as u64);
    let path = scratch::file("weights", data);
    let _ = fcn::Fcn::load(&path, &burn::tensor::Device::flex());
});
