//! Which layout a dataset directory has, and opening its splits by it.

use std::path::Path;

use super::{DataError, ReadOptions, Split, ade20k, cityscapes, coco, folders, labelme, voc};

/// The layouts a dataset directory can have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Voc,
    Coco,
    LabelMe,
    Cityscapes,
    Ade20k,
    /// The user's own `images/`, `masks/` and `classes.toml`.
    Folders,
}

impl Format {
    /// The layout of the dataset at `dir`: Pascal VOC (also the synthetic set)
    /// when it has `ImageSets/Segmentation` (directly, or under `VOC2012/` or
    /// `VOCdevkit/VOC2012/`), then COCO, Cityscapes, ADE20K and LabelMe by their
    /// files, otherwise the own-data layout of [`folders`].
    pub fn detect(dir: &Path) -> Self {
        if voc::find_root(dir).is_some() {
            Format::Voc
        } else if coco::detect(dir) {
            Format::Coco
        } else if cityscapes::detect(dir) {
            Format::Cityscapes
        } else if ade20k::find_root(dir).is_some() {
            Format::Ade20k
        } else if labelme::detect(dir) {
            Format::LabelMe
        } else {
            Format::Folders
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Format::Voc => "Pascal VOC",
            Format::Coco => "COCO",
            Format::LabelMe => "LabelMe",
            Format::Cityscapes => "Cityscapes",
            Format::Ade20k => "ADE20K",
            Format::Folders => "images and masks",
        }
    }
}

/// Opens split `split` of the dataset at `dir`, of the layout [`Format::detect`] finds.
pub fn open(dir: &Path, split: &str, options: &ReadOptions) -> Result<Split, DataError> {
    if !dir.is_dir() {
        return Err(DataError::new(dir, "no such dataset directory"));
    }
    open_as(dir, Format::detect(dir), split, options)
}

/// Opens split `split` of the dataset at `dir` as `format`.
pub fn open_as(
    dir: &Path,
    format: Format,
    split: &str,
    options: &ReadOptions,
) -> Result<Split, DataError> {
    if !dir.is_dir() {
        return Err(DataError::new(dir, "no such dataset directory"));
    }
    match format {
        Format::Voc => match voc::find_root(dir) {
            Some(root) => voc::open(&root, split, options),
            None => Err(DataError::new(
                dir,
                "no ImageSets/Segmentation: not a Pascal VOC layout",
            )),
        },
        Format::Coco => coco::open(dir, split, options),
        Format::LabelMe => labelme::open(dir, split, options),
        Format::Cityscapes => cityscapes::open(dir, split, options),
        Format::Ade20k => ade20k::open(dir, split, options),
        Format::Folders => folders::open(dir, split, options),
    }
}

/// Whether the dataset at `dir`, read as `format`, has split `split` at all
/// (rather than a broken one).
fn has_split(dir: &Path, format: Format, split: &str) -> bool {
    match format {
        Format::Voc => voc::find_root(dir).is_some_and(|r| voc::split_file(&r, split).is_file()),
        Format::Coco => coco::split_files(dir, split).is_some(),
        Format::Cityscapes => cityscapes::has_split(dir, split),
        Format::Ade20k => ade20k::has_split(dir, split),
        Format::LabelMe | Format::Folders => true,
    }
}

/// As [`open`], for a split a run can do without (validation): `None` when the
/// dataset has no such split (a VOC layout without `ImageSets/Segmentation/SPLIT.txt`,
/// a COCO one without its annotation file, …).
/// Any other problem is an error, and so is a split that lists no images.
pub fn open_optional(
    dir: &Path,
    split: &str,
    options: &ReadOptions,
) -> Result<Option<Split>, DataError> {
    open_optional_as(dir, Format::detect(dir), split, options)
}

/// As [`open_optional`], reading the dataset as `format`.
pub fn open_optional_as(
    dir: &Path,
    format: Format,
    split: &str,
    options: &ReadOptions,
) -> Result<Option<Split>, DataError> {
    if dir.is_dir() && !has_split(dir, format, split) {
        return Ok(None);
    }
    let opened = open_as(dir, format, split, options)?;
    if opened.is_empty() {
        return Err(DataError::new(
            dir,
            format!("split '{split}' has no images"),
        ));
    }
    Ok(Some(opened))
}
