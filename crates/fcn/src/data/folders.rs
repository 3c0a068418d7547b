//! The user's own data: a folder of images and a folder of masks matched by file
//! stem, and a `classes.toml`:
//!
//! ```text
//! DIR/classes.toml      classes: name and colour each, optional ignore value
//! DIR/images/NAME.jpg   (or .jpeg, .png)
//! DIR/masks/NAME.png    index PNG (grey or palette) or colour PNG
//! DIR/train.txt         optional: the names of the training images, one per line
//! DIR/val.txt           optional: the validation images
//! ```
//!
//! Without list files the images are split by a seeded fraction
//! ([`ReadOptions::val_fraction`], [`ReadOptions::split_seed`]).

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use super::colormap::{ColorMap, IGNORE};
use super::{Classes, DataError, Item, Labels, ReadOptions, Split, check_present, read_list};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClassesFile {
    /// The mask value that marks pixels to ignore (default 255).
    ignore: Option<u8>,
    /// A colour that marks ignored pixels in colour masks.
    ignore_color: Option<[u8; 3]>,
    classes: Vec<ClassEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClassEntry {
    name: String,
    color: [u8; 3],
}

/// Reads a `classes.toml`: the classes, the ignore value and the ignore colour.
pub fn read_classes(path: &Path) -> Result<(Classes, u8, Option<[u8; 3]>), DataError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| DataError::new(path, format!("cannot read: {e}")))?;
    let file: ClassesFile = toml::from_str(&text)
        .map_err(|e| DataError::new(path, format!("invalid classes file: {e}")))?;
    if file.classes.is_empty() || file.classes.len() > 255 {
        return Err(DataError::new(
            path,
            format!("needs 1 to 255 classes, found {}", file.classes.len()),
        ));
    }
    if let Some(problem) = duplicate_classes(&file.classes) {
        return Err(DataError::new(path, problem));
    }
    let ignore = file.ignore.unwrap_or(IGNORE);
    if (ignore as usize) < file.classes.len() {
        return Err(DataError::new(
            path,
            format!("ignore value {ignore} is also a class label"),
        ));
    }
    let classes = Classes {
        names: file.classes.iter().map(|c| c.name.clone()).collect(),
        colors: file.classes.iter().map(|c| c.color).collect(),
    };
    Ok((classes, ignore, file.ignore_color))
}

/// A name or colour given to two classes (their labels could not be told apart
/// in legends and colour masks).
fn duplicate_classes(classes: &[ClassEntry]) -> Option<String> {
    for (i, a) in classes.iter().enumerate() {
        for (j, b) in classes.iter().enumerate().skip(i + 1) {
            if a.name == b.name {
                return Some(format!("classes {i} and {j} are both named '{}'", a.name));
            }
            if a.color == b.color {
                return Some(format!(
                    "classes {i} ('{}') and {j} ('{}') share the colour {:?}",
                    a.name, b.name, a.color
                ));
            }
        }
    }
    None
}

pub(super) const IMAGE_EXTENSIONS: [&str; 4] = ["jpg", "jpeg", "png", "JPG"];

pub fn open(dir: &Path, split: &str, options: &ReadOptions) -> Result<Split, DataError> {
    let classes_file = dir.join("classes.toml");
    if !classes_file.is_file() {
        return Err(DataError::new(
            dir,
            "not a dataset: expected Pascal VOC (ImageSets/Segmentation) or images/, masks/ and classes.toml",
        ));
    }
    let (classes, ignore_value, ignore_color) = read_classes(&classes_file)?;
    let images = stems(&dir.join("images"), &IMAGE_EXTENSIONS)?;
    let masks = stems(&dir.join("masks"), &["png"])?;
    let list = dir.join(format!("{split}.txt"));
    let names: Vec<String> = if list.is_file() {
        read_list(&list)?
    } else if matches!(split, "train" | "val") {
        let all: Vec<String> = images
            .keys()
            .filter(|k| masks.contains_key(*k))
            .cloned()
            .collect();
        seeded_split(
            all,
            options.val_fraction,
            options.split_seed,
            split == "val",
        )
    } else if split == "all" || split == "trainval" {
        images
            .keys()
            .filter(|k| masks.contains_key(*k))
            .cloned()
            .collect()
    } else {
        return Err(DataError::new(
            &list,
            format!("no list file for split '{split}'"),
        ));
    };
    let items = names
        .into_iter()
        .map(|name| Item {
            image: images
                .get(&name)
                .cloned()
                .unwrap_or_else(|| dir.join("images").join(format!("{name}.jpg"))),
            mask: masks
                .get(&name)
                .cloned()
                .unwrap_or_else(|| dir.join("masks").join(format!("{name}.png"))),
            name,
            labels: Labels::Png,
        })
        .collect();
    let (items, mut skipped) = check_present(items, &list, options)?;
    if !list.is_file() {
        skipped.extend(unmasked(&images, &masks, dir));
    }
    let colors = ColorMap::new(&classes.colors, ignore_color);
    Ok(Split::assemble(
        super::SplitParts {
            root: dir.to_path_buf(),
            name: split.to_string(),
            items,
            classes,
            colors,
            skipped,
            ignore_value,
        },
        options,
    ))
}

/// File stem → path for the files in `dir` with one of `extensions`.
pub(super) fn stems(
    dir: &Path,
    extensions: &[&str],
) -> Result<BTreeMap<String, std::path::PathBuf>, DataError> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| DataError::new(dir, format!("cannot list: {e}")))?;
    let mut map = BTreeMap::new();
    for entry in entries.flatten() {
        let path = entry.path();
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        if extensions.contains(&ext)
            && let Some(stem) = path.file_stem().and_then(|s| s.to_str())
        {
            map.insert(stem.to_string(), path);
        }
    }
    Ok(map)
}

/// Deterministically shuffles `names` with `seed` and returns the validation part
/// (`fraction` of them, at least one when there are two or more) or the rest.
/// Images without a mask of the same stem, which a split without a list leaves out.
fn unmasked(
    images: &BTreeMap<String, std::path::PathBuf>,
    masks: &BTreeMap<String, std::path::PathBuf>,
    dir: &Path,
) -> Vec<DataError> {
    images
        .iter()
        .filter(|(k, _)| !masks.contains_key(*k))
        .map(|(k, p)| {
            let expected = dir.join("masks").join(format!("{k}.png"));
            DataError::new(
                p,
                format!("no mask ({} is missing); left out", expected.display()),
            )
        })
        .collect()
}

pub(super) fn seeded_split(
    mut names: Vec<String>,
    fraction: f64,
    seed: u64,
    val: bool,
) -> Vec<String> {
    super::augment::Rng::new(seed).shuffle(&mut names);
    let n_val = ((names.len() as f64 * fraction).round() as usize)
        .clamp(usize::from(names.len() >= 2), names.len());
    let rest = names.split_off(n_val);
    let mut part = if val { names } else { rest };
    part.sort();
    part
}
