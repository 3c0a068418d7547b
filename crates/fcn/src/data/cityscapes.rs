//! Cityscapes' fine annotations, read as they are distributed:
//!
//! ```text
//! DIR/leftImg8bit/SPLIT/CITY/STEM_leftImg8bit.png
//! DIR/gtFine/SPLIT/CITY/STEM_gtFine_labelIds.png
//! ```
//!
//! The label ids (0–33) map to the benchmark's 19 train ids by the official
//! table (`cityscapesscripts/helpers/labels.py`); every other id is ignored.
//! Items are named `STEM` (`aachen_000000_000019`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::colormap::IGNORE;
use super::{Classes, DataError, Item, Labels, ReadOptions, Split};

/// The 19 evaluated classes in train-id order, with their official colours.
pub const CLASSES: [(&str, [u8; 3]); 19] = [
    ("road", [128, 64, 128]),
    ("sidewalk", [244, 35, 232]),
    ("building", [70, 70, 70]),
    ("wall", [102, 102, 156]),
    ("fence", [190, 153, 153]),
    ("pole", [153, 153, 153]),
    ("traffic light", [250, 170, 30]),
    ("traffic sign", [220, 220, 0]),
    ("vegetation", [107, 142, 35]),
    ("terrain", [152, 251, 152]),
    ("sky", [70, 130, 180]),
    ("person", [220, 20, 60]),
    ("rider", [255, 0, 0]),
    ("car", [0, 0, 142]),
    ("truck", [0, 0, 70]),
    ("bus", [0, 60, 100]),
    ("train", [0, 80, 100]),
    ("motorcycle", [0, 0, 230]),
    ("bicycle", [119, 11, 32]),
];

/// `(label id, train id)` for the ids that are evaluated; all others are ignored.
const TRAIN_IDS: [(u8, u8); 19] = [
    (7, 0),
    (8, 1),
    (11, 2),
    (12, 3),
    (13, 4),
    (17, 5),
    (19, 6),
    (20, 7),
    (21, 8),
    (22, 9),
    (23, 10),
    (24, 11),
    (25, 12),
    (26, 13),
    (27, 14),
    (28, 15),
    (31, 16),
    (32, 17),
    (33, 18),
];

const IMAGE_SUFFIX: &str = "_leftImg8bit.png";
const LABEL_SUFFIX: &str = "_gtFine_labelIds.png";

/// Label id → train id, for all 256 values a mask byte can hold.
pub fn train_id_table() -> [u8; 256] {
    let mut table = [IGNORE; 256];
    for (id, train) in TRAIN_IDS {
        table[id as usize] = train;
    }
    table
}

pub fn classes() -> Classes {
    Classes {
        names: CLASSES.iter().map(|(n, _)| n.to_string()).collect(),
        colors: CLASSES.iter().map(|(_, c)| *c).collect(),
    }
}

/// Whether `dir` has Cityscapes' two folders.
pub fn detect(dir: &Path) -> bool {
    dir.join("leftImg8bit").is_dir() && dir.join("gtFine").is_dir()
}

pub fn has_split(dir: &Path, split: &str) -> bool {
    dir.join("leftImg8bit").join(split).is_dir()
}

pub fn open(dir: &Path, split: &str, options: &ReadOptions) -> Result<Split, DataError> {
    let images = dir.join("leftImg8bit").join(split);
    if !images.is_dir() {
        return Err(DataError::new(
            &images,
            format!("no Cityscapes images for split '{split}'"),
        ));
    }
    let table = Arc::new(train_id_table());
    let mut items = Vec::new();
    for city in sorted_entries(&images)?.into_iter().filter(|p| p.is_dir()) {
        let city_name = city.file_name().unwrap_or_default().to_owned();
        for image in sorted_entries(&city)? {
            let file = image
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            let Some(stem) = file.strip_suffix(IMAGE_SUFFIX) else {
                continue;
            };
            let mask = dir
                .join("gtFine")
                .join(split)
                .join(&city_name)
                .join(format!("{stem}{LABEL_SUFFIX}"));
            items.push(Item {
                name: stem.to_string(),
                image,
                mask,
                labels: Labels::Ids(table.clone()),
            });
        }
    }
    let classes = classes();
    Split::of_annotations((dir, split), (items, &images), classes, options)
}

/// The entries of `dir`, sorted by name.
pub(super) fn sorted_entries(dir: &Path) -> Result<Vec<PathBuf>, DataError> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| DataError::new(dir, format!("cannot list: {e}")))?;
    let mut paths: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    paths.sort();
    Ok(paths)
}
