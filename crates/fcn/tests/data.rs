//! Datasets: VOC (palette and colour masks), own folders, the synthetic set, and a
//! clear error naming the file for each kind of bad input (augmentation and batching:
//! `loader.rs`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use fcn::data::colormap::{IGNORE, VOC_BORDER, VOC_COLORMAP, voc_palette};
use fcn::data::decode::write_palette_png;
use fcn::data::loader::{Augmentation, AugmentedSplit, Loader};
use fcn::data::synthetic::{self, SynthConfig};
use fcn::data::{self, ReadOptions};
use image::{Rgb, RgbImage};
use ndarray::Array2;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("fcn-data-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn counts(mask: &Array2<u8>) -> BTreeMap<u8, usize> {
    let mut c = BTreeMap::new();
    for &v in mask {
        *c.entry(v).or_default() += 1;
    }
    c
}

#[test]
fn voc_palette_mask_reads_class_indices() {
    for dir in [fixture("voc_mini"), fixture("voc_mini/VOC2012")] {
        let split = data::open(&dir, "train", &ReadOptions::default()).unwrap();
        assert_eq!(split.len(), 1);
        assert_eq!(split.classes.len(), 21);
        let sample = split.load(0).unwrap();
        let c = counts(&sample.mask);
        for (class, n) in [
            (0u8, 62317usize),
            (5, 2625),
            (9, 3508),
            (11, 56734),
            (15, 62316),
        ] {
            assert_eq!(c.get(&class), Some(&n), "class {class}");
        }
        assert_eq!(
            sample.image.dimensions(),
            (sample.mask.dim().1 as u32, sample.mask.dim().0 as u32)
        );
    }
}

/// The VOC fixture rewritten with an RGB-coded mask (colours from the colormap).
fn voc_with_rgb_mask() -> PathBuf {
    let dir = tmp("voc_rgb");
    let src = fixture("voc_mini/VOC2012");
    let root = dir.join("VOCdevkit/VOC2012");
    for sub in ["JPEGImages", "SegmentationClass", "ImageSets/Segmentation"] {
        std::fs::create_dir_all(root.join(sub)).unwrap();
    }
    std::fs::copy(
        src.join("JPEGImages/2011_003271.jpg"),
        root.join("JPEGImages/2011_003271.jpg"),
    )
    .unwrap();
    std::fs::copy(
        src.join("ImageSets/Segmentation/train.txt"),
        root.join("ImageSets/Segmentation/train.txt"),
    )
    .unwrap();
    let split = data::open(&src, "train", &ReadOptions::default()).unwrap();
    let mask = split.load(0).unwrap().mask;
    let (h, w) = mask.dim();
    // The fixture has no void pixels: draw a border band across it.
    let rgb = RgbImage::from_fn(w as u32, h as u32, |x, y| {
        let l = if (100..104).contains(&x) {
            IGNORE
        } else {
            mask[[y as usize, x as usize]]
        };
        Rgb(if l == IGNORE {
            VOC_BORDER
        } else {
            VOC_COLORMAP[l as usize]
        })
    });
    rgb.save(root.join("SegmentationClass/2011_003271.png"))
        .unwrap();
    dir
}

#[test]
fn voc_rgb_mask_maps_colours_and_border() {
    let dir = voc_with_rgb_mask();
    let rgb = data::open(&dir, "train", &ReadOptions::default())
        .unwrap()
        .load(0)
        .unwrap();
    let palette = data::open(&fixture("voc_mini"), "train", &ReadOptions::default())
        .unwrap()
        .load(0)
        .unwrap();
    for ((y, x), &l) in rgb.mask.indexed_iter() {
        let want = if (100..104).contains(&x) {
            IGNORE
        } else {
            palette.mask[[y, x]]
        };
        assert_eq!(l, want, "({x}, {y})");
    }
}

