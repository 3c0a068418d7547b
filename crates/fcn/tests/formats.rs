//! The annotation-format readers against the tools that define the formats:
//! pycocotools' masks and RLE for COCO, labelme's (PIL's) masks for LabelMe, the
//! official id table for Cityscapes, mmsegmentation's `reduce_zero_label` for
//! ADE20K. The references were made by `scripts/gen_format_fixtures.py`.

use std::path::{Path, PathBuf};

use fcn::data::coco::{polygon, rle::Rle};
use fcn::data::{self, Format, ReadOptions, labelme};
use ndarray::Array2;
use proptest::prelude::*;
use serde::Deserialize;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/formats")
}

fn grey_png(path: &Path) -> Array2<u8> {
    let img = image::open(path).unwrap().to_luma8();
    let (w, h) = img.dimensions();
    Array2::from_shape_fn((h as usize, w as usize), |(y, x)| {
        img.get_pixel(x as u32, y as u32).0[0]
    })
}

fn agreement(a: &Array2<u8>, b: &Array2<u8>) -> f64 {
    assert_eq!(a.dim(), b.dim());
    a.iter().zip(b).filter(|(x, y)| x == y).count() as f64 / a.len() as f64
}

#[derive(Deserialize)]
struct PolygonCase {
    h: usize,
    w: usize,
    xy: Vec<f64>,
    counts: String,
}

/// 300 random polygons (concave, partly outside, some on integer and half-pixel
/// vertices): the run lengths equal pycocotools' `frPyObjects` exactly.
#[test]
fn polygons_rasterise_as_pycocotools_does() {
    let text = std::fs::read_to_string(fixtures().join("coco_polygons.json")).unwrap();
    let cases: Vec<PolygonCase> = serde_json::from_str(&text).unwrap();
    assert_eq!(cases.len(), 300);
    let mut covered = 0;
    for (i, c) in cases.iter().enumerate() {
        let expected = Rle::from_compressed(&c.counts, c.h, c.w).unwrap();
        expected.check().unwrap();
        let ours = polygon::rasterize(&c.xy, c.h, c.w);
        assert_eq!(ours, expected, "case {i}");
        covered += ours.decode().iter().filter(|&&v| v).count();
    }
    assert!(covered > 10_000, "the polygons cover pixels ({covered})");
}

/// Every image of the COCO fixture (polygons, list and compressed RLE, crowd,
/// category ids 3, 7, 1, 20): labels equal pycocotools' `annToMask` painted in
/// annotation order, pixel for pixel.
#[test]
fn coco_masks_equal_pycocotools() {
    let dir = fixtures().join("coco");
    assert_eq!(Format::detect(&dir), Format::Coco);
    let mut images = 0;
    for split in ["train", "val"] {
        let s = data::open(&dir, split, &ReadOptions::default()).unwrap();
        assert_eq!(s.classes.names, ["background", "cat", "dog", "bird", "car"]);
        for i in 0..s.len() {
            let sample = s.load(i).unwrap();
            let expected = grey_png(&dir.join("expected").join(format!("{}.png", sample.name)));
            assert_eq!(sample.mask, expected, "{split} {}", sample.name);
            assert!(
                sample.mask.iter().any(|&v| v == 255),
                "crowd regions are ignored"
            );
            images += 1;
        }
    }
    assert_eq!(images, 4);
}

#[derive(Deserialize)]
struct ShapeCase {
    h: usize,
    w: usize,
    shape: Shape,
    counts: String,
}

#[derive(Deserialize)]
struct Shape {
    points: Vec<[f64; 2]>,
    shape_type: String,
}

/// 300 random shapes of each kind labelme draws: each mask agrees with
/// labelme's `shape_to_mask` on at least 99.5 % of pixels (most exactly).
#[test]
fn labelme_shapes_rasterise_as_labelme_does() {
    let text = std::fs::read_to_string(fixtures().join("labelme_shapes.json")).unwrap();
    let cases: Vec<ShapeCase> = serde_json::from_str(&text).unwrap();
    let mut exact = 0;
    for (i, c) in cases.iter().enumerate() {
        let expected = Rle::from_compressed(&c.counts, c.h, c.w)
            .unwrap()
            .decode()
            .mapv(u8::from);
        let ours = labelme::shape_mask(&c.shape.shape_type, &c.shape.points, c.h, c.w)
            .unwrap()
            .mapv(u8::from);
        let a = agreement(&ours, &expected);
        assert!(
            a >= 0.995,
            "case {i} ({}): agreement {a}",
            c.shape.shape_type
        );
        exact += usize::from(ours == expected);
    }
    eprintln!("{exact} of {} shapes pixel-exact", cases.len());
    assert!(
        exact >= 290,
        "{exact} of {} shapes pixel-exact",
        cases.len()
    );
}

