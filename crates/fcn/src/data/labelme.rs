//! LabelMe annotations: a folder of images, each with a same-stem `.json` of
//! shapes (`polygon`, `rectangle`, `oriented_rectangle`, `circle`, `line`,
//! `linestrip`, `point`, `mask`), and
//! the class list:
//!
//! ```text
//! DIR/NAME.jpg, DIR/NAME.json   the image (or only the JSON, with `imageData`)
//! DIR/labels.txt                labelme2voc's list: `__ignore__`, `_background_`,
//!                               then the classes, one a line
//! DIR/classes.toml              or the project's class file instead
//! DIR/train.txt, DIR/val.txt    optional lists; otherwise a seeded split
//! ```
//!
//! Shapes are painted in file order, later on top, as labelme draws them
//! (`draw.rs`: PIL's polygons, rectangles, ellipses and wide lines); a
//! shape labelled `__ignore__` paints the ignore label.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine;
use image::RgbImage;
use ndarray::Array2;
use serde::Deserialize;

use super::colormap::{IGNORE, voc_color};
use super::draw::Canvas;
use super::folders::{IMAGE_EXTENSIONS, seeded_split, stems};
use super::{Classes, DataError, Item, Labels, ReadOptions, Split, read_list};

/// labelme's width for `line` and `linestrip` shapes, in pixels.
const LINE_WIDTH: u32 = 10;
/// labelme's radius for `point` shapes, in pixels.
const POINT_RADIUS: f64 = 5.0;

/// The label each shape name paints.
#[derive(Debug, Clone)]
pub struct LabelMap {
    pub classes: Classes,
    labels: HashMap<String, u8>,
    /// The file the names came from, for messages.
    source: PathBuf,
}

impl LabelMap {
    /// Reads `labels.txt` (labelme2voc's convention) or `classes.toml` in `dir`.
    pub fn read(dir: &Path) -> Result<Self, DataError> {
        let txt = dir.join("labels.txt");
        if txt.is_file() {
            return Self::from_labels_txt(&txt);
        }
        let toml = dir.join("classes.toml");
        let (classes, _, _) = super::folders::read_classes(&toml)?;
        let labels = label_index(&classes.names);
        Ok(Self {
            classes,
            labels,
            source: toml,
        })
    }

    fn from_labels_txt(path: &Path) -> Result<Self, DataError> {
        let names: Vec<String> = std::fs::read_to_string(path)
            .map_err(|e| DataError::new(path, format!("cannot read: {e}")))?
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && *l != "__ignore__")
            .map(str::to_string)
            .collect();
        if names.first().map(String::as_str) != Some("_background_") {
            return Err(DataError::new(
                path,
                "the first class must be _background_ (after an optional __ignore__), as labelme2voc expects",
            ));
        }
        if names.len() > 255 {
            return Err(DataError::new(
                path,
                format!("{} classes; at most 255 fit in 8-bit masks", names.len()),
            ));
        }
        let mut labels = label_index(&names);
        if labels.len() != names.len() {
            return Err(DataError::new(path, "a class is listed twice"));
        }
        labels.insert("_background_".into(), 0);
        let mut display = names.clone();
        display[0] = "background".into();
        let classes = Classes {
            colors: (0..names.len()).map(|l| voc_color(l as u8)).collect(),
            names: display,
        };
        Ok(Self {
            classes,
            labels,
            source: path.to_path_buf(),
        })
    }

    /// The label of shape name `name` (`__ignore__` is the ignore label).
    fn label(&self, name: &str) -> Option<u8> {
        if name == "__ignore__" {
            return Some(IGNORE);
        }
        self.labels.get(name).copied()
    }
}

