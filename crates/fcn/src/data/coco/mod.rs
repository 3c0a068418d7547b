//! COCO instance annotations as a segmentation dataset. Layouts, for split `S`:
//!
//! ```text
//! DIR/annotations/instances_S2017.json   with the images in DIR/S2017/
//! DIR/instances_S.json                   with the images in DIR/S/
//! ```
//!
//! (also `annotations/instances_S.json` + `S/`, and `instances_S2017.json` +
//! `S2017/`). Labels: 0 is background, then the file's `categories` in their
//! order as 1..K (their ids need not be contiguous). Annotations are painted in
//! file order, later on top, as pycocotools rasterises them (polygons, and RLE
//! with the counts as a list or as its compressed string); `iscrowd` regions get
//! the ignore label. The JSON is read once when the split opens; the masks are
//! made when an image is loaded.

pub mod polygon;
pub mod rle;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ndarray::Array2;
use serde::Deserialize;

use super::colormap::{IGNORE, voc_color};
use super::{Classes, DataError, Item, Labels, ReadOptions, Split};
use rle::Rle;

#[derive(Deserialize)]
struct File {
    images: Vec<ImageEntry>,
    #[serde(default)]
    annotations: Vec<AnnotationEntry>,
    categories: Vec<Category>,
}

#[derive(Deserialize)]
struct ImageEntry {
    id: u64,
    file_name: String,
    height: u64,
    width: u64,
}

#[derive(Deserialize)]
struct AnnotationEntry {
    id: u64,
    image_id: u64,
    category_id: u64,
    #[serde(default)]
    iscrowd: Crowd,
    segmentation: Option<Segmentation>,
}

/// `iscrowd`, which exporters write as 0/1 or as a boolean.
#[derive(Deserialize, Default)]
#[serde(untagged)]
enum Crowd {
    #[default]
    No,
    Flag(bool),
    Number(u8),
}

impl Crowd {
    fn is_crowd(&self) -> bool {
        matches!(self, Crowd::Flag(true)) || matches!(self, Crowd::Number(n) if *n != 0)
    }
}

#[derive(Deserialize)]
struct Category {
    id: u64,
    name: String,
}

/// One annotation's region.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Segmentation {
    /// Polygons `[x0, y0, x1, y1, …]`, their union the region.
    Polygons(Vec<Vec<f64>>),
    /// A run-length encoded mask of the image's size.
    Rle { counts: Counts, size: [u64; 2] },
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Counts {
    List(Vec<u32>),
    Compressed(String),
}

/// One annotation, ready to paint.
#[derive(Debug)]
struct Annotation {
    id: u64,
    /// Its class's label, or the ignore label for a crowd region.
    label: u8,
    region: Segmentation,
}

/// One image of the file and the annotations on it, in file order.
#[derive(Debug)]
struct ImageAnnotations {
    file_name: String,
    height: usize,
    width: usize,
    annotations: Vec<Annotation>,
}

/// A COCO annotation file, read.
#[derive(Debug)]
pub struct Annotations {
    pub path: PathBuf,
    pub classes: Classes,
    images: Vec<ImageAnnotations>,
}

/// The annotation file and image folder of split `split` under `dir`, if any.
pub fn split_files(dir: &Path, split: &str) -> Option<(PathBuf, PathBuf)> {
    let under = |json: String, images: String| (dir.join(json), dir.join(images));
    [
        under(
            format!("annotations/instances_{split}2017.json"),
            format!("{split}2017"),
        ),
        under(
            format!("annotations/instances_{split}.json"),
            split.to_string(),
        ),
        under(
            format!("instances_{split}2017.json"),
            format!("{split}2017"),
        ),
        under(format!("instances_{split}.json"), split.to_string()),
    ]
    .into_iter()
    .find(|(json, _)| json.is_file())
}

/// Whether `dir` holds COCO annotation files (`instances_*.json`, directly or in
/// `annotations/`).
pub fn detect(dir: &Path) -> bool {
    let has_instances = |d: PathBuf| {
        std::fs::read_dir(d).is_ok_and(|entries| {
            entries.flatten().any(|e| {
                let name = e.file_name();
                let name = name.to_string_lossy();
                name.starts_with("instances_") && name.ends_with(".json")
            })
        })
    };
    has_instances(dir.join("annotations")) || has_instances(dir.to_path_buf())
}

pub fn open(dir: &Path, split: &str, options: &ReadOptions) -> Result<Split, DataError> {
    let Some((json, image_dir)) = split_files(dir, split) else {
        return Err(DataError::new(
            dir,
            format!(
                "no COCO annotations for split '{split}' (looked for annotations/instances_{split}2017.json and instances_{split}.json)"
            ),
        ));
    };
    let annotations = Arc::new(Annotations::read(&json)?);
    let items = annotations
        .images
        .iter()
        .enumerate()
        .map(|(k, image)| Item {
            name: stem(&image.file_name),
            image: image_dir.join(&image.file_name),
            mask: json.clone(),
            labels: Labels::Coco(annotations.clone(), k),
        })
        .collect();
    let classes = annotations.classes.clone();
    Split::of_annotations((dir, split), (items, &json), classes, options)
}

/// A file name's stem (`000000397133.jpg` → `000000397133`).
fn stem(file_name: &str) -> String {
    Path::new(file_name).file_stem().map_or_else(
        || file_name.to_string(),
        |s| s.to_string_lossy().into_owned(),
    )
}

