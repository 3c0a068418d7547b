//! `fcn bench`: the convolution shapes that matter and the whole FCN, on `tconv`'s
//! kernels next to Burn's built-in flex ops, in one process so the two share the
//! machine's state. `scripts/bench_pytorch.py` prints the same names for PyTorch.

use std::time::Instant;

use burn::module::Module;
use burn::nn::PaddingConfig2d;
use burn::nn::conv::{Conv2d, Conv2dConfig, ConvTranspose2d, ConvTranspose2dConfig};
use burn::optim::SgdConfig;
use burn::optim::decay::WeightDecayConfig;
use burn::tensor::{Device, Distribution, Int, Tensor};
use serde::Serialize;

use fcn::model::{Arch, Fcn, FcnConfig, FcnNet};
use fcn::ops::flops::counting;
use fcn::ops::{self, Kernels};
use fcn::precision::{LossScale, Precision};

/// One benchmark: our time, the baseline's, and our arithmetic rate.
#[derive(Debug, Clone, Serialize)]
pub struct BenchRow {
    pub name: String,
    /// Median milliseconds with `tconv`'s kernels.
    pub ms: f64,
    /// Median milliseconds with Burn's built-in flex ops.
    pub baseline_ms: f64,
    /// Convolution GFLOP/s at `ms` (multiply and add count as two).
    pub gflops: f64,
}

/// A transposed convolution or a convolution on a random input.
struct KernelCase {
    name: &'static str,
    input: [usize; 4],
    out_channels: usize,
    kernel: usize,
    stride: usize,
    padding: usize,
    dilation: usize,
    transposed: bool,
    /// Timed as inference runs it (BatchNorm folded into the convolution's output
    /// pass), not as training's forward pass does.
    inference: bool,
}

/// The shapes of `crates/tconv/benches/shapes.rs` and `scripts/bench_pytorch.py`
/// (the `_infer` cases are PyTorch's plain convolution there).
const KERNELS: [KernelCase; 11] = [
    KernelCase::t("convT_fcn_head", [1, 21, 10, 15], 21, 64, 32, 16),
    KernelCase::t("convT_fcn_head_b4_512", [4, 512, 10, 15], 21, 64, 32, 16),
    KernelCase::t("convT_decoder", [8, 256, 32, 32], 128, 4, 2, 1),
    KernelCase::t("convT_small", [1, 20, 6, 6], 10, 5, 3, 2),
    KernelCase::c("conv3x3_80x120", [1, 64, 80, 120], 64, 3, 1, 1),
    KernelCase::c("conv3x3_b8_56", [8, 64, 56, 56], 64, 3, 1, 1),
    KernelCase::c("conv3x3_80x120_infer", [1, 64, 80, 120], 64, 3, 1, 1).for_inference(),
    KernelCase::c("conv3x3_b8_56_infer", [8, 64, 56, 56], 64, 3, 1, 1).for_inference(),
    KernelCase::c("conv7x7_stem", [1, 3, 320, 480], 64, 7, 2, 3),
    // fcn_resnet50's layer3 at 520×520: 65×65 at output stride 8, dilation 2.
    KernelCase::c("conv3x3_dil2_65", [1, 256, 65, 65], 256, 3, 1, 2).dilated(2),
    KernelCase::c("conv3x3_dil2_65_infer", [1, 256, 65, 65], 256, 3, 1, 2)
        .dilated(2)
        .for_inference(),
];

impl KernelCase {
    const fn t(
        name: &'static str,
        input: [usize; 4],
        out_channels: usize,
        kernel: usize,
        stride: usize,
        padding: usize,
    ) -> Self {
        Self {
            name,
            input,
            out_channels,
            kernel,
            stride,
            padding,
            dilation: 1,
            transposed: true,
            inference: false,
        }
    }

    const fn dilated(self, dilation: usize) -> Self {
        Self { dilation, ..self }
    }

    const fn for_inference(self) -> Self {
        Self {
            inference: true,
            ..self
        }
    }

