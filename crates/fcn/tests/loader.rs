//! Augmentation and batching: crops and flips keep image and mask aligned, and the
//! loader gives the same batches for the same seed and epoch whatever its threads.

use fcn::data::colormap::IGNORE;
use fcn::data::loader::{Augmentation, AugmentedSplit, Loader};
use fcn::data::synthetic::{self, SynthConfig};
use fcn::data::{self, ReadOptions, augment};
use image::{Rgb, RgbImage};
use ndarray::Array2;

fn tmp(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("fcn-loader-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn crops_and_flips_keep_image_and_mask_aligned() {
    let image = RgbImage::from_fn(8, 6, |x, y| Rgb([x as u8, y as u8, 0]));
    let mask = Array2::from_shape_fn((6, 8), |(y, x)| (y * 8 + x) as u8);
    let s = data::Sample {
        name: "t".into(),
        image,
        mask,
    };
    let mut rng = augment::Rng::new(1);
    for _ in 0..20 {
        let c = augment::hflip(&augment::random_crop(&s, 4, 5, &mut rng));
        assert_eq!(c.mask.dim(), (4, 5));
        for ((y, x), &l) in c.mask.indexed_iter() {
            let p = c.image.get_pixel(x as u32, y as u32);
            assert_eq!(l as usize, p[1] as usize * 8 + p[0] as usize);
        }
    }
    let padded = augment::pad_to(&s, 10, 9, [1, 2, 3]);
    assert_eq!(padded.mask.dim(), (10, 9));
    assert_eq!(padded.mask[[9, 8]], IGNORE);
    assert_eq!(padded.image.get_pixel(8, 9).0, [1, 2, 3]);
    let n = augment::normalize(&s.image, [0.5, 0.0, 0.0], [0.5, 1.0, 1.0]);
    assert_eq!(n[3], (3.0 / 255.0 - 0.5) / 0.5);
}

fn aug(crop: Option<(usize, usize)>, pad_small: bool, seed: u64) -> Augmentation {
    Augmentation {
        crop,
        pad_small,
        flip: true,
        scale: None,
        color_jitter: None,
        mean: [0.485, 0.456, 0.406],
        std: [0.229, 0.224, 0.225],
        seed,
    }
}

#[test]
fn loader_batches_deterministically_and_filters_small_images() {
    let dir = tmp("synth_loader");
    synthetic::generate(
        &dir,
        &SynthConfig {
            n: 5,
            seed: 1,
            size: (40, 60),
            val_fraction: 0.0,
        },
        |_| {},
    )
    .unwrap();
    let split = || data::open(&dir, "train", &ReadOptions::default()).unwrap();
    let device = burn::tensor::Device::flex();
    // Every batch of an epoch: its item names and pixels, in the order they came.
    let batches = |seed, workers, epoch| {
        let (ds, dropped) = AugmentedSplit::new(split(), aug(Some((32, 48)), false, seed));
        assert!(dropped.is_empty());
        let loader = Loader::new(ds, 2, Some(seed), workers, &device);
        assert_eq!(loader.batches(), 3);
        let mut out = Vec::new();
        for b in loader.epoch(epoch) {
            let [n, h, w] = b.labels.dims();
            // A 32×48 crop is padded to the network's multiple of 32; the padding's
            // label is the ignored 255.
            assert_eq!((h, w), (32, 64));
            let labels = b
                .labels
                .to_data()
                .convert::<i64>()
                .try_to_vec::<i64>()
                .unwrap();
            for row in labels.chunks(w) {
                assert!(row[48..].iter().all(|&l| l == 255));
            }
            assert!(n <= 2);
            let pixels = b.images.to_data().try_to_vec::<f32>().unwrap();
            out.push((b.names, pixels));
        }
        out
    };
    let a = batches(4, 2, 1);
    let mut names: Vec<String> = a.iter().flat_map(|(n, _)| n.clone()).collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), 5);
    // The same seed and epoch give the same batches in the same order, whatever
    // the number of loading threads.
    assert_eq!(a, batches(4, 1, 1));
    assert_eq!(a, batches(4, 3, 1));
    assert_ne!(a, batches(5, 2, 1));
    assert_ne!(a, batches(4, 2, 2));
    let (small, dropped) = AugmentedSplit::new(split(), aug(Some((50, 60)), false, 0));
    assert_eq!((small.len(), dropped.len()), (0, 5));
    assert!(
        dropped[0]
            .to_string()
            .contains("smaller than the crop 60×50")
    );
    let (padded, dropped) = AugmentedSplit::new(split(), aug(Some((50, 60)), true, 0));
    assert!(dropped.is_empty());
    let e = padded.example(0, 0).unwrap();
    // The 50×60 crop, padded to the network's multiple of 32.
    assert_eq!(e.size, (64, 64));
    assert!(e.mask.contains(&(IGNORE as i64)));
}