impl Annotations {
    /// Reads and indexes the annotation file at `path`.
    pub fn read(path: &Path) -> Result<Self, DataError> {
        let bad = |m: String| DataError::new(path, m);
        let text = std::fs::read(path).map_err(|e| bad(format!("cannot read: {e}")))?;
        let file: File = serde_json::from_slice(&text)
            .map_err(|e| bad(format!("not a COCO annotation file: {e}")))?;
        if file.categories.len() > 254 {
            return Err(bad(format!(
                "{} categories; at most 254 fit beside background in 8-bit masks",
                file.categories.len()
            )));
        }
        let labels: HashMap<u64, u8> = file
            .categories
            .iter()
            .enumerate()
            .map(|(i, c)| (c.id, i as u8 + 1))
            .collect();
        let mut index = HashMap::new();
        let mut images = Vec::with_capacity(file.images.len());
        for image in file.images {
            if index.insert(image.id, images.len()).is_some() {
                return Err(bad(format!("image id {} appears twice", image.id)));
            }
            images.push(ImageAnnotations {
                file_name: image.file_name,
                height: image.height as usize,
                width: image.width as usize,
                annotations: Vec::new(),
            });
        }
        for ann in file.annotations {
            let at = |m: &str| bad(format!("annotation {}: {m}", ann.id));
            let Some(&k) = index.get(&ann.image_id) else {
                return Err(at(&format!(
                    "its image id {} is not in `images`",
                    ann.image_id
                )));
            };
            let Some(&label) = labels.get(&ann.category_id) else {
                return Err(at(&format!(
                    "its category id {} is not in `categories`",
                    ann.category_id
                )));
            };
            let Some(region) = ann.segmentation else {
                return Err(at("it has no `segmentation`"));
            };
            let label = if ann.iscrowd.is_crowd() {
                IGNORE
            } else {
                label
            };
            images[k].annotations.push(Annotation {
                id: ann.id,
                label,
                region,
            });
        }
        Ok(Self {
            path: path.to_path_buf(),
            classes: classes_of(&file.categories),
            images,
        })
    }

    /// The number of images in the file.
    pub fn len(&self) -> usize {
        self.images.len()
    }

    pub fn is_empty(&self) -> bool {
        self.images.is_empty()
    }

    /// The label mask of image `k`: background, then its annotations painted in
    /// order. Problems name the file, the image and the annotation.
    pub fn mask(&self, k: usize, max_pixels: u64) -> Result<Array2<u8>, DataError> {
        let image = &self.images[k];
        let (h, w) = (image.height, image.width);
        let pixels = (h as u64).saturating_mul(w as u64);
        if pixels == 0 || pixels > max_pixels {
            let m = format!(
                "its declared size {w}×{h} is empty or over the limit of {max_pixels} pixels"
            );
            return Err(self.problem(image, None, &m));
        }
        let mut mask = Array2::zeros((h, w));
        for ann in &image.annotations {
            let region =
                region_rle(&ann.region, h, w).map_err(|m| self.problem(image, Some(ann.id), &m))?;
            for rle in region {
                rle.for_each_inside(|y, x| mask[[y, x]] = ann.label);
            }
        }
        Ok(mask)
    }

    fn problem(&self, image: &ImageAnnotations, ann: Option<u64>, message: &str) -> DataError {
        let what = match ann {
            Some(id) => format!("image {}, annotation {id}", image.file_name),
            None => format!("image {}", image.file_name),
        };
        DataError::new(&self.path, format!("{what}: {message}"))
    }
}

/// The run-length masks of one region in an `h × w` image, checked.
fn region_rle(region: &Segmentation, h: usize, w: usize) -> Result<Vec<Rle>, String> {
    match region {
        Segmentation::Polygons(polygons) => polygons
            .iter()
            .map(|xy| {
                check_polygon(xy, h, w)?;
                Ok(polygon::rasterize(xy, h, w))
            })
            .collect(),
        Segmentation::Rle { counts, size } => {
            if size[0] != h as u64 || size[1] != w as u64 {
                return Err(format!(
                    "its RLE is {}×{} (height × width) but the image is {h}×{w}",
                    size[0], size[1]
                ));
            }
            let rle = match counts {
                Counts::List(counts) => Rle {
                    height: h,
                    width: w,
                    counts: counts.clone(),
                },
                Counts::Compressed(text) => Rle::from_compressed(text, h, w)?,
            };
            rle.check()?;
            Ok(vec![rle])
        }
    }
}

/// A polygon pycocotools can draw: three vertices or more, finite, and not far
/// outside the image (which would make its boundary walk unboundedly long).
fn check_polygon(xy: &[f64], h: usize, w: usize) -> Result<(), String> {
    if xy.len() < 6 || !xy.len().is_multiple_of(2) {
        return Err(format!(
            "a polygon needs three vertices or more as x, y pairs; it has {} numbers",
            xy.len()
        ));
    }
    let (w, h) = (w as f64, h as f64);
    let far = xy
        .chunks(2)
        .find(|p| !(p[0].abs() <= 2.0 * w + 16.0 && p[1].abs() <= 2.0 * h + 16.0));
    if let Some(p) = far {
        return Err(format!(
            "a polygon vertex ({}, {}) is not finite or lies far outside the {w}×{h} image",
            p[0], p[1]
        ));
    }
    Ok(())
}

/// Background, then the categories in file order, coloured as VOC colours labels.
fn classes_of(categories: &[Category]) -> Classes {
    let names = std::iter::once("background".to_string())
        .chain(categories.iter().map(|c| c.name.clone()))
        .collect::<Vec<_>>();
    let colors = (0..names.len()).map(|l| voc_color(l as u8)).collect();
    Classes { names, colors }
}
