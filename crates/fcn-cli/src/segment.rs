//! `fcn segment IMAGES... --weights W --out DIR [--overlay] [--json] [--probs] [--tta flip]
//! [--tta-scales S,…] [--shard i/n]`

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use fcn::Fcn;
use fcn::data::colormap::voc_palette;
use fcn::data::decode::{read_image, write_palette_png};
use fcn::infer::{self, TileOptions};
use fcn::model::fcn::argmax_classes;
use fcn::tta::Tta;
use ndarray::{Array3, Axis};

use crate::outputs;

#[derive(clap::Args)]
pub struct Args {
    /// Image files, directories (their images) or globs such as 'photos/*.jpg'.
    #[arg(required = true)]
    images: Vec<String>,
    #[arg(long)]
    weights: PathBuf,
    /// Output directory: one palette PNG mask per image (NAME.png).
    #[arg(long)]
    out: PathBuf,
    /// Also write NAME_overlay.png: the image with the classes blended over it.
    #[arg(long)]
    overlay: bool,
    /// Print one JSON line per image with its class pixel fractions and confidences.
    #[arg(long)]
    json: bool,
    /// Also write NAME.probs.npy: float32 [classes, H, W] softmax probabilities
    /// (numpy's format: `np.load` reads it).
    #[arg(long)]
    probs: bool,
    /// Process every n-th image starting at i (0-based), as "i/n", to split a job
    /// across machines (Slurm array, Kubernetes indexed job).
    #[arg(long, value_parser = parse_shard)]
    shard: Option<(usize, usize)>,
    /// Images with a side longer than this run tiled.
    #[arg(long, default_value_t = 1024)]
    tile: usize,
    #[arg(long, default_value_t = fcn::data::DEFAULT_MAX_PIXELS)]
    max_pixels: u64,
    #[arg(long)]
    threads: Option<usize>,
    #[command(flatten)]
    tta: crate::tta::TtaArg,
    #[command(flatten)]
    device: crate::device::DeviceArg,
}

fn parse_shard(s: &str) -> Result<(usize, usize), String> {
    let (i, n) = s
        .split_once('/')
        .ok_or_else(|| format!("expected i/n such as 0/4, got '{s}'"))?;
    let i: usize = i
        .trim()
        .parse()
        .map_err(|_| format!("shard index '{i}' is not a whole number"))?;
    let n: usize = n
        .trim()
        .parse()
        .map_err(|_| format!("shard count '{n}' is not a whole number"))?;
    if n == 0 || i >= n {
        return Err(format!("shard {i}/{n}: need 0 ≤ i < n"));
    }
    Ok((i, n))
}

const EXTENSIONS: [&str; 6] = ["jpg", "jpeg", "png", "bmp", "tif", "tiff"];

fn is_image(p: &Path) -> bool {
    p.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| EXTENSIONS.contains(&e.to_lowercase().as_str()))
}

/// Files, directories and globs → the sorted list of image files.
pub fn expand(inputs: &[String]) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for input in inputs {
        let path = PathBuf::from(input);
        if input.contains(['*', '?', '[']) {
            let mut found: Vec<PathBuf> = glob::glob(input)
                .with_context(|| format!("{input}: not a valid pattern"))?
                .flatten()
                .filter(|p| p.is_file())
                .collect();
            if found.is_empty() {
                bail!("{input}: no file matches");
            }
            found.sort();
            files.extend(found);
        } else if path.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(&path)
                .with_context(|| format!("cannot list {}", path.display()))?
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.is_file() && is_image(p))
                .collect();
            found.sort();
            files.extend(found);
        } else {
            files.push(path);
        }
    }
    Ok(files)
}

