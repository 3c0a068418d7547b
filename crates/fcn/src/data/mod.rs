//! Everything between files on disk and normalised training batches.
//!
//! * [`voc`]: Pascal VOC 2012 in its standard layout.
//! * [`folders`]: the user's own images and masks with a `classes.toml`.
//! * [`synthetic`]: a generated dataset in VOC layout (`fcn synth`), the built-in default.
//! * [`augment`]: random crop, flip and normalisation; [`loader`]: batches in an order
//!   fixed by the seed, loaded on worker threads.
//!
//! Bad files give a [`DataError`] naming the file; with `skip_bad` they are skipped,
//! warned about, and counted instead.

pub mod augment;
pub mod balance;
mod cache;
pub mod colormap;
pub mod decode;
pub mod folders;
pub mod jitter;
pub mod jpeg_end;
mod jpeg_scan;
pub mod loader;
pub mod synthetic;
pub mod voc;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use image::RgbImage;
use ndarray::Array2;

use cache::SampleCache;

/// A file that cannot be used, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {message}", path.display())]
pub struct DataError {
    pub path: PathBuf,
    pub message: String,
}

impl DataError {
    pub fn new(path: &Path, message: impl Into<String>) -> Self {
        Self {
            path: path.to_path_buf(),
            message: message.into(),
        }
    }
}

/// The default limit on an image's pixel count (50 megapixels).
pub const DEFAULT_MAX_PIXELS: u64 = 50_000_000;

/// One image with its class mask (`[H, W]` labels; 255 is ignored).
#[derive(Debug, Clone)]
pub struct Sample {
    pub name: String,
    pub image: RgbImage,
    pub mask: Array2<u8>,
}

/// Names and colours of a dataset's classes.
#[derive(Debug, Clone, PartialEq)]
pub struct Classes {
    pub names: Vec<String>,
    pub colors: Vec<[u8; 3]>,
}

impl Classes {
    /// Pascal VOC's 21 classes.
    pub fn voc() -> Self {
        Self {
            names: crate::classes::VOC_CLASSES
                .iter()
                .map(|s| s.to_string())
                .collect(),
            colors: colormap::VOC_COLORMAP.to_vec(),
        }
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}

/// The default memory for decoded samples per split: the demo's training set fits.
pub const DEFAULT_CACHE_BYTES: usize = 1 << 30;

/// How a dataset is read.
#[derive(Debug, Clone)]
pub struct ReadOptions {
    /// Images (and masks) whose header declares more pixels are refused.
    pub max_pixels: u64,
    /// Skip unusable files with a warning instead of failing.
    pub skip_bad: bool,
    /// For own data without list files: the fraction held out for validation.
    pub val_fraction: f64,
    /// For own data without list files: the seed of the train/val split.
    pub split_seed: u64,
    /// Decoded samples kept in memory per split, in bytes (0 keeps none).
    pub cache_bytes: usize,
}

impl Default for ReadOptions {
    fn default() -> Self {
        Self {
            max_pixels: DEFAULT_MAX_PIXELS,
            skip_bad: false,
            val_fraction: 0.2,
            split_seed: 0,
            cache_bytes: DEFAULT_CACHE_BYTES,
        }
    }
}

/// One image and mask pair, by file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub name: String,
    pub image: PathBuf,
    pub mask: PathBuf,
}

/// A split of a segmentation dataset: its items and how to decode them.
#[derive(Debug, Clone)]
pub struct Split {
    pub root: PathBuf,
    pub name: String,
    pub items: Vec<Item>,
    pub classes: Classes,
    colors: colormap::ColorMap,
    pub options: ReadOptions,
    /// Items dropped at open time (named in a split file but missing), as warnings.
    pub skipped: Vec<DataError>,
    /// The mask value meaning "ignore"; it is read as 255.
    pub ignore_value: u8,
    /// Samples already decoded, shared by this split's clones.
    cache: Arc<SampleCache>,
}

