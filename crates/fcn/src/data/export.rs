//! Any readable dataset written in Pascal VOC layout (`fcn convert`):
//!
//! ```text
//! OUT/JPEGImages/NAME.jpg|png           the images, hard-linked or copied
//! OUT/SegmentationClass/NAME.png        palette masks (255: ignore)
//! OUT/ImageSets/Segmentation/SPLIT.txt  the names of each split
//! OUT/classes.toml                      class names and colours
//! ```
//!
//! The output is built in `OUT.partial/` and renamed to `OUT` when complete; each
//! file is written under a temporary name and renamed, so an interrupted run
//! leaves only whole files, and running it again resumes where it stopped.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::colormap::{IGNORE, VOC_BORDER, voc_color};
use super::{Classes, DataError, Split, decode};

/// What a conversion wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// Per split: its name and the number of items written.
    pub splits: Vec<(String, usize)>,
    /// Items already complete from an interrupted run, left as they were.
    pub resumed: usize,
    /// Items skipped as unusable (with `skip_bad`), with why.
    pub skipped: Vec<DataError>,
}

/// The directory a conversion into `out` builds in before it is complete.
pub fn partial_dir(out: &Path) -> PathBuf {
    let mut name = out.file_name().unwrap_or_default().to_os_string();
    name.push(".partial");
    out.with_file_name(name)
}

