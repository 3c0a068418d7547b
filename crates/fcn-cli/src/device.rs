//! `--device cpu|gpu|auto` (or `FCN_DEVICE`) and `--precision f32|f16|bf16` (or
//! `FCN_PRECISION`), for every command that runs a model.

use anyhow::bail;
use burn::tensor::Device;
use fcn::device::{self, DeviceChoice};
use fcn::ops::Kernels;
use fcn::precision::Precision;

#[derive(clap::Args, Debug, Clone)]
pub struct DeviceArg {
    /// Where the model runs: cpu; gpu (a build with `--features gpu` and a Vulkan,
    /// Metal or DX12 driver); auto (a GPU when there is one, else the CPU)
    #[arg(long, value_enum, env = "FCN_DEVICE", default_value_t = DeviceChoice::Cpu)]
    pub device: DeviceChoice,
    /// What a GPU computes the convolutions in: f32; f16 or bf16 for mixed precision
    /// (parameters, BatchNorm and the loss stay f32, checkpoints are f32; f16
    /// training scales the loss). The CPU computes in f32
    #[arg(long, value_enum, env = "FCN_PRECISION", default_value_t = Precision::F32)]
    pub precision: Precision,
}

impl DeviceArg {
    /// The chosen device; a GPU, or what `auto` picked, is announced on stderr with
    /// the precision. A reduced precision needs a GPU that computes in it.
    pub fn open(&self) -> anyhow::Result<Device> {
        let selected = device::select(self.device)?;
        let reduced = self.precision != Precision::F32;
        if reduced && device::is_cpu(&selected.device) {
            bail!(
                "--precision {} is for GPUs (--device gpu): the CPU computes in f32, on \
                 kernels faster here than half-precision ones ({})",
                self.precision.name(),
                selected.description
            );
        }
        self.precision.check(&selected.device)?;
        if self.device != DeviceChoice::Cpu {
            let precision = match reduced {
                true => format!(", convolutions in {}", self.precision.name()),
                false => String::new(),
            };
            eprintln!("device: {}{precision}", selected.description);
        }
        Ok(selected.device)
    }

    /// The kernels a model runs at the chosen precision.
    pub fn kernels(&self) -> Kernels {
        self.precision.kernels(Kernels::default())
    }
}