/// The LabelMe folder (labelme2voc's labels.txt, every shape type, `__ignore__`,
/// one image only inside its JSON): masks equal labelme's `shapes_to_label`.
#[test]
fn labelme_folder_equals_labelme() {
    let dir = fixtures().join("labelme");
    assert_eq!(Format::detect(&dir), Format::LabelMe);
    let s = data::open(&dir, "all", &ReadOptions::default()).unwrap();
    assert_eq!(s.classes.names, ["background", "cat", "dog", "road"]);
    assert_eq!(s.len(), 4);
    for i in 0..s.len() {
        let sample = s.load(i).unwrap();
        // labelme's __ignore__ is -1, which the fixture's uint8 PNG holds as 255.
        let expected = grey_png(&dir.join("expected").join(format!("{}.png", sample.name)));
        assert_eq!(
            sample.mask,
            expected,
            "{}: agreement {}",
            sample.name,
            agreement(&sample.mask, &expected)
        );
        assert!(
            sample.mask.iter().any(|&v| v == 255),
            "{}: the __ignore__ shape",
            sample.name
        );
        assert_eq!(sample.image.dimensions().1 as usize, sample.mask.dim().0);
    }
    let train = data::open(&dir, "train", &ReadOptions::default()).unwrap();
    let val = data::open(&dir, "val", &ReadOptions::default()).unwrap();
    assert_eq!(train.len() + val.len(), 4);
}

proptest! {
    /// Encoding, the compressed string and back give the mask again.
    #[test]
    fn rle_round_trips(h in 1usize..40, w in 1usize..40, seed in any::<u64>(), density in 0.0f64..1.0) {
        let mut state = seed | 1;
        let mask = Array2::from_shape_fn((h, w), |_| {
            state ^= state << 13; state ^= state >> 7; state ^= state << 17;
            (state % 1000) as f64 / 1000.0 < density
        });
        let rle = Rle::encode(&mask);
        rle.check().unwrap();
        let text = rle.to_compressed();
        let back = Rle::from_compressed(&text, h, w).unwrap();
        prop_assert_eq!(&back, &rle);
        prop_assert_eq!(back.decode(), mask);
    }

    /// A random polygon's mask stays in its bounding box (one pixel of slack) and
    /// its area is the polygon's, within its perimeter.
    #[test]
    fn polygon_masks_match_their_polygons(seed in any::<u64>(), k in 3usize..9) {
        let (h, w) = (64usize, 80usize);
        let mut state = seed | 1;
        let mut next = || { state ^= state << 13; state ^= state >> 7; state ^= state << 17; (state % 10_000) as f64 / 10_000.0 };
        let (cx, cy) = (20.0 + 40.0 * next(), 16.0 + 32.0 * next());
        let mut angles: Vec<f64> = (0..k).map(|_| next() * std::f64::consts::TAU).collect();
        angles.sort_by(|a, b| a.partial_cmp(b).unwrap());
        let xy: Vec<f64> = angles.iter().flat_map(|a| {
            let r = 4.0 + 12.0 * next();
            [cx + r * a.cos(), cy + r * a.sin()]
        }).collect();
        let mask = polygon::rasterize(&xy, h, w).decode();
        let (xs, ys): (Vec<f64>, Vec<f64>) = xy.chunks(2).map(|p| (p[0], p[1])).unzip();
        let fmin = |v: &[f64]| v.iter().cloned().fold(f64::INFINITY, f64::min);
        let fmax = |v: &[f64]| v.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        for ((y, x), &inside) in mask.indexed_iter() {
            if inside {
                prop_assert!(x as f64 >= fmin(&xs) - 1.0 && x as f64 <= fmax(&xs) + 1.0);
                prop_assert!(y as f64 >= fmin(&ys) - 1.0 && y as f64 <= fmax(&ys) + 1.0);
            }
        }
        let n = xs.len();
        let area: f64 = (0..n).map(|i| xs[i] * ys[(i + 1) % n] - xs[(i + 1) % n] * ys[i]).sum::<f64>().abs() / 2.0;
        let perimeter: f64 = (0..n).map(|i| (xs[(i + 1) % n] - xs[i]).hypot(ys[(i + 1) % n] - ys[i])).sum();
        let count = mask.iter().filter(|&&v| v).count() as f64;
        prop_assert!((count - area).abs() <= perimeter + 4.0, "{count} pixels for area {area}");
    }
}

