//! One FCN inference at 320×480 (batch 1), for timing and peak memory:
//! `cargo run --release -p fcn --example infer_once [-- WEIGHTS | tv_fcn50]`, under
//! `/usr/bin/time -v` for the maximum resident set size; `tv_fcn50` is torchvision's
//! `fcn_resnet50` at 520×520 instead. `scripts/infer_once_pytorch.py [--tv]` does
//! the same in PyTorch.

use std::time::Instant;

use burn::tensor::Device;
use fcn::{Fcn, FcnConfig};
use ndarray::Array4;

fn main() -> Result<(), fcn::FcnError> {
    let device = Device::flex();
    let (model, (h, w)) = match std::env::args().nth(1).as_deref() {
        Some("tv_fcn50") => (Fcn::new(&FcnConfig::torchvision(50), &device), (520, 520)),
        Some(path) => (Fcn::load(path, &device)?, (320, 480)),
        None => (Fcn::new(&FcnConfig::default(), &device), (320, 480)),
    };
    let x = Array4::from_shape_fn((1, 3, h, w), |(_, c, y, x)| {
        ((c * 7 + y * 3 + x) % 11) as f32 / 5.0 - 1.0
    });
    for run in 0..3 {
        let t = Instant::now();
        let logits = model.logits(x.view())?;
        eprintln!(
            "run {run}: {:.1} ms, logits {:?}",
            t.elapsed().as_secs_f64() * 1e3,
            logits.dim()
        );
    }
    Ok(())
}
