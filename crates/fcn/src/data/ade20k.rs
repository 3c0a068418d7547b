//! ADE20K as the Scene Parsing benchmark distributes it (`ADEChallengeData2016`):
//!
//! ```text
//! DIR/images/training/NAME.jpg        DIR/annotations/training/NAME.png
//! DIR/images/validation/NAME.jpg      DIR/annotations/validation/NAME.png
//! ```
//!
//! (`DIR` may also hold `ADEChallengeData2016/`). Splits `train` and `val` are
//! `training` and `validation`. The annotations hold 0 for "other" and 1–150 for
//! the classes; as mmsegmentation's `reduce_zero_label` does, 0 is ignored and
//! every other value lowered by one, so the 150 classes are labels 0–149.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::colormap::{IGNORE, voc_color};
use super::{Classes, DataError, Item, Labels, ReadOptions, Split};

/// The benchmark's 150 classes (its `objectInfo150`, by their first names).
pub const CLASS_NAMES: [&str; 150] = [
    "wall",
    "building",
    "sky",
    "floor",
    "tree",
    "ceiling",
    "road",
    "bed",
    "windowpane",
    "grass",
    "cabinet",
    "sidewalk",
    "person",
    "earth",
    "door",
    "table",
    "mountain",
    "plant",
    "curtain",
    "chair",
    "car",
    "water",
    "painting",
    "sofa",
    "shelf",
    "house",
    "sea",
    "mirror",
    "rug",
    "field",
    "armchair",
    "seat",
    "fence",
    "desk",
    "rock",
    "wardrobe",
    "lamp",
    "bathtub",
    "railing",
    "cushion",
    "base",
    "box",
    "column",
    "signboard",
    "chest of drawers",
    "counter",
    "sand",
    "sink",
    "skyscraper",
    "fireplace",
    "refrigerator",
    "grandstand",
    "path",
    "stairs",
    "runway",
    "case",
    "pool table",
    "pillow",
    "screen door",
    "stairway",
    "river",
    "bridge",
    "bookcase",
    "blind",
    "coffee table",
    "toilet",
    "flower",
    "book",
    "hill",
    "bench",
    "countertop",
    "stove",
    "palm",
    "kitchen island",
    "computer",
    "swivel chair",
    "boat",
    "bar",
    "arcade machine",
    "hovel",
    "bus",
    "towel",
    "light",
    "truck",
    "tower",
    "chandelier",
    "awning",
    "streetlight",
    "booth",
    "television receiver",
    "airplane",
    "dirt track",
    "apparel",
    "pole",
    "land",
    "bannister",
    "escalator",
    "ottoman",
    "bottle",
    "buffet",
    "poster",
    "stage",
    "van",
    "ship",
    "fountain",
    "conveyer belt",
    "canopy",
    "washer",
    "plaything",
    "swimming pool",
    "stool",
    "barrel",
    "basket",
    "waterfall",
    "tent",
    "bag",
    "minibike",
    "cradle",
    "oven",
    "ball",
    "food",
    "step",
    "tank",
    "trade name",
    "microwave",
    "pot",
    "animal",
    "bicycle",
    "lake",
    "dishwasher",
    "screen",
    "blanket",
    "sculpture",
    "hood",
    "sconce",
    "vase",
    "traffic light",
    "tray",
    "ashcan",
    "fan",
    "pier",
    "crt screen",
    "plate",
    "monitor",
    "bulletin board",
    "shower",
    "radiator",
    "glass",
    "clock",
    "flag",
];

/// Annotation value → label: 0 ignored, `v` → `v − 1` (values over 150 become
/// labels past the classes, which loading reports as errors).
pub fn reduce_zero_label_table() -> [u8; 256] {
    let mut table = [IGNORE; 256];
    for (v, label) in table.iter_mut().enumerate().skip(1) {
        *label = (v - 1) as u8;
    }
    table[255] = IGNORE;
    table
}

pub fn classes() -> Classes {
    Classes {
        names: CLASS_NAMES.iter().map(|n| n.to_string()).collect(),
        colors: (0..CLASS_NAMES.len())
            .map(|l| voc_color(l as u8 + 1))
            .collect(),
    }
}

/// The folder holding `images/` and `annotations/` at or under `dir`.
pub fn find_root(dir: &Path) -> Option<PathBuf> {
    [dir.to_path_buf(), dir.join("ADEChallengeData2016")]
        .into_iter()
        .find(|d| {
            d.join("annotations").is_dir()
                && ["training", "validation"]
                    .iter()
                    .any(|s| d.join("images").join(s).is_dir())
        })
}

/// The benchmark's folder name for split `split`.
fn folder(split: &str) -> &str {
    match split {
        "train" => "training",
        "val" => "validation",
        other => other,
    }
}

pub fn has_split(dir: &Path, split: &str) -> bool {
    find_root(dir).is_some_and(|r| r.join("images").join(folder(split)).is_dir())
}

pub fn open(dir: &Path, split: &str, options: &ReadOptions) -> Result<Split, DataError> {
    let root = find_root(dir).ok_or_else(|| {
        DataError::new(
            dir,
            "not an ADE20K layout: no images/training or images/validation beside annotations/",
        )
    })?;
    let images = root.join("images").join(folder(split));
    if !images.is_dir() {
        return Err(DataError::new(
            &images,
            format!("no ADE20K images for split '{split}'"),
        ));
    }
    let table = Arc::new(reduce_zero_label_table());
    let items = super::cityscapes::sorted_entries(&images)?
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "jpg" || e == "png"))
        .filter_map(|image| {
            let name = image.file_stem()?.to_string_lossy().into_owned();
            let mask = root
                .join("annotations")
                .join(folder(split))
                .join(format!("{name}.png"));
            Some(Item {
                name,
                image,
                mask,
                labels: Labels::Ids(table.clone()),
            })
        })
        .collect();
    let classes = classes();
    Split::of_annotations((&root, split), (items, &images), classes, options)
}