/// An own-data folder with three classes; masks in the three accepted encodings.
fn own_data(name: &str, n: usize) -> PathBuf {
    let dir = tmp(name);
    std::fs::create_dir_all(dir.join("images")).unwrap();
    std::fs::create_dir_all(dir.join("masks")).unwrap();
    std::fs::write(
        dir.join("classes.toml"),
        "ignore = 9\nignore_color = [255, 255, 255]\n\n[[classes]]\nname = \"sky\"\ncolor = [0, 0, 255]\n\n\
         [[classes]]\nname = \"road\"\ncolor = [128, 128, 128]\n\n[[classes]]\nname = \"car\"\ncolor = [255, 0, 0]\n",
    )
    .unwrap();
    for i in 0..n {
        let img = RgbImage::from_fn(20, 10, |x, y| {
            Rgb([(x * 10) as u8, (y * 20) as u8, i as u8])
        });
        img.save(dir.join(format!("images/img{i}.png"))).unwrap();
        let labels = Array2::from_shape_fn((10, 20), |(y, x)| {
            if y < 3 {
                0u8
            } else if x < 10 {
                1
            } else {
                2
            }
        });
        match i % 3 {
            0 => write_palette_png(
                &dir.join(format!("masks/img{i}.png")),
                &labels,
                &voc_palette(),
            )
            .unwrap(),
            1 => image::GrayImage::from_fn(20, 10, |x, y| {
                image::Luma([if (x, y) == (0, 0) {
                    9
                } else {
                    labels[[y as usize, x as usize]]
                }])
            })
            .save(dir.join(format!("masks/img{i}.png")))
            .unwrap(),
            _ => {
                let colors = [[0, 0, 255], [128, 128, 128], [255, 0, 0]];
                RgbImage::from_fn(20, 10, |x, y| {
                    Rgb(if (x, y) == (0, 0) {
                        [255, 255, 255]
                    } else {
                        colors[labels[[y as usize, x as usize]] as usize]
                    })
                })
                .save(dir.join(format!("masks/img{i}.png")))
                .unwrap()
            }
        }
    }
    dir
}

#[test]
fn own_data_reads_every_mask_encoding_and_the_ignore_value() {
    let dir = own_data("own3", 3);
    let split = data::open(&dir, "all", &ReadOptions::default()).unwrap();
    assert_eq!(split.classes.names, ["sky", "road", "car"]);
    assert_eq!(split.len(), 3);
    for i in 0..3 {
        let s = split.load(i).unwrap();
        assert_eq!(s.mask[[5, 2]], 1);
        assert_eq!(s.mask[[5, 15]], 2);
        assert_eq!(s.mask[[1, 5]], 0);
        // Grey value 9 is the declared ignore value; white is the ignore colour.
        let want = if i == 0 { 0 } else { IGNORE };
        assert_eq!(s.mask[[0, 0]], want, "mask {i}");
    }
}

#[test]
fn own_data_splits_by_seeded_fraction_or_lists() {
    let dir = own_data("own10", 10);
    let opts = ReadOptions {
        val_fraction: 0.3,
        split_seed: 7,
        ..Default::default()
    };
    let train = data::open(&dir, "train", &opts).unwrap();
    let val = data::open(&dir, "val", &opts).unwrap();
    assert_eq!((train.len(), val.len()), (7, 3));
    let names = |s: &data::Split| s.items.iter().map(|i| i.name.clone()).collect::<Vec<_>>();
    assert!(names(&val).iter().all(|n| !names(&train).contains(n)));
    assert_eq!(
        names(&data::open(&dir, "val", &opts).unwrap()),
        names(&val),
        "deterministic"
    );
    std::fs::write(dir.join("val.txt"), "img4\nimg5\n").unwrap();
    assert_eq!(
        names(&data::open(&dir, "val", &opts).unwrap()),
        ["img4", "img5"]
    );
}