pub fn run(args: &Args) -> anyhow::Result<()> {
    crate::threads::build_pool(args.threads, true)?;
    let tta = args.tta.get()?;
    let files = expand(&args.images)?;
    if files.is_empty() {
        bail!("no images to segment");
    }
    // Named over the whole list, so every shard agrees on where each result goes.
    let masks = outputs::plan(&files, &args.out)?;
    let (files, masks): (Vec<PathBuf>, Vec<PathBuf>) = match args.shard {
        Some((i, n)) => files.into_iter().zip(masks).skip(i).step_by(n).unzip(),
        None => (files, masks),
    };
    if files.is_empty() {
        eprintln!("shard has no images (fewer images than shards); nothing to do");
        return Ok(());
    }
    let device = args.device.open()?;
    let model = Fcn::load_trained(&args.weights, &device)
        .context("cannot load weights")?
        .with_kernels(args.device.kernels());
    let bar = crate::progress::bar(files.len() as u64, "segment");
    let palette = voc_palette();
    let opts = TileOptions {
        tile: args.tile,
        overlap: args.tile / 8,
    };
    let mut failed = 0;
    for (file, mask) in files.iter().zip(&masks) {
        match segment_one(&model, file, mask, args, &palette, (opts, &tta)) {
            Ok(line) => {
                if let Some(line) = line {
                    bar.suspend(|| println!("{line}"));
                }
            }
            Err(e) => {
                failed += 1;
                bar.suspend(|| eprintln!("error: {e:#}"));
            }
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    eprintln!(
        "segmented {} of {} images into {}",
        files.len() - failed,
        files.len(),
        args.out.display()
    );
    if failed > 0 {
        bail!("{failed} of {} images failed", files.len());
    }
    Ok(())
}

/// The mask of `image`, and its probabilities when `with_probs`: one network pass,
/// or the mean softmax over the test-time augmentations.
fn classify(
    model: &Fcn,
    image: &image::RgbImage,
    opts: TileOptions,
    tta: &Tta,
    with_probs: bool,
) -> fcn::Result<(ndarray::Array2<u8>, Option<Array3<f32>>)> {
    if !tta.is_identity() {
        let probs = fcn::tta::probabilities(model, image, opts, tta)?;
        return Ok((argmax_classes(&probs), Some(probs)));
    }
    let logits = infer::logits(model, model.normalize(image).view(), opts)?;
    let mask = argmax_classes(&logits.index_axis(Axis(0), 0).to_owned());
    let probs = with_probs.then(|| infer::softmax(&logits).index_axis_move(Axis(0), 0));
    Ok((mask, probs))
}

fn segment_one(
    model: &Fcn,
    file: &Path,
    mask_path: &Path,
    args: &Args,
    palette: &[[u8; 3]],
    (opts, tta): (TileOptions, &Tta),
) -> anyhow::Result<Option<String>> {
    let image = read_image(file, args.max_pixels)?;
    let (mask, probs) = classify(model, &image, opts, tta, args.probs || args.json)
        .with_context(|| format!("{}", file.display()))?;
    if let Some(dir) = mask_path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    write_palette_png(mask_path, &mask, palette)?;
    if let (true, Some(p)) = (args.probs, &probs) {
        let path = outputs::probs_path(mask_path);
        ndarray_npy::write_npy(&path, p)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    if args.overlay {
        let path = outputs::overlay_path(mask_path);
        crate::render::overlay(&image, &mask, &model.meta.class_names, 0.55)
            .save(&path)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    if !args.json {
        return Ok(None);
    }
    let round = |v: f64| serde_json::json!((v * 1e6).round() / 1e6);
    let names = &model.meta.class_names;
    let fractions = infer::class_fractions(&mask, model.num_classes());
    let fractions: serde_json::Map<String, serde_json::Value> = names
        .iter()
        .zip(&fractions)
        .filter(|(_, f)| **f > 0.0)
        .map(|(n, f)| (n.clone(), round(*f)))
        .collect();
    let confidence = infer::class_confidence(probs.as_ref().expect("computed for --json"), &mask);
    let confidence: serde_json::Map<String, serde_json::Value> = names
        .iter()
        .zip(&confidence)
        .filter_map(|(n, c)| c.map(|c| (n.clone(), round(c))))
        .collect();
    let line = serde_json::json!({
        "image": file.display().to_string(),
        "mask": mask_path.display().to_string(),
        "fractions": fractions,
        "confidence": confidence,
    });
    Ok(Some(line.to_string()))
}