    const fn c(
        name: &'static str,
        input: [usize; 4],
        out_channels: usize,
        kernel: usize,
        stride: usize,
        padding: usize,
    ) -> Self {
        Self {
            transposed: false,
            ..Self::t(name, input, out_channels, kernel, stride, padding)
        }
    }
}

/// The names `fcn bench` measures, in order: on a GPU the whole network only (the
/// kernel cases time `tconv`, a CPU library), with the textbook's batch of 32 too.
pub fn names(gpu: bool) -> Vec<&'static str> {
    let mut names: Vec<_> = match gpu {
        true => Vec::new(),
        false => KERNELS.iter().map(|k| k.name).collect(),
    };
    names.extend(["fcn_infer_b1", "fcn_infer_b8", "fcn_train_b8"]);
    if gpu {
        names.push("fcn_train_b32");
    }
    names.extend(["fcn16s_infer_b1", "fcn16s_train_b8"]);
    names.extend(["fcn8s_infer_b1", "fcn8s_train_b8", "tv_fcn50_infer_b1"]);
    // The deeper backbones: BasicBlock (34), Bottleneck (50, 101).
    names.extend(["fcn34_infer_b1", "fcn50_infer_b1", "fcn50_train_b8"]);
    names.push("tv_fcn101_infer_b1");
    names
}

/// How long to measure.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// Only these names (all when empty).
    pub only: Vec<String>,
    /// Seconds to spend on each side of each case, after one warm-up run; at least
    /// three runs are timed however long they take.
    pub seconds: f64,
    /// Time only our kernels (for profiling); the baseline reads NaN.
    pub skip_baseline: bool,
    /// Where the network cases run; on a GPU both sides would be Burn's kernels,
    /// so the baseline is skipped.
    pub device: Device,
    /// What our side of the network cases computes in (mixed precision on a GPU).
    pub precision: Precision,
}

impl Default for BenchOptions {
    fn default() -> Self {
        Self {
            only: Vec::new(),
            seconds: 2.0,
            skip_baseline: false,
            device: Device::flex(),
            precision: Precision::F32,
        }
    }
}