#[test]
fn synthetic_set_is_deterministic_and_varied() {
    let cfg = SynthConfig {
        n: 6,
        seed: 3,
        size: (64, 96),
        val_fraction: 0.5,
    };
    let (a, b) = (tmp("synth_a"), tmp("synth_b"));
    synthetic::generate(&a, &cfg, |_| {}).unwrap();
    synthetic::generate(&b, &cfg, |_| {}).unwrap();
    for f in [
        "JPEGImages/synth_000004.jpg",
        "SegmentationClass/synth_000004.png",
        "ImageSets/Segmentation/val.txt",
    ] {
        assert_eq!(
            std::fs::read(a.join("VOC2012").join(f)).unwrap(),
            std::fs::read(b.join("VOC2012").join(f)).unwrap(),
            "{f}"
        );
    }
    let split = data::open(&a, "trainval", &ReadOptions::default()).unwrap();
    assert_eq!(split.classes.names, synthetic::CLASSES);
    assert_eq!(
        data::open(&a, "val", &ReadOptions::default())
            .unwrap()
            .len(),
        3
    );
    // Over a few images every object class shows up, and so do void borders.
    let mut seen = BTreeMap::new();
    for i in 0..40 {
        for (k, v) in counts(&synthetic::render(3, i, (64, 96)).mask) {
            *seen.entry(k).or_insert(0usize) += v;
        }
    }
    for class in 0..synthetic::CLASSES.len() as u8 {
        assert!(
            seen.get(&class).copied().unwrap_or(0) > 0,
            "class {class} never drawn"
        );
    }
    assert!(seen[&IGNORE] > 0);
    // Colour alone does not identify a class: each class appears in widely different colours.
    let mut colors: BTreeMap<u8, Vec<[u8; 3]>> = BTreeMap::new();
    for i in 0..40 {
        let s = synthetic::render(3, i, (64, 96));
        for ((y, x), &l) in s.mask.indexed_iter() {
            if l != 0 && l != IGNORE {
                colors
                    .entry(l)
                    .or_default()
                    .push(s.image.get_pixel(x as u32, y as u32).0);
            }
        }
    }
    for (class, c) in colors {
        let spread = (0..3)
            .map(|ch| {
                c.iter().map(|p| p[ch]).max().unwrap() - c.iter().map(|p| p[ch]).min().unwrap()
            })
            .max()
            .unwrap();
        assert!(spread > 150, "class {class} colours span only {spread}");
    }
}

/// A one-image VOC dataset whose image or mask bytes are replaced.
fn voc_with(name: &str, image: Option<&[u8]>, mask: Option<Vec<u8>>) -> PathBuf {
    let dir = tmp(name);
    let root = dir.join("VOC2012");
    let src = fixture("voc_mini/VOC2012");
    for sub in ["JPEGImages", "SegmentationClass", "ImageSets/Segmentation"] {
        std::fs::create_dir_all(root.join(sub)).unwrap();
    }
    let id = "2011_003271";
    let img = std::fs::read(src.join(format!("JPEGImages/{id}.jpg"))).unwrap();
    std::fs::write(
        root.join(format!("JPEGImages/{id}.jpg")),
        image.unwrap_or(&img),
    )
    .unwrap();
    let m = std::fs::read(src.join(format!("SegmentationClass/{id}.png"))).unwrap();
    std::fs::write(
        root.join(format!("SegmentationClass/{id}.png")),
        mask.unwrap_or(m),
    )
    .unwrap();
    std::fs::write(
        root.join("ImageSets/Segmentation/train.txt"),
        format!("{id}\n"),
    )
    .unwrap();
    dir
}

fn load_err(dir: &Path, opts: &ReadOptions) -> String {
    let split = data::open(dir, "train", opts).unwrap();
    split.load(0).unwrap_err().to_string()
}

fn png_of(mask: &Array2<u8>) -> Vec<u8> {
    let path = tmp("png_of").join("m.png");
    write_palette_png(&path, mask, &voc_palette()).unwrap();
    std::fs::read(path).unwrap()
}