/// Writes `splits` (opened from one dataset) in VOC layout at `out`, which must
/// not exist yet. `progress(done, total)` is called as items are written.
pub fn write_voc(
    splits: &[Split],
    out: &Path,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<Summary, DataError> {
    if out.exists() {
        return Err(DataError::new(
            out,
            "already exists; choose a new output directory",
        ));
    }
    let Some(first) = splits.first() else {
        return Err(DataError::new(out, "no split to convert"));
    };
    check_disjoint(splits)?;
    let work = partial_dir(out);
    for dir in ["JPEGImages", "SegmentationClass", "ImageSets/Segmentation"] {
        create_dir(&work.join(dir))?;
    }
    write_atomic(
        &work.join("classes.toml"),
        classes_toml(&first.classes).as_bytes(),
    )?;
    let total: usize = splits.iter().map(Split::len).sum();
    let done = std::sync::atomic::AtomicUsize::new(0);
    let mut summary = Summary::default();
    for split in splits {
        let results: Vec<Result<bool, DataError>> = (0..split.len())
            .into_par_iter()
            .map(|i| {
                let r = write_item(split, i, &work);
                progress(
                    done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1,
                    total,
                );
                r
            })
            .collect();
        let mut names = String::new();
        for (i, result) in results.into_iter().enumerate() {
            match result {
                Ok(resumed) => {
                    summary.resumed += usize::from(resumed);
                    writeln!(names, "{}", split.items[i].name).expect("writing to a string");
                }
                Err(e) if split.options.skip_bad => summary.skipped.push(e),
                Err(e) => return Err(e),
            }
        }
        let list = work
            .join("ImageSets/Segmentation")
            .join(format!("{}.txt", split.name));
        write_atomic(&list, names.as_bytes())?;
        summary
            .splits
            .push((split.name.clone(), names.lines().count()));
    }
    std::fs::rename(&work, out)
        .map_err(|e| DataError::new(out, format!("cannot move {} here: {e}", work.display())))?;
    Ok(summary)
}

/// Two items of one name would overwrite each other's files.
fn check_disjoint(splits: &[Split]) -> Result<(), DataError> {
    let mut seen = HashSet::new();
    for split in splits {
        for item in &split.items {
            if !seen.insert(item.name.as_str()) {
                return Err(DataError::new(
                    &item.image,
                    format!(
                        "a second item is named '{}' (names must be unique across splits)",
                        item.name
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// Writes item `i`'s image and mask; `Ok(true)` when both were already there.
fn write_item(split: &Split, i: usize, work: &Path) -> Result<bool, DataError> {
    let item = &split.items[i];
    let mask_path = work
        .join("SegmentationClass")
        .join(format!("{}.png", item.name));
    let image_path = image_target(work, item);
    if mask_path.is_file() && image_path.is_file() {
        return Ok(true);
    }
    let mask = split.load_mask(i)?;
    let (w, h) = split.image_size(i)?;
    if (w as usize, h as usize) != (mask.dim().1, mask.dim().0) {
        return Err(DataError::new(
            &item.mask,
            format!(
                "labels are {}×{} but the image {} is {w}×{h}",
                mask.dim().1,
                mask.dim().0,
                item.image.display()
            ),
        ));
    }
    write_image(split, i, &image_path)?;
    let png = decode::encode_palette_png(&mask, &palette(&split.classes))
        .map_err(|e| DataError::new(&mask_path, format!("cannot encode: {e}")))?;
    write_atomic(&mask_path, &png)?;
    Ok(false)
}

/// Where item's image goes: `.png` for PNG sources (and images inside LabelMe
/// files, re-encoded), `.jpg` for the rest (VOC's name for JPEG).
fn image_target(work: &Path, item: &super::Item) -> PathBuf {
    let png = item
        .image
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("png"))
        || item.image == item.mask;
    let ext = if png { "png" } else { "jpg" };
    work.join("JPEGImages").join(format!("{}.{ext}", item.name))
}

/// The image file, hard-linked where the file system allows and copied otherwise;
/// an image inside an annotation file is decoded and written as PNG.
fn write_image(split: &Split, i: usize, to: &Path) -> Result<(), DataError> {
    let item = &split.items[i];
    let tmp = temporary(to);
    let _ = std::fs::remove_file(&tmp);
    if item.image == item.mask {
        let image = split.read_image(i)?;
        image
            .save_with_format(&tmp, image::ImageFormat::Png)
            .map_err(|e| DataError::new(to, format!("cannot write: {e}")))?;
    } else if std::fs::hard_link(&item.image, &tmp).is_err() {
        std::fs::copy(&item.image, &tmp).map_err(|e| {
            DataError::new(
                to,
                format!("cannot copy {} here: {e}", item.image.display()),
            )
        })?;
    }
    std::fs::rename(&tmp, to).map_err(|e| DataError::new(to, format!("cannot write: {e}")))
}

/// The 256-colour palette of the masks: the classes' colours, VOC's border colour
/// for the ignore label, VOC's scheme for the unused entries.
fn palette(classes: &Classes) -> Vec<[u8; 3]> {
    (0..=255u8)
        .map(|l| match classes.colors.get(l as usize) {
            Some(&c) => c,
            None if l == IGNORE => VOC_BORDER,
            None => voc_color(l),
        })
        .collect()
}

/// The classes as the project's `classes.toml`.
pub fn classes_toml(classes: &Classes) -> String {
    let mut text = String::from("# Written by fcn convert. Mask value 255 is ignored.\n");
    for (name, [r, g, b]) in classes.names.iter().zip(&classes.colors) {
        let name = name.replace('\\', "\\\\").replace('"', "\\\"");
        writeln!(
            text,
            "\n[[classes]]\nname = \"{name}\"\ncolor = [{r}, {g}, {b}]"
        )
        .expect("writing to a string");
    }
    text
}

fn create_dir(dir: &Path) -> Result<(), DataError> {
    std::fs::create_dir_all(dir).map_err(|e| DataError::new(dir, format!("cannot create: {e}")))
}

fn temporary(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".tmp");
    path.with_file_name(name)
}

/// Writes `bytes` to `path` under a temporary name, then renames it into place.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), DataError> {
    let tmp = temporary(path);
    std::fs::write(&tmp, bytes).map_err(|e| DataError::new(path, format!("cannot write: {e}")))?;
    std::fs::rename(&tmp, path).map_err(|e| DataError::new(path, format!("cannot write: {e}")))
}