/// Median milliseconds of `run` after one warm-up call; NaN when `seconds` is NaN
/// (a side not measured).
fn median_ms(seconds: f64, mut run: impl FnMut()) -> f64 {
    if seconds.is_nan() {
        return f64::NAN;
    }
    run();
    let start = Instant::now();
    let mut times = Vec::new();
    while times.len() < 3 || (times.len() < 50 && start.elapsed().as_secs_f64() < seconds) {
        let t = Instant::now();
        run();
        times.push(t.elapsed().as_secs_f64() * 1e3);
    }
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

fn kernel_row(case: &KernelCase, (seconds, base_s): (f64, f64), device: &Device) -> BenchRow {
    let c = case.input[1];
    let x = Tensor::<4>::random(case.input, Distribution::Uniform(-0.5, 0.5), device);
    let (ms, baseline_ms, flops) = if case.transposed {
        let conv: ConvTranspose2d =
            ConvTranspose2dConfig::new([c, case.out_channels], [case.kernel, case.kernel])
                .with_stride([case.stride; 2])
                .with_padding([case.padding; 2])
                .with_bias(false)
                .init(device);
        let run = || drop(ops::conv_transpose2d(&conv, x.clone(), Kernels::Tconv));
        let ((), flops) = counting(run);
        let ours = median_ms(seconds, run);
        let base = median_ms(base_s, || drop(conv.forward(x.clone())));
        (ours, base, flops)
    } else {
        let conv: Conv2d = Conv2dConfig::new([c, case.out_channels], [case.kernel; 2])
            .with_stride([case.stride; 2])
            .with_dilation([case.dilation; 2])
            .with_padding(PaddingConfig2d::Explicit(
                case.padding,
                case.padding,
                case.padding,
                case.padding,
            ))
            .with_bias(false)
            .init(device);
        let identity = (
            Tensor::<1>::ones([case.out_channels], device),
            Tensor::<1>::zeros([case.out_channels], device),
        );
        let run = || match case.inference {
            true => drop(ops::conv2d_affine(
                &conv,
                x.clone(),
                identity.clone(),
                None,
                false,
            )),
            false => drop(ops::conv2d(&conv, x.clone(), Kernels::Tconv)),
        };
        let ((), flops) = counting(run);
        let ours = median_ms(seconds, run);
        let base = median_ms(base_s, || drop(conv.forward(x.clone())));
        (ours, base, flops)
    };
    BenchRow {
        name: case.name.to_string(),
        ms,
        baseline_ms,
        gflops: flops / ms / 1e6,
    }
}

/// Convolution FLOPs of one forward pass of `net` on `batch` images of `h × w`,
/// as the ops count them.
fn forward_flops(net: &FcnNet, batch: usize, (h, w): (usize, usize)) -> f64 {
    let x = Tensor::<4>::zeros([batch, 3, h, w], &net.devices()[0]);
    counting(|| drop(net.forward(x))).1
}

/// A benchmarked network: its configuration, the input size and the case names'
/// prefix.
struct Network {
    config: FcnConfig,
    size: (usize, usize),
    prefix: &'static str,
}

impl Network {
    /// The textbook's network, ResNet-18 (width 64) with 21 classes, with `arch`'s
    /// head, on VOC's 320×480 crops.
    fn textbook(arch: Arch) -> Self {
        Self {
            config: FcnConfig {
                arch,
                ..FcnConfig::default()
            },
            size: (320, 480),
            prefix: match arch {
                Arch::Fcn16s => "fcn16s",
                Arch::Fcn8s => "fcn8s",
                _ => "fcn",
            },
        }
    }

    /// The textbook's FCN-32s on ResNet-`depth` (34, 50), on VOC's 320×480 crops.
    fn textbook_deeper(depth: usize) -> Self {
        Self {
            config: FcnConfig {
                depth,
                ..FcnConfig::default()
            },
            size: (320, 480),
            prefix: match depth {
                34 => "fcn34",
                50 => "fcn50",
                _ => unreachable!("no FCN-32s bench case on ResNet-{depth}"),
            },
        }
    }

    /// torchvision's `fcn_resnet<depth>` (50, 101; with its aux head, unused in
    /// inference) at torchvision's evaluation size, 520×520.
    fn torchvision(depth: usize) -> Self {
        Self {
            config: FcnConfig::torchvision(depth),
            size: (520, 520),
            prefix: match depth {
                50 => "tv_fcn50",
                101 => "tv_fcn101",
                _ => unreachable!("no torchvision FCN bench case on ResNet-{depth}"),
            },
        }
    }

    fn net(&self, device: &Device) -> FcnNet {
        Fcn::new(&self.config, device).net
    }
}

/// How a network case is timed: seconds for our side and the baseline's, where,
/// and what our side computes in.
struct Sides<'a> {
    seconds: (f64, f64),
    device: &'a Device,
    precision: Precision,
}

impl Sides<'_> {
    /// Our kernels: `tconv`'s (on a GPU, Burn's) at the chosen precision.
    fn ours(&self) -> Kernels {
        self.precision.kernels(Kernels::Tconv)
    }

    /// Runs `run` with our kernels and then with Burn's f32 ones, each timed until
    /// the device has finished the work (a GPU runs it asynchronously).
    fn both(&self, mut run: impl FnMut(Kernels)) -> (f64, f64) {
        let (seconds, base_s) = self.seconds;
        let mut timed = |k| {
            run(k);
            self.device
                .sync()
                .expect("the device finishes the benchmark's work");
        };
        let ours = median_ms(seconds, || timed(self.ours()));
        let base = median_ms(base_s, || timed(Kernels::Burn));
        (ours, base)
    }
}

