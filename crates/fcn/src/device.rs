//! Where a model runs: the CPU (Burn's flex backend, with `tconv`'s kernels) or, in
//! a build with the `gpu` feature, a GPU through Burn's wgpu backend (Vulkan, Metal,
//! DX12), with Burn's own kernels. The kernels follow the device (see
//! [`crate::ops::on_tconv`]): nothing else changes between the two.

use burn::tensor::Device;

use crate::error::{FcnError, Result};

/// Which device to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
pub enum DeviceChoice {
    /// The CPU.
    #[default]
    Cpu,
    /// A GPU; an error when the build lacks the `gpu` feature or finds no adapter.
    Gpu,
    /// A GPU when the build has the feature and an adapter is present, else the CPU.
    Auto,
}

/// A device with a one-line description of it for the user.
#[derive(Debug, Clone)]
pub struct Selected {
    pub device: Device,
    pub description: String,
}

/// The device `choice` names.
pub fn select(choice: DeviceChoice) -> Result<Selected> {
    match choice {
        DeviceChoice::Cpu => Ok(cpu()),
        DeviceChoice::Gpu => gpu(),
        DeviceChoice::Auto => Ok(gpu().unwrap_or_else(|_| cpu())),
    }
}

fn cpu() -> Selected {
    Selected {
        device: Device::flex(),
        description: format!(
            "CPU: {} threads, tconv kernels",
            rayon::current_num_threads()
        ),
    }
}

/// Whether `device` is the CPU device (on which `tconv`'s kernels can run).
pub fn is_cpu(device: &Device) -> bool {
    device.clone().without_autodiff() == Device::flex()
}

#[cfg(not(feature = "gpu"))]
fn gpu() -> Result<Selected> {
    Err(FcnError::Config(
        "--device gpu needs a build with the `gpu` feature: \
         cargo build --release -p fcn-cli --features gpu"
            .into(),
    ))
}

/// The first wgpu adapter. Opening one where the machine has no Vulkan (or Metal,
/// DX12) driver panics inside wgpu; that becomes an error saying what is missing.
#[cfg(feature = "gpu")]
fn gpu() -> Result<Selected> {
    use burn::tensor::DeviceType;
    let found = std::panic::catch_unwind(|| {
        let devices = Device::enumerate(DeviceType::Wgpu).into_vec();
        devices
            .into_iter()
            .map(|d| {
                let name = d.identity().map_or_else(|| "unnamed".into(), |i| i.name);
                (d, name)
            })
            .collect::<Vec<_>>()
    });
    let no_adapter = |why: String| {
        FcnError::Config(format!(
            "--device gpu: no GPU adapter found ({why}); a Vulkan driver (on Linux: the \
             vendor's, or Mesa's `mesa-vulkan-drivers` for a software one) and the Vulkan \
             loader (`libvulkan1`) are needed"
        ))
    };
    match found {
        Ok(named) => match named.into_iter().next() {
            Some((device, name)) => Ok(Selected {
                description: format!("GPU: {name} (wgpu), Burn's kernels"),
                device,
            }),
            None => Err(no_adapter("wgpu lists none".into())),
        },
        Err(panic) => {
            let why = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "wgpu failed to start".into());
            Err(no_adapter(why))
        }
    }
}
