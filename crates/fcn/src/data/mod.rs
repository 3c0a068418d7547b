//! Everything between files on disk and normalised training batches.
//!
//! * [`voc`]: Pascal VOC 2012 in its standard layout.
//! * [`folders`]: the user's own images and masks with a `classes.toml`.
//! * [`coco`], [`labelme`], [`cityscapes`], [`ade20k`]: annotation files and
//!   benchmarks' label images, read as they are; [`export`] writes any dataset in
//!   VOC layout (`fcn convert`).
//! * [`synthetic`]: a generated dataset in VOC layout (`fcn synth`), the built-in default.
//! * [`augment`]: random crop, flip and normalisation; [`loader`]: batches in an order
//!   fixed by the seed, loaded on worker threads.
//!
//! Bad files give a [`DataError`] naming the file; with `skip_bad` they are skipped,
//! warned about, and counted instead.

pub mod ade20k;
pub mod augment;
pub mod balance;
mod cache;
pub mod cityscapes;
pub mod coco;
pub mod colormap;
pub mod decode;
mod draw;
mod ellipse;
pub mod export;
pub mod folders;
mod format;
pub mod jitter;
pub mod jpeg_end;
mod jpeg_scan;
pub mod labelme;
pub mod loader;
pub mod synthetic;
pub mod voc;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use image::RgbImage;
use ndarray::Array2;

use cache::SampleCache;
pub use format::{Format, open, open_as, open_optional, open_optional_as};

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
#[derive(Debug, Clone)]
pub struct Item {
    pub name: String,
    /// The image file (for a LabelMe item whose image is inside its JSON, the JSON).
    pub image: PathBuf,
    /// The file the labels come from: a mask PNG, or an annotation file.
    pub mask: PathBuf,
    /// How the labels are read from `mask`.
    pub labels: Labels,
}

/// How an item's labels are read from its `mask` file.
#[derive(Debug, Clone)]
pub enum Labels {
    /// A palette, grey or colour PNG through the split's colour map (VOC, own data).
    Png,
    /// A grey PNG of ids, each mapped to a label by the table (Cityscapes' label
    /// ids, ADE20K's reduced zero label).
    Ids(Arc<[u8; 256]>),
    /// Image `k` of a COCO annotation file.
    Coco(Arc<coco::Annotations>, usize),
    /// A LabelMe JSON file's shapes, with the label of each shape name.
    LabelMe(Arc<labelme::LabelMap>),
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

    /// A split of annotation-file items (labels made, not read through colours;
    /// 255 ignored) whose files exist ([`check_present`], naming `listed_in`), with
    /// an empty cache of `options.cache_bytes`.
    fn of_annotations(
        (root, name): (&Path, &str),
        (items, listed_in): (Vec<Item>, &Path),
        classes: Classes,
        options: &ReadOptions,
    ) -> Result<Self, DataError> {
        let (items, skipped) = check_present(items, listed_in, options)?;
        let parts = SplitParts {
            root: root.to_path_buf(),
            name: name.to_string(),
            items,
            colors: colormap::ColorMap::new(&classes.colors, None),
            classes,
            skipped,
            ignore_value: colormap::IGNORE,
        };
        Ok(Self::assemble(parts, options))
    }

    /// The mask of item `i` alone, as labels (the ignore value read as 255) and
    /// checked against the classes: for passes over the labels, such as class balance.
    pub fn load_mask(&self, i: usize) -> Result<Array2<u8>, DataError> {
        let item = &self.items[i];
        let max_pixels = self.options.max_pixels;
        let mask = match &item.labels {
            Labels::Png => {
                let mut mask = decode::read_mask(&item.mask, &self.colors, max_pixels)?;
                if self.ignore_value != colormap::IGNORE {
                    let ignore = self.ignore_value;
                    mask.mapv_inplace(|v| if v == ignore { colormap::IGNORE } else { v });
                }
                mask
            }
            Labels::Ids(table) => decode::read_ids(&item.mask, table, max_pixels)?,
            Labels::Coco(file, k) => file.mask(*k, max_pixels)?,
            Labels::LabelMe(map) => labelme::read_mask(&item.mask, map, max_pixels)?,
        };
        decode::check_labels(&item.mask, &mask, self.classes.len())?;
        Ok(mask)
    }

    /// Whether item `i`'s image is inside its annotation file (LabelMe's `imageData`).
    fn embedded_image(&self, i: usize) -> bool {
        let item = &self.items[i];
        matches!(item.labels, Labels::LabelMe(_)) && item.image == item.mask
    }

    /// The image of item `i`, decoded.
    pub fn read_image(&self, i: usize) -> Result<RgbImage, DataError> {
        let item = &self.items[i];
        if self.embedded_image(i) {
            return labelme::read_image(&item.image, self.options.max_pixels);
        }
        decode::read_image(&item.image, self.options.max_pixels)
    }

    /// The size of item `i`'s image from its header, `(width, height)`.
    pub fn image_size(&self, i: usize) -> Result<(u32, u32), DataError> {
        if self.embedded_image(i) {
            let image = self.read_image(i)?;
            return Ok((image.width(), image.height()));
        }
        decode::image_size(&self.items[i].image)
    }

    /// Decodes and checks item `i` (no cache).
    fn decode(&self, i: usize) -> Result<Sample, DataError> {
        let item = &self.items[i];
        let image = self.read_image(i)?;
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