impl Split {
    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Item `i`, decoded and checked (image and mask of the same size, every label a
    /// class or 255), or a copy from memory when an earlier load kept it.
    pub fn load(&self, i: usize) -> Result<Sample, DataError> {
        if let Some(sample) = self.cache.get(i) {
            return Ok(sample);
        }
        let sample = self.decode(i)?;
        self.cache.offer(i, &sample);
        Ok(sample)
    }

    /// A split over these items, with an empty cache of `options.cache_bytes`.
    fn assemble(parts: SplitParts, options: &ReadOptions) -> Self {
        let SplitParts {
            root,
            name,
            items,
            classes,
            colors,
            skipped,
            ignore_value,
        } = parts;
        Self {
            root,
            name,
            items,
            classes,
            colors,
            options: options.clone(),
            skipped,
            ignore_value,
            cache: Arc::new(SampleCache::new(options.cache_bytes)),
        }
    }

    /// The mask of item `i` alone, as labels (the ignore value read as 255) and
    /// checked against the classes: for passes over the labels, such as class balance.
    pub fn load_mask(&self, i: usize) -> Result<Array2<u8>, DataError> {
        let item = &self.items[i];
        let mut mask = decode::read_mask(&item.mask, &self.colors, self.options.max_pixels)?;
        if self.ignore_value != colormap::IGNORE {
            mask.mapv_inplace(|v| {
                if v == self.ignore_value {
                    colormap::IGNORE
                } else {
                    v
                }
            });
        }
        decode::check_labels(&item.mask, &mask, self.classes.len())?;
        Ok(mask)
    }

    /// Decodes and checks item `i` (no cache).
    fn decode(&self, i: usize) -> Result<Sample, DataError> {
        let item = &self.items[i];
        let image = decode::read_image(&item.image, self.options.max_pixels)?;
        let mask = self.load_mask(i)?;
        let (mh, mw) = mask.dim();
        if (image.width() as usize, image.height() as usize) != (mw, mh) {
            return Err(DataError::new(
                &item.mask,
                format!(
                    "mask is {mw}×{mh} but its image {} is {}×{}",
                    item.image.display(),
                    image.width(),
                    image.height()
                ),
            ));
        }
        Ok(Sample {
            name: item.name.clone(),
            image,
            mask,
        })
    }
}

/// What a layout's reader finds, before [`Split::assemble`].
struct SplitParts {
    root: PathBuf,
    name: String,
    items: Vec<Item>,
    classes: Classes,
    colors: colormap::ColorMap,
    skipped: Vec<DataError>,
    ignore_value: u8,
}

/// Opens split `split` of the dataset at `dir`: Pascal VOC layout (also the
/// synthetic set) when `dir` has `ImageSets/Segmentation` (directly, or under
/// `VOC2012/` or `VOCdevkit/VOC2012/`), otherwise the own-data layout of [`folders`].
pub fn open(dir: &Path, split: &str, options: &ReadOptions) -> Result<Split, DataError> {
    if !dir.is_dir() {
        return Err(DataError::new(dir, "no such dataset directory"));
    }
    match voc::find_root(dir) {
        Some(root) => voc::open(&root, split, options),
        None => folders::open(dir, split, options),
    }
}

/// As [`open`], for a split a run can do without (validation): `None` when the
/// dataset has no such split (a VOC layout without `ImageSets/Segmentation/SPLIT.txt`).
/// Any other problem is an error, and so is a split that lists no images.
pub fn open_optional(
    dir: &Path,
    split: &str,
    options: &ReadOptions,
) -> Result<Option<Split>, DataError> {
    if let Some(root) = voc::find_root(dir)
        && !voc::split_file(&root, split).is_file()
    {
        return Ok(None);
    }
    let opened = open(dir, split, options)?;
    if opened.is_empty() {
        return Err(DataError::new(
            dir,
            format!("split '{split}' has no images"),
        ));
    }
    Ok(Some(opened))
}

/// Reads a split file (`train.txt`, `val.txt`): one item name per line; blank lines
/// and `#` comments ignored; a line's first word is its name.
pub fn read_list(path: &Path) -> Result<Vec<String>, DataError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| DataError::new(path, format!("cannot read split file: {e}")))?;
    Ok(text
        .lines()
        .map(|l| l.split('#').next().unwrap_or("").trim())
        .filter(|l| !l.is_empty())
        .map(|l| l.split_whitespace().next().unwrap_or(l).to_string())
        .collect())
}

/// Keeps the items whose files exist; the others are errors, or warnings with `skip_bad`.
fn check_present(
    items: Vec<Item>,
    split_file: &Path,
    options: &ReadOptions,
) -> Result<(Vec<Item>, Vec<DataError>), DataError> {
    let mut kept = Vec::new();
    let mut missing = Vec::new();
    for item in items {
        let absent: Vec<&Path> = [&item.image, &item.mask]
            .into_iter()
            .filter(|p| !p.is_file())
            .map(|p| p.as_path())
            .collect();
        if absent.is_empty() {
            kept.push(item);
        } else {
            for p in absent {
                missing.push(DataError::new(
                    p,
                    format!("named in {} but missing", split_file.display()),
                ));
            }
        }
    }
    if !missing.is_empty() && !options.skip_bad {
        let first = missing[0].clone();
        let more = missing.len() - 1;
        return Err(if more == 0 {
            first
        } else {
            DataError::new(
                &first.path,
                format!(
                    "{} (and {more} more missing files; --skip-bad skips them)",
                    first.message
                ),
            )
        });
    }
    if kept.is_empty() {
        return Err(DataError::new(
            split_file,
            "the split is empty: no usable image and mask pairs",
        ));
    }
    Ok((kept, missing))
}