/// A scratch directory for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("fcn-formats-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write_grey(path: &Path, mask: &Array2<u8>) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let (h, w) = mask.dim();
    image::GrayImage::from_fn(w as u32, h as u32, |x, y| {
        image::Luma([mask[[y as usize, x as usize]]])
    })
    .save(path)
    .unwrap();
}

fn write_rgb(path: &Path, h: u32, w: u32) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    image::RgbImage::from_pixel(w, h, image::Rgb([10, 20, 30]))
        .save(path)
        .unwrap();
}

/// Label ids map to train ids by the official table: road 7 → 0, car 26 → 13,
/// bicycle 33 → 18, and the unevaluated ids (0, 4 static, 9 parking, 34) → 255.
#[test]
fn cityscapes_maps_label_ids_to_train_ids() {
    let dir = scratch("cityscapes");
    let ids = [7u8, 26, 33, 0, 4, 9, 24, 11];
    let expected = [0u8, 13, 18, 255, 255, 255, 11, 2];
    let mask = Array2::from_shape_fn((2, 4), |(y, x)| ids[y * 4 + x]);
    write_grey(
        &dir.join("gtFine/train/aachen/aachen_000000_000019_gtFine_labelIds.png"),
        &mask,
    );
    write_rgb(
        &dir.join("leftImg8bit/train/aachen/aachen_000000_000019_leftImg8bit.png"),
        2,
        4,
    );
    assert_eq!(Format::detect(&dir), Format::Cityscapes);
    let s = data::open(&dir, "train", &ReadOptions::default()).unwrap();
    assert_eq!(s.classes.len(), 19);
    assert_eq!(s.classes.names[13], "car");
    let sample = s.load(0).unwrap();
    assert_eq!(sample.name, "aachen_000000_000019");
    assert_eq!(sample.mask.iter().copied().collect::<Vec<_>>(), expected);
    assert!(
        data::open_optional(&dir, "val", &ReadOptions::default())
            .unwrap()
            .is_none()
    );
}

/// ADE20K: 0 ("other") is ignored and every other value lowered by one; a value
/// past the 150 classes is an error naming the file.
#[test]
fn ade20k_reduces_the_zero_label() {
    let dir = scratch("ade").join("ADEChallengeData2016");
    let mask = Array2::from_shape_vec((1, 4), vec![0u8, 1, 150, 13]).unwrap();
    write_grey(
        &dir.join("annotations/training/ADE_train_00000001.png"),
        &mask,
    );
    write_rgb(&dir.join("images/training/ADE_train_00000001.jpg"), 1, 4);
    let bad = Array2::from_shape_vec((1, 2), vec![1u8, 151]).unwrap();
    write_grey(
        &dir.join("annotations/validation/ADE_val_00000001.png"),
        &bad,
    );
    write_rgb(&dir.join("images/validation/ADE_val_00000001.jpg"), 1, 2);
    let root = dir.parent().unwrap();
    assert_eq!(Format::detect(root), Format::Ade20k);
    let s = data::open(root, "train", &ReadOptions::default()).unwrap();
    assert_eq!(s.classes.len(), 150);
    assert_eq!(
        (s.classes.names[0].as_str(), s.classes.names[149].as_str()),
        ("wall", "flag")
    );
    assert_eq!(
        s.load(0).unwrap().mask.iter().copied().collect::<Vec<_>>(),
        [255, 0, 149, 12]
    );
    let val = data::open(root, "val", &ReadOptions::default()).unwrap();
    let err = val.load(0).unwrap_err().to_string();
    assert!(
        err.contains("ADE_val_00000001.png") && err.contains("150"),
        "{err}"
    );
}