/// The low-resolution epochs' dataset has the full-size one's items, whatever its
/// own crop would let in, and yields half-size crops of half-size images.
#[test]
fn a_reaugmented_split_keeps_its_items() {
    let dir = tmp("reaugmented");
    let synth = SynthConfig {
        n: 3,
        seed: 2,
        size: (40, 60),
        val_fraction: 0.0,
    };
    synthetic::generate(&dir, &synth, |_| {}).unwrap();
    let split = || data::open(&dir, "train", &ReadOptions::default()).unwrap();
    let half = |crop| Augmentation {
        scale: Some((0.5, 0.5)),
        ..aug(Some(crop), false, 0)
    };
    // 40×60 images are smaller than a 50×60 crop: none is kept, and a 25×30 crop
    // on the same items keeps none either.
    let (none, _) = AugmentedSplit::new(split(), aug(Some((50, 60)), false, 0));
    assert_eq!(none.with_augmentation(half((25, 30))).len(), 0);
    let (all, _) = AugmentedSplit::new(split(), aug(Some((32, 48)), false, 0));
    let low = all.with_augmentation(half((16, 24)));
    assert_eq!(low.len(), 3);
    let e = low.example(0, 1).unwrap();
    // A 16×24 crop of the 20×30 half-size image, padded to the multiple of 32.
    assert_eq!(e.size, (32, 32));
    let labelled = e.mask.iter().filter(|&&l| l != IGNORE as i64).count();
    assert!(labelled <= 16 * 24 && labelled > 0, "{labelled}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Rescaling by 2 then cropping keeps the mask on its image: a drawn square's label
/// lands on the square's colour, and no label appears that was not there before.
#[test]
fn rescaled_crops_keep_masks_on_their_images() {
    use fcn::data::augment::{crop, rescale};
    let (h, w) = (40usize, 60usize);
    let inside = |x: usize, y: usize| (10..25).contains(&x) && (8..20).contains(&y);
    let image = image::RgbImage::from_fn(w as u32, h as u32, |x, y| {
        if inside(x as usize, y as usize) {
            image::Rgb([250, 10, 10])
        } else {
            image::Rgb([10, 10, 250])
        }
    });
    let mask = ndarray::Array2::from_shape_fn((h, w), |(y, x)| if inside(x, y) { 3 } else { 0 });
    let sample = fcn::data::Sample {
        name: "square".into(),
        image,
        mask,
    };
    let big = rescale(&sample, 2.0);
    assert_eq!(big.mask.dim(), (80, 120));
    assert_eq!((big.image.width(), big.image.height()), (120, 80));
    let part = crop(&big, 5, 7, 50, 70);
    let mut labels: Vec<u8> = part.mask.iter().copied().collect();
    labels.sort();
    labels.dedup();
    assert_eq!(labels, [0, 3], "only labels that were there");
    // Away from the square's edge (where the image is blended), label and colour agree.
    for ((y, x), &label) in part.mask.indexed_iter() {
        let p = part.image.get_pixel(x as u32, y as u32).0;
        if p[0] > 240 {
            assert_eq!(label, 3, "a red pixel at ({x}, {y}) is labelled {label}");
        } else if p[2] > 240 {
            assert_eq!(label, 0, "a blue pixel at ({x}, {y}) is labelled {label}");
        }
    }
    let reds = part.image.pixels().filter(|p| p.0[0] > 240).count();
    assert!(reds > 400, "the square is in the crop ({reds} pixels)");
}
