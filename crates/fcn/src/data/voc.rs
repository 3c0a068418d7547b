//! Pascal VOC 2012 in its standard layout:
//! `VOC2012/ImageSets/Segmentation/{train,val,trainval}.txt`, `JPEGImages/*.jpg`,
//! `SegmentationClass/*.png` (palette PNGs: 0–20 are classes, 255 is void).
//! A `classes.toml` beside `ImageSets` (as the synthetic set writes) overrides VOC's
//! 21 classes.

use std::path::{Path, PathBuf};

use super::colormap::{ColorMap, VOC_BORDER};
use super::{
    Classes, DataError, Item, Labels, ReadOptions, Split, check_present, folders, read_list,
};

/// The VOC root (the folder holding `ImageSets/Segmentation`) at or under `dir`.
pub fn find_root(dir: &Path) -> Option<PathBuf> {
    [
        dir.to_path_buf(),
        dir.join("VOC2012"),
        dir.join("VOCdevkit/VOC2012"),
    ]
    .into_iter()
    .find(|d| d.join("ImageSets/Segmentation").is_dir())
}

/// The file listing split `split` under the VOC root `root`.
pub fn split_file(root: &Path, split: &str) -> PathBuf {
    root.join("ImageSets/Segmentation")
        .join(format!("{split}.txt"))
}

pub fn open(root: &Path, split: &str, options: &ReadOptions) -> Result<Split, DataError> {
    let list = split_file(root, split);
    if !list.is_file() {
        return Err(DataError::new(
            &list,
            format!("no split file for split '{split}'"),
        ));
    }
    let classes = match root.join("classes.toml") {
        p if p.is_file() => folders::read_classes(&p)?.0,
        _ => Classes::voc(),
    };
    let items = read_list(&list)?
        .into_iter()
        .map(|id| {
            let jpg = root.join("JPEGImages").join(format!("{id}.jpg"));
            let png = root.join("JPEGImages").join(format!("{id}.png"));
            Item {
                image: if !jpg.exists() && png.exists() {
                    png
                } else {
                    jpg
                },
                mask: root.join("SegmentationClass").join(format!("{id}.png")),
                name: id,
                labels: Labels::Png,
            }
        })
        .collect();
    let (items, skipped) = check_present(items, &list, options)?;
    let colors = ColorMap::new(&classes.colors, Some(VOC_BORDER));
    Ok(Split::assemble(
        super::SplitParts {
            root: root.to_path_buf(),
            name: split.to_string(),
            items,
            classes,
            colors,
            skipped,
            ignore_value: super::colormap::IGNORE,
        },
        options,
    ))
}