fn coco_file(dir: &Path, annotations: &str) -> PathBuf {
    write_rgb(&dir.join("train/a.jpg"), 10, 12);
    let json = format!(
        r#"{{"images": [{{"id": 5, "file_name": "a.jpg", "height": 10, "width": 12}}],
            "categories": [{{"id": 9, "name": "cat"}}, {{"id": 2, "name": "dog"}}],
            "annotations": [{annotations}]}}"#
    );
    std::fs::write(dir.join("instances_train.json"), json).unwrap();
    dir.to_path_buf()
}

/// Later annotations paint over earlier ones; `iscrowd` may be a boolean.
#[test]
fn coco_paints_in_file_order() {
    let dir = coco_file(
        &scratch("coco-order"),
        r#"{"id": 1, "image_id": 5, "category_id": 9, "segmentation": [[0,0, 11,0, 11,9, 0,9]]},
           {"id": 2, "image_id": 5, "category_id": 2, "segmentation": [[2,2, 6,2, 6,6, 2,6]]},
           {"id": 3, "image_id": 5, "category_id": 2, "iscrowd": true, "segmentation": [[8,0, 11,0, 11,2, 8,2]]}"#,
    );
    let s = data::open(&dir, "train", &ReadOptions::default()).unwrap();
    let mask = s.load(0).unwrap().mask;
    assert_eq!(mask[[4, 4]], 2, "the later dog is on top");
    assert_eq!(mask[[8, 10]], 1, "the cat elsewhere");
    assert_eq!(mask[[1, 10]], 255, "the crowd region");
}

/// labelme's `mask` shapes: a PNG over the box from the first point to the
/// second, its nonzero pixels painted (worked by hand: box (2, 1)–(4, 2)).
#[test]
fn labelme_mask_shapes_paint_their_png() {
    use base64::Engine;
    let dir = scratch("labelme-mask");
    std::fs::write(dir.join("labels.txt"), "_background_\ncat\n").unwrap();
    write_rgb(&dir.join("m.jpg"), 4, 6);
    let patch = image::GrayImage::from_raw(3, 2, vec![1, 0, 1, 0, 255, 0]).unwrap();
    let mut png = Vec::new();
    patch
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    let b64 = base64::engine::general_purpose::STANDARD.encode(&png);
    let json = format!(
        r#"{{"shapes": [{{"label": "cat", "points": [[2.7, 1.2], [4.9, 2.5]], "shape_type": "mask", "mask": "{b64}"}}],
            "imagePath": "m.jpg", "imageData": null, "imageHeight": 4, "imageWidth": 6}}"#
    );
    std::fs::write(dir.join("m.json"), json).unwrap();
    let mask = data::open(&dir, "all", &ReadOptions::default())
        .unwrap()
        .load(0)
        .unwrap()
        .mask;
    let painted: Vec<(usize, usize)> = mask
        .indexed_iter()
        .filter(|(_, v)| **v == 1)
        .map(|(p, _)| p)
        .collect();
    assert_eq!(painted, [(1, 2), (1, 4), (2, 3)]);
}