#[test]
fn bad_files_are_errors_that_name_the_file() {
    let opts = ReadOptions::default();
    let jpg = std::fs::read(fixture("voc_mini/VOC2012/JPEGImages/2011_003271.jpg")).unwrap();
    let dir = voc_with("truncated_jpeg", Some(&jpg[..jpg.len() / 3]), None);
    let m = load_err(&dir, &opts);
    assert!(
        m.contains("2011_003271.jpg") && m.contains("corrupt or truncated image"),
        "{m}"
    );

    let png = std::fs::read(fixture(
        "voc_mini/VOC2012/SegmentationClass/2011_003271.png",
    ))
    .unwrap();
    let dir = voc_with("truncated_png", None, Some(png[..png.len() / 2].to_vec()));
    let m = load_err(&dir, &opts);
    assert!(
        m.contains("SegmentationClass/2011_003271.png") && m.contains("PNG mask"),
        "{m}"
    );

    let dir = voc_with(
        "size_mismatch",
        None,
        Some(png_of(&Array2::zeros((10, 10)))),
    );
    let m = load_err(&dir, &opts);
    assert!(
        m.contains("mask is 10×10 but its image") && m.contains("is 500×375"),
        "{m}"
    );

    let dir = voc_with(
        "bad_value",
        None,
        Some(png_of(&Array2::from_elem((375, 500), 42))),
    );
    assert!(
        load_err(&dir, &opts)
            .contains("mask value 42 at (0, 0) is neither a class (0–20) nor the ignore value 255")
    );

    let dir = voc_with_rgb_mask();
    let mask = dir.join("VOCdevkit/VOC2012/SegmentationClass/2011_003271.png");
    let mut rgb = image::open(&mask).unwrap().to_rgb8();
    rgb.put_pixel(3, 4, Rgb([1, 2, 3]));
    rgb.save(&mask).unwrap();
    let m = load_err(&dir, &opts);
    assert!(m.contains("unknown mask colour [1, 2, 3] at (3, 4)"), "{m}");

    let dir = voc_with("huge", None, None);
    let m = load_err(
        &dir,
        &ReadOptions {
            max_pixels: 1000,
            ..Default::default()
        },
    );
    assert!(
        m.contains("image is 500×375 = 187500 pixels, more than the limit of 1000"),
        "{m}"
    );
}

