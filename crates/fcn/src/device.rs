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

/// Whether a device failure's message says memory could not be allocated (wgpu
/// on Vulkan: "can't allocate buffer of size", cubecl's "out of device memory").
pub fn is_out_of_memory(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    ["can't allocate", "out of memory", "outofmemory"]
        .iter()
        .any(|needle| m.contains(needle))
}

/// What a device failure's message says in one line: the allocation that failed
/// (in MiB), where one did; else its last non-empty line of cause.
pub fn failure_summary(message: &str) -> String {
    let mut lines = message.lines().map(str::trim).filter(|l| !l.is_empty());
    let bytes = lines.clone().find_map(|l| {
        let tail = l.split("allocate buffer of size:").nth(1)?;
        tail.trim().parse::<u64>().ok()
    });
    match bytes {
        Some(b) => format!(
            "an allocation of {:.0} MiB failed",
            b as f64 / (1 << 20) as f64
        ),
        None => lines
            .rfind(|l| !l.starts_with("Caused by") && !l.contains("backtrace"))
            .unwrap_or("no detail")
            .to_string(),
    }
}

/// The error for a device failure `message` met `during` a step (e.g. "in a
/// training step of 8 images"): out of memory, with `hint` on what to shrink, or
/// another failure.
pub fn failure(message: &str, during: &str, hint: &str) -> FcnError {
    let (during, detail) = (during.to_string(), failure_summary(message));
    match is_out_of_memory(message) {
        true => FcnError::OutOfMemory {
            during,
            detail,
            hint: hint.to_string(),
        },
        false => FcnError::Device { during, detail },
    }
}

/// Runs `f`, turning a device failure that Burn raises as a panic (reading a tensor
/// whose computation could not allocate its memory, say) into [`failure`]'s error
/// for `during` and `hint`; any other panic goes on unwinding.
pub fn catch_failure<T>(
    during: &dyn Fn() -> String,
    hint: &str,
    f: impl FnOnce() -> T,
) -> Result<T> {
    let panic = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(value) => return Ok(value),
        Err(panic) => panic,
    };
    match panic_message(panic.as_ref()).filter(|m| is_device_failure(m)) {
        Some(message) => Err(failure(&message, &during(), hint)),
        None => std::panic::resume_unwind(panic),
    }
}

/// The text of a panic's payload, where it has one.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> Option<String> {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
}

/// Whether a panic's message is Burn reporting a failed execution on its device
/// (rather than a bug).
pub fn is_device_failure(message: &str) -> bool {
    is_out_of_memory(message) || message.contains("Execution(")
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
            let why =
                panic_message(panic.as_ref()).unwrap_or_else(|| "wgpu failed to start".into());
            Err(no_adapter(why))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The message wgpu gave on lavapipe for a 1 GiB tensor.
    const LAVAPIPE: &str = "Error while reading data: Execution(An error happened during \
        execution\nCaused by:\n  Several failures at once\nCaused by:\n  The bytes were never \
        written (failure #1, still claiming 2 buffer(s))\nCaused by:\n  An IO error happened\n\
        Caused by:\n  can't allocate buffer of size: 1073741824\nNo backtrace available)";

    #[test]
    fn an_allocation_failure_is_out_of_memory_with_its_size() {
        let e = failure(
            LAVAPIPE,
            "in a training step of 8 images",
            "try --batch-size 4",
        );
        assert!(matches!(e, FcnError::OutOfMemory { .. }), "{e:?}");
        assert_eq!(
            e.to_string(),
            "the GPU ran out of memory in a training step of 8 images \
             (an allocation of 1024 MiB failed): try --batch-size 4"
        );
    }

    #[test]
    fn another_failure_keeps_its_last_cause() {
        let m = "An error happened\nCaused by:\n  the shader did not compile\n";
        let e = failure(m, "in inference", "unused");
        assert_eq!(
            e.to_string(),
            "the device failed in inference: the shader did not compile"
        );
    }
}