/// Broken annotations: each message names the file and the annotation.
#[test]
fn coco_problems_name_the_file_and_annotation() {
    let cases = [
        (
            r#"{"id": 41, "image_id": 5, "category_id": 9, "segmentation": [[0,0, 5,5]]}"#,
            "annotation 41",
            "three vertices",
        ),
        (
            r#"{"id": 42, "image_id": 5, "category_id": 9, "segmentation": {"counts": [3, 4], "size": [10, 12]}}"#,
            "annotation 42",
            "120",
        ),
        (
            r#"{"id": 43, "image_id": 5, "category_id": 9, "segmentation": {"counts": [120], "size": [10, 11]}}"#,
            "annotation 43",
            "10×11",
        ),
        (
            r#"{"id": 44, "image_id": 5, "category_id": 9, "segmentation": {"counts": "0z~", "size": [10, 12]}}"#,
            "annotation 44",
            "RLE",
        ),
    ];
    for (i, (ann, id, what)) in cases.iter().enumerate() {
        let dir = coco_file(&scratch(&format!("coco-bad-{i}")), ann);
        let s = data::open(&dir, "train", &ReadOptions::default()).unwrap();
        let err = s.load(0).unwrap_err().to_string();
        assert!(
            err.contains("instances_train.json") && err.contains(id) && err.contains(what),
            "{err}"
        );
    }
    let open_err = |ann: &str, name: &str| {
        let dir = coco_file(&scratch(name), ann);
        data::open(&dir, "train", &ReadOptions::default())
            .unwrap_err()
            .to_string()
    };
    let err = open_err(
        r#"{"id": 45, "image_id": 6, "category_id": 9, "segmentation": []}"#,
        "coco-bad-image",
    );
    assert!(
        err.contains("annotation 45") && err.contains("image id 6"),
        "{err}"
    );
    let err = open_err(
        r#"{"id": 46, "image_id": 5, "category_id": 3, "segmentation": []}"#,
        "coco-bad-cat",
    );
    assert!(
        err.contains("annotation 46") && err.contains("category id 3"),
        "{err}"
    );
    let err = open_err(r#"{"id": 47,"#, "coco-bad-json");
    assert!(
        err.contains("instances_train.json") && err.contains("not a COCO annotation file"),
        "{err}"
    );
    // An image the file names but the folder lacks: an error, or skipped with --skip-bad.
    let dir = coco_file(&scratch("coco-missing"), "");
    std::fs::remove_file(dir.join("train/a.jpg")).unwrap();
    let err = data::open(&dir, "train", &ReadOptions::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("a.jpg") && err.contains("missing"), "{err}");
}

/// A shape whose label labels.txt lacks is an error naming the JSON and the label.
#[test]
fn labelme_unknown_label_is_named() {
    let dir = scratch("labelme-unknown");
    std::fs::write(dir.join("labels.txt"), "__ignore__\n_background_\ncat\n").unwrap();
    write_rgb(&dir.join("x.jpg"), 8, 8);
    std::fs::write(
        dir.join("x.json"),
        r#"{"shapes": [{"label": "zebra", "points": [[1,1],[5,1],[5,5]], "shape_type": "polygon"}],
            "imagePath": "x.jpg", "imageData": null, "imageHeight": 8, "imageWidth": 8}"#,
    )
    .unwrap();
    let s = data::open(&dir, "all", &ReadOptions::default()).unwrap();
    let err = s.load(0).unwrap_err().to_string();
    assert!(
        err.contains("x.json") && err.contains("zebra") && err.contains("labels.txt"),
        "{err}"
    );
}

/// `fcn convert`'s writer: the COCO fixture in VOC layout reads back (as VOC)
/// with the same labels, classes and splits; an interrupted run resumes.
#[test]
fn conversion_to_voc_reads_back_the_same() {
    let src = fixtures().join("coco");
    let out = scratch("convert").join("voc");
    let opts = ReadOptions::default();
    let splits: Vec<_> = ["train", "val"]
        .iter()
        .map(|s| data::open(&src, s, &opts).unwrap())
        .collect();
    // An interrupted run: the partial directory holds one finished item.
    let partial = data::export::partial_dir(&out);
    std::fs::create_dir_all(partial.join("SegmentationClass")).unwrap();
    std::fs::create_dir_all(partial.join("JPEGImages")).unwrap();
    let first = &splits[0].items[0];
    let done_mask = partial
        .join("SegmentationClass")
        .join(format!("{}.png", first.name));
    let done_image = partial
        .join("JPEGImages")
        .join(format!("{}.jpg", first.name));
    std::fs::write(
        &done_mask,
        fcn::data::decode::encode_palette_png(
            &splits[0].load_mask(0).unwrap(),
            &fcn::data::colormap::voc_palette(),
        )
        .unwrap(),
    )
    .unwrap();
    std::fs::copy(&first.image, &done_image).unwrap();
    let summary = data::export::write_voc(&splits, &out, &|_, _| {}).unwrap();
    assert_eq!(
        summary.splits,
        [("train".to_string(), 3), ("val".to_string(), 1)]
    );
    assert_eq!(summary.resumed, 1);
    assert!(!partial.exists());
    assert_eq!(Format::detect(&out), Format::Voc);
    for split in &splits {
        let back = data::open(&out, &split.name, &opts).unwrap();
        assert_eq!(back.classes, split.classes);
        assert_eq!(back.len(), split.len());
        for i in 0..split.len() {
            let (a, b) = (split.load(i).unwrap(), back.load(i).unwrap());
            assert_eq!((&a.name, &a.mask), (&b.name, &b.mask));
            assert_eq!(a.image, b.image);
        }
    }
    let again = data::export::write_voc(&splits, &out, &|_, _| {})
        .unwrap_err()
        .to_string();
    assert!(again.contains("already exists"), "{again}");
}