#[test]
fn missing_files_and_empty_splits() {
    let dir = voc_with("missing", None, None);
    let list = dir.join("VOC2012/ImageSets/Segmentation/train.txt");
    std::fs::write(&list, "2011_003271\nnot_there\n").unwrap();
    let e = data::open(&dir, "train", &ReadOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("JPEGImages/not_there.jpg: named in") && e.contains("and 1 more missing"),
        "{e}"
    );
    let split = data::open(
        &dir,
        "train",
        &ReadOptions {
            skip_bad: true,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!((split.len(), split.skipped.len()), (1, 2));

    std::fs::write(&list, "# nothing here\n\n").unwrap();
    let e = data::open(&dir, "train", &ReadOptions::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("train.txt: the split is empty"), "{e}");
    let e = data::open(&dir, "test", &ReadOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("test.txt: no split file for split 'test'"),
        "{e}"
    );
}

#[test]
fn bad_items_reach_the_batch_as_failures() {
    let jpg = std::fs::read(fixture("voc_mini/VOC2012/JPEGImages/2011_003271.jpg")).unwrap();
    let dir = voc_with("bad_batch", Some(&jpg[..100]), None);
    let split = data::open(&dir, "train", &ReadOptions::default()).unwrap();
    let aug = Augmentation {
        crop: None,
        pad_small: false,
        flip: false,
        scale: None,
        color_jitter: None,
        mean: [0.5; 3],
        std: [0.5; 3],
        seed: 0,
    };
    let (ds, _) = AugmentedSplit::new(split, aug);
    let loader = Loader::new(ds, 1, None, 1, &burn::tensor::Device::flex());
    let batch = loader.epoch(0).next().unwrap();
    assert_eq!(batch.names.len(), 0);
    assert_eq!(batch.failures.len(), 1);
    assert!(batch.failures[0].to_string().contains("2011_003271.jpg"));
}

#[test]
fn classes_with_one_name_or_colour_twice_are_refused() {
    let dir = own_data("dup_classes", 2);
    let toml = |a: &str, b: &str| {
        format!(
            "[[classes]]\nname = \"sky\"\ncolor = {a}\n\n[[classes]]\nname = {b}\ncolor = [1, 2, 3]\n"
        )
    };
    std::fs::write(dir.join("classes.toml"), toml("[0, 0, 255]", "\"sky\"")).unwrap();
    let e = data::open(&dir, "all", &ReadOptions::default()).unwrap_err();
    assert!(
        e.to_string()
            .contains("classes 0 and 1 are both named 'sky'"),
        "{e}"
    );
    std::fs::write(dir.join("classes.toml"), toml("[1, 2, 3]", "\"road\"")).unwrap();
    let e = data::open(&dir, "all", &ReadOptions::default()).unwrap_err();
    assert!(e.to_string().contains("share the colour [1, 2, 3]"), "{e}");
}

#[test]
fn images_without_masks_are_warned_about() {
    let dir = own_data("unmasked", 4);
    std::fs::remove_file(dir.join("masks/img2.png")).unwrap();
    let train = data::open(&dir, "all", &ReadOptions::default()).unwrap();
    assert_eq!(train.len(), 3);
    assert_eq!(train.skipped.len(), 1);
    let m = train.skipped[0].to_string();
    assert!(m.contains("img2.png") && m.contains("no mask"), "{m}");
}

/// Median-frequency class weights on the VOC fixture, against the formula worked
/// here from the palette PNG's raw indices: one image, so each present class's
/// frequency is its pixels over the labelled pixels, and its weight the median of
/// those frequencies over its own.
#[test]
fn median_frequency_weights_on_the_voc_fixture() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/voc_mini");
    let split = fcn::data::open(&root, "train", &Default::default()).unwrap();
    let balance = fcn::data::balance::median_frequency(&split, |_, _| {}).unwrap();

    let file = std::fs::File::open(&split.items[0].mask).unwrap();
    let mut decoder = png::Decoder::new(std::io::BufReader::new(file));
    decoder.set_transformations(png::Transformations::IDENTITY);
    let mut reader = decoder.read_info().unwrap();
    let mut raw = vec![0; reader.output_buffer_size().unwrap()];
    reader.next_frame(&mut raw).unwrap();
    let mut counts = [0u64; 256];
    raw.iter().for_each(|&v| counts[v as usize] += 1);
    let labelled: u64 = counts[..21].iter().sum();
    let mut freqs: Vec<f64> = (0..21)
        .filter(|&c| counts[c] > 0)
        .map(|c| counts[c] as f64 / labelled as f64)
        .collect();
    freqs.sort_by(f64::total_cmp);
    let n = freqs.len();
    assert!(n >= 2, "the fixture shows several classes");
    let median = if n % 2 == 1 {
        freqs[n / 2]
    } else {
        (freqs[n / 2 - 1] + freqs[n / 2]) / 2.0
    };
    for (c, &count) in counts.iter().enumerate().take(21) {
        let want = if count == 0 {
            0.0
        } else {
            median / (count as f64 / labelled as f64)
        };
        let got = balance.weights[c] as f64;
        assert!(
            (got - want).abs() < 1e-5 * want.max(1.0),
            "class {c}: {got} vs {want}"
        );
        assert_eq!(balance.pixels[c], count);
    }
}
