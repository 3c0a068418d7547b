//! `--device cpu|gpu|auto` (or `FCN_DEVICE`), for every command that runs a model.

use burn::tensor::Device;
use fcn::device::{self, DeviceChoice};

#[derive(clap::Args, Debug, Clone)]
pub struct DeviceArg {
    /// Where the model runs: cpu; gpu (a build with `--features gpu` and a Vulkan,
    /// Metal or DX12 driver); auto (a GPU when there is one, else the CPU)
    #[arg(long, value_enum, env = "FCN_DEVICE", default_value_t = DeviceChoice::Cpu)]
    pub device: DeviceChoice,
}

impl DeviceArg {
    /// The chosen device; a GPU, or what `auto` picked, is announced on stderr.
    pub fn open(&self) -> anyhow::Result<Device> {
        let selected = device::select(self.device)?;
        if self.device != DeviceChoice::Cpu {
            eprintln!("device: {}", selected.description);
        }
        Ok(selected.device)
    }
}