fn label_index(names: &[String]) -> HashMap<String, u8> {
    names
        .iter()
        .enumerate()
        .map(|(i, n)| (n.clone(), i as u8))
        .collect()
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct File {
    shapes: Vec<Shape>,
    image_path: Option<String>,
    image_data: Option<String>,
    image_height: u64,
    image_width: u64,
}

#[derive(Deserialize)]
struct Shape {
    label: String,
    points: Vec<[f64; 2]>,
    shape_type: Option<String>,
    /// For `mask` shapes: a base64 PNG of the shape's box, nonzero inside.
    #[serde(default)]
    mask: Option<String>,
}

/// Whether `dir` looks like a LabelMe folder: JSON files and a class list, and
/// no `masks/` (the own-data layout).
pub fn detect(dir: &Path) -> bool {
    let has_json = std::fs::read_dir(dir).is_ok_and(|entries| {
        entries
            .flatten()
            .any(|e| e.path().extension().is_some_and(|x| x == "json"))
    });
    has_json
        && !dir.join("masks").is_dir()
        && (dir.join("labels.txt").is_file() || dir.join("classes.toml").is_file())
}

pub fn open(dir: &Path, split: &str, options: &ReadOptions) -> Result<Split, DataError> {
    let map = Arc::new(LabelMap::read(dir)?);
    let jsons = stems(dir, &["json"])?;
    let images = stems(dir, &IMAGE_EXTENSIONS)?;
    let list = dir.join(format!("{split}.txt"));
    let names: Vec<String> = if list.is_file() {
        read_list(&list)?
    } else {
        let all: Vec<String> = jsons.keys().cloned().collect();
        match split {
            "train" | "val" => seeded_split(
                all,
                options.val_fraction,
                options.split_seed,
                split == "val",
            ),
            "all" | "trainval" => all,
            _ => {
                return Err(DataError::new(
                    &list,
                    format!("no list file for split '{split}'"),
                ));
            }
        }
    };
    let items = names
        .into_iter()
        .map(|name| {
            let json = jsons
                .get(&name)
                .cloned()
                .unwrap_or_else(|| dir.join(format!("{name}.json")));
            Item {
                // Without an image file beside it, the image is the JSON's own.
                image: images.get(&name).cloned().unwrap_or_else(|| json.clone()),
                mask: json,
                labels: Labels::LabelMe(map.clone()),
                name,
            }
        })
        .collect();
    let classes = map.classes.clone();
    Split::of_annotations((dir, split), (items, &list), classes, options)
}

fn read_file(path: &Path) -> Result<File, DataError> {
    let bytes =
        std::fs::read(path).map_err(|e| DataError::new(path, format!("cannot read: {e}")))?;
    serde_json::from_slice(&bytes)
        .map_err(|e| DataError::new(path, format!("not a LabelMe annotation file: {e}")))
}

/// The label mask of the LabelMe file at `path`: its shapes painted in order.
pub fn read_mask(path: &Path, map: &LabelMap, max_pixels: u64) -> Result<Array2<u8>, DataError> {
    let file = read_file(path)?;
    let (h, w) = (file.image_height, file.image_width);
    let pixels = h.saturating_mul(w);
    if pixels == 0 || pixels > max_pixels {
        return Err(DataError::new(
            path,
            format!(
                "imageWidth × imageHeight {w}×{h} is empty or over the limit of {max_pixels} pixels"
            ),
        ));
    }
    let mut mask = Array2::zeros((h as usize, w as usize));
    for (i, shape) in file.shapes.iter().enumerate() {
        let Some(label) = map.label(&shape.label) else {
            return Err(DataError::new(
                path,
                format!(
                    "shape {i} has the label '{}', which {} does not list",
                    shape.label,
                    map.source.display()
                ),
            ));
        };
        paint(&mut Canvas::new(&mut mask, label), shape)
            .map_err(|m| DataError::new(path, format!("shape {i} ('{}'): {m}", shape.label)))?;
    }
    Ok(mask)
}

/// The mask of one shape of type `kind` in an `h × w` image, as labelme's
/// `shape_to_mask` draws it.
pub fn shape_mask(
    kind: &str,
    points: &[[f64; 2]],
    h: usize,
    w: usize,
) -> Result<Array2<bool>, String> {
    let mut mask = Array2::zeros((h, w));
    let shape = Shape {
        label: String::new(),
        points: points.to_vec(),
        shape_type: Some(kind.to_string()),
        mask: None,
    };
    paint(&mut Canvas::new(&mut mask, 1), &shape)?;
    Ok(mask.mapv(|v| v == 1))
}

/// Draws one shape as labelme's `shape_to_mask` does (outline and fill).
fn paint(canvas: &mut Canvas, shape: &Shape) -> Result<(), String> {
    let p = &shape.points;
    // Far-out points are corrupt files: a shape's cost grows with its size.
    if let Some(bad) = p.iter().find(|q| !(q[0].abs() < 1e6 && q[1].abs() < 1e6)) {
        return Err(format!(
            "the point {bad:?} is not finite or absurdly far out"
        ));
    }
    let kind = shape.shape_type.as_deref().unwrap_or("polygon");
    let need = |n: usize| {
        if p.len() == n {
            Ok(())
        } else {
            Err(format!("a {kind} needs {n} points, it has {}", p.len()))
        }
    };
    match kind {
        "polygon" => {
            if p.len() < 3 {
                return Err(format!(
                    "a polygon needs three points or more, it has {}",
                    p.len()
                ));
            }
            canvas.polygon(p);
        }
        "oriented_rectangle" => {
            need(4)?;
            canvas.polygon(p);
        }
        "rectangle" => {
            need(2)?;
            canvas.rectangle(p[0], p[1]);
        }
        "circle" => {
            need(2)?;
            let r = ((p[0][0] - p[1][0]).powi(2) + (p[0][1] - p[1][1]).powi(2)).sqrt();
            canvas.ellipse([p[0][0] - r, p[0][1] - r, p[0][0] + r, p[0][1] + r]);
        }
        "line" => {
            need(2)?;
            canvas.wide_line(p, LINE_WIDTH);
        }
        "linestrip" => {
            if p.is_empty() {
                return Err("a linestrip needs points".into());
            }
            canvas.wide_line(p, LINE_WIDTH);
        }
        "point" => {
            need(1)?;
            let (x, y, r) = (p[0][0], p[0][1], POINT_RADIUS);
            canvas.ellipse([x - r, y - r, x + r, y + r]);
        }
        "mask" => {
            need(2)?;
            paint_mask(canvas, p, shape.mask.as_deref())?;
        }
        other => return Err(format!("shape type '{other}' is not supported")),
    }
    Ok(())
}

/// A `mask` shape (labelme's AI masks): its PNG covers the box from the first
/// point to the second (truncated to pixels, both ends included), and its nonzero
/// pixels are painted.
fn paint_mask(canvas: &mut Canvas, p: &[[f64; 2]], png: Option<&str>) -> Result<(), String> {
    let png = png.ok_or("a mask shape without its `mask`")?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(png.trim())
        .map_err(|e| format!("its mask is not base64: {e}"))?;
    let [x0, y0] = p[0].map(|v| v as i64);
    let [x1, y1] = p[1].map(|v| v as i64);
    let (w, h) = (x1 - x0 + 1, y1 - y0 + 1);
    if w <= 0 || h <= 0 {
        return Err(format!("its box ({x0}, {y0})–({x1}, {y1}) is empty"));
    }
    // The box bounds the PNG's header before anything is decoded.
    let image = super::decode::decode_image(&bytes, (w * h) as u64)
        .map_err(|e| format!("its mask: {e}"))?;
    if (image.width() as i64, image.height() as i64) != (w, h) {
        return Err(format!(
            "its mask is {}×{} but its box is {w}×{h}",
            image.width(),
            image.height()
        ));
    }
    for (x, y, v) in image.enumerate_pixels() {
        if v.0 != [0, 0, 0] {
            canvas.dot(x0 + x as i64, y0 + y as i64);
        }
    }
    Ok(())
}

/// The image of the LabelMe file at `path`: its embedded `imageData`, or else the
/// file its `imagePath` names (relative to the JSON).
pub fn read_image(path: &Path, max_pixels: u64) -> Result<RgbImage, DataError> {
    let file = read_file(path)?;
    if let Some(data) = file.image_data.as_deref() {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(data.trim())
            .map_err(|e| DataError::new(path, format!("imageData is not base64: {e}")))?;
        return super::decode::decode_image(&bytes, max_pixels)
            .map_err(|e| DataError::new(path, format!("imageData: {e}")));
    }
    let Some(relative) = file.image_path.as_deref() else {
        return Err(DataError::new(
            path,
            "neither imageData nor imagePath gives the image",
        ));
    };
    let image = path.parent().unwrap_or(Path::new(".")).join(relative);
    super::decode::read_image(&image, max_pixels)
}
