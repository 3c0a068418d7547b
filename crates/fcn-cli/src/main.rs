//! The `fcn` command line: thin argument parsing over the `fcn` library.

mod allocator;
mod bench;
mod bench_cases;
mod convert;
mod demo;
mod demo_budget;
mod device;
mod eval;
mod export;
mod font;
mod info;
mod memory;
mod outputs;
mod plot;
mod progress;
mod render;
mod report;
mod segment;
mod serve;
mod synth;
mod threads;
mod train;
mod train_flags;
mod train_model;
mod tta;
mod upsample;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "fcn",
    version,
    about = "Semantic segmentation with fully convolutional networks"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Time the convolution kernels and the FCN: ours next to Burn's flex ops.
    Bench(bench::Args),
    /// Write a dataset (COCO, LabelMe, Cityscapes, ADE20K, own folders) in Pascal VOC layout.
    Convert(convert::Args),
    /// Generate the synthetic dataset, train, evaluate, segment, and write a report.
    Demo(demo::Args),
    /// Describe a weight file: detected format, classes, parameter count, ignored keys.
    Info(info::Args),
    /// Write a model as ONNX (for ONNX Runtime, TensorRT, OpenVINO, browsers) or as an
    /// fcn checkpoint (safetensors with the textbook's key names, which PyTorch loads).
    Export(export::Args),
    /// Generate the synthetic dataset (Pascal VOC layout, no download needed).
    Synth(synth::Args),
    /// Train an FCN on a dataset.
    Train(Box<train::Args>),
    /// Evaluate weights on a dataset split: pixel accuracy, mIoU, per-class IoU.
    Eval(eval::Args),
    /// Segment images into palette PNG masks (and overlays, JSON fractions).
    Segment(segment::Args),
    /// Serve a model over HTTP: a JSON/PNG API, Prometheus metrics and a web page.
    Serve(serve::Args),
    /// Upsample an image with the bilinear transposed convolution of the textbook.
    Upsample(upsample::Args),
}

fn main() -> std::process::ExitCode {
    allocator::keep_large_blocks();
    quiet_device_failures();
    let matches = Cli::command().get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    let hint = cli.command.out_of_memory_hint();
    let name = matches.subcommand_name().unwrap_or("fcn").to_string();
    let during = || format!("in `fcn {name}`");
    let result = fcn::device::catch_failure(&during, hint, || run(cli.command, &matches))
        .map_err(anyhow::Error::from)
        .and_then(|r| r);
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(command: Command, matches: &clap::ArgMatches) -> anyhow::Result<()> {
    match command {
        Command::Bench(args) => bench::run(&args),
        Command::Convert(args) => convert::run(&args),
        Command::Demo(args) => demo::run(&args),
        Command::Info(args) => info::run(&args),
        Command::Export(args) => export::run(&args),
        Command::Synth(args) => synth::run(&args),
        Command::Train(args) => {
            let sub = matches
                .subcommand_matches("train")
                .expect("the train subcommand");
            train::run(&args, sub)
        }
        Command::Eval(args) => eval::run(&args),
        Command::Segment(args) => segment::run(&args),
        Command::Serve(args) => serve::run(&args),
        Command::Upsample(args) => upsample::run(&args),
    }
}

impl Command {
    /// What to make smaller when this command runs out of device memory.
    fn out_of_memory_hint(&self) -> &'static str {
        match self {
            Command::Eval(_) | Command::Segment(_) | Command::Serve(_) => {
                "try a smaller --tile (images with a longer side run in tiles of it)"
            }
            _ => "try a smaller --batch-size (or --crop, --size)",
        }
    }
}

/// A device failure that Burn raises as a panic (an allocation that failed, met
/// when a tensor is read) becomes an error naming what to shrink (see
/// `fcn::device::catch_failure`); the panic's own message would only repeat it.
fn quiet_device_failures() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = fcn::device::panic_message(info.payload());
        if !message.is_some_and(|m| fcn::device::is_device_failure(&m)) {
            default(info);
        }
    }));
}