fn infer_row(network: &Network, batch: usize, sides: &Sides) -> BenchRow {
    let device = sides.device;
    let net = network.net(device);
    let (h, w) = network.size;
    let x = Tensor::<4>::random([batch, 3, h, w], Distribution::Default, device);
    let nets = [
        net.clone().with_kernels(sides.ours()),
        net.clone().with_kernels(Kernels::Burn),
    ];
    let (ms, baseline_ms) =
        sides.both(|k| drop(nets[(k == Kernels::Burn) as usize].forward(x.clone())));
    BenchRow {
        name: format!("{}_infer_b{batch}", network.prefix),
        ms,
        baseline_ms,
        gflops: forward_flops(&net, batch, network.size) / ms / 1e6,
    }
}

/// One step of the textbook's training: forward, per-pixel cross-entropy, backward
/// (through the loss scale in f16), SGD with weight decay.
fn train_row(network: &Network, batch: usize, sides: &Sides) -> BenchRow {
    let device = sides.device;
    let ad = device.clone().autodiff();
    let net0 = network.net(device);
    let flops = 3.0 * forward_flops(&net0, batch, network.size);
    let mut net = Some(net0.train());
    let (h, w) = network.size;
    let x = Tensor::<4>::random([batch, 3, h, w], Distribution::Default, &ad);
    let labels = Tensor::<3, Int>::random([batch, h, w], Distribution::Uniform(0.0, 21.0), &ad);
    let mut optim = SgdConfig::new()
        .with_weight_decay(Some(WeightDecayConfig::new(1e-3)))
        .init();
    let mut scale = LossScale::for_precision(sides.precision);
    let (ms, baseline_ms) = sides.both(|k| {
        let model = net.take().expect("the model is put back after each step");
        let model = model.with_kernels(k);
        let logits = model.forward(x.clone());
        let loss = fcn::loss::cross_entropy(logits, labels.clone(), k);
        let scale = scale.as_mut().filter(|_| k != Kernels::Burn);
        net = Some(match fcn::precision::gradients(loss, &model, scale) {
            Some(grads) => optim.step(1e-3, model, grads),
            None => model,
        });
    });
    BenchRow {
        name: format!("{}_train_b{batch}", network.prefix),
        ms,
        baseline_ms,
        gflops: flops / ms / 1e6,
    }
}

/// Runs the selected cases, calling `done` after each.
pub fn run(options: &BenchOptions, mut done: impl FnMut(&BenchRow)) -> Vec<BenchRow> {
    let device = options.device.clone();
    let gpu = !fcn::device::is_cpu(&device);
    let base_s = if options.skip_baseline || gpu {
        f64::NAN
    } else {
        options.seconds
    };
    let sides = Sides {
        seconds: (options.seconds, base_s),
        device: &device,
        precision: options.precision,
    };
    let wanted = |name: &str| options.only.is_empty() || options.only.iter().any(|o| o == name);
    let mut rows = Vec::new();
    let mut push = |row: BenchRow| {
        done(&row);
        rows.push(row);
    };
    for case in KERNELS.iter().filter(|c| !gpu && wanted(c.name)) {
        push(kernel_row(case, sides.seconds, &device));
    }
    let listed = |name: &str| names(gpu).contains(&name) && wanted(name);
    let networks = [
        Network::textbook(Arch::Fcn32s),
        Network::textbook(Arch::Fcn16s),
        Network::textbook(Arch::Fcn8s),
        Network::torchvision(50),
        Network::textbook_deeper(34),
        Network::textbook_deeper(50),
        Network::torchvision(101),
    ];
    for network in &networks {
        for batch in [1, 8] {
            if listed(&format!("{}_infer_b{batch}", network.prefix)) {
                push(infer_row(network, batch, &sides));
            }
        }
        for batch in [8, 32] {
            if listed(&format!("{}_train_b{batch}", network.prefix)) {
                push(train_row(network, batch, &sides));
            }
        }
    }
    rows
}
