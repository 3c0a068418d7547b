//! Training and evaluation batches on Burn's data loader (worker threads, seeded
//! shuffling): decode, check, crop, flip and normalise each item, then stack them.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use burn::data::dataloader::batcher::Batcher;
use burn::data::dataloader::{DataLoader, DataLoaderBuilder};
use burn::data::dataset::{Dataset, DatasetError};
use burn::tensor::{Device, Int, Tensor, TensorData};

use super::augment::{self, Rng};
use super::{DataError, Split, decode};

/// How items become training examples.
#[derive(Debug, Clone)]
pub struct Augmentation {
    /// Random crop `(height, width)`; `None` keeps whole images (batch size 1 then,
    /// unless all images share a size).
    pub crop: Option<(usize, usize)>,
    /// Pad images smaller than the crop (mask with the ignore label) instead of
    /// leaving them out, as the textbook does.
    pub pad_small: bool,
    pub flip: bool,
    pub mean: [f32; 3],
    pub std: [f32; 3],
    pub seed: u64,
}

/// One decoded, augmented, normalised example.
#[derive(Debug, Clone)]
pub struct Example {
    pub name: String,
    /// `[3, H, W]`, normalised.
    pub image: Vec<f32>,
    /// `[H, W]` labels (255 ignored).
    pub mask: Vec<i64>,
    pub size: (usize, usize),
}

/// An item of the loader: an example, or why its files could not be used.
pub type LoadedExample = Result<Example, DataError>;

/// The split as a Burn dataset; the epoch (shared with the trainer) varies the crops.
pub struct AugmentedSplit {
    split: Split,
    indices: Vec<usize>,
    aug: Augmentation,
    epoch: Arc<AtomicU64>,
}

impl AugmentedSplit {
    /// With a crop and no padding, images smaller than the crop are left out (their
    /// headers are read here, which is cheap); they are reported in the returned list.
    pub fn new(split: Split, aug: Augmentation) -> (Self, Vec<DataError>) {
        let mut indices = Vec::new();
        let mut dropped = Vec::new();
        for i in 0..split.len() {
            match (aug.crop, aug.pad_small) {
                (Some((ch, cw)), false) => match decode::image_size(&split.items[i].image) {
                    Ok((w, h)) if (h as usize) < ch || (w as usize) < cw => dropped.push(DataError::new(
                        &split.items[i].image,
                        format!("{w}×{h} is smaller than the crop {cw}×{ch}; left out (--pad-small keeps it)"),
                    )),
                    _ => indices.push(i),
                },
                _ => indices.push(i),
            }
        }
        let epoch = Arc::new(AtomicU64::new(0));
        (
            Self {
                split,
                indices,
                aug,
                epoch,
            },
            dropped,
        )
    }

    /// The handle through which the trainer sets the epoch.
    pub fn epoch(&self) -> Arc<AtomicU64> {
        self.epoch.clone()
    }

    pub fn split(&self) -> &Split {
        &self.split
    }

    /// Loads and augments item `i` of this (filtered) dataset.
    pub fn example(&self, i: usize) -> LoadedExample {
        let index = self.indices[i];
        let sample = self.split.load(index)?;
        let mut rng = Rng::for_item(self.aug.seed, self.epoch.load(Ordering::Relaxed), index);
        let sample = match self.aug.crop {
            Some((h, w)) => {
                let padded = if self.aug.pad_small {
                    augment::pad_to(&sample, h, w, augment::mean_color(self.aug.mean))
                } else {
                    sample
                };
                let (mh, mw) = padded.mask.dim();
                if mh < h || mw < w {
                    return Err(DataError::new(
                        &self.split.items[index].image,
                        format!("{mw}×{mh} is smaller than the crop {w}×{h}"),
                    ));
                }
                augment::random_crop(&padded, h, w, &mut rng)
            }
            None => sample,
        };
        let sample = if self.aug.flip && rng.unit() < 0.5 {
            augment::hflip(&sample)
        } else {
            sample
        };
        // Any crop size trains: the network takes multiples of its stride, and the
        // padding's label is ignored by the loss.
        let (h, w) = sample.mask.dim();
        let m = crate::model::INPUT_MULTIPLE;
        let sample = if h % m != 0 || w % m != 0 {
            let fill = augment::mean_color(self.aug.mean);
            augment::pad_to(&sample, h.div_ceil(m) * m, w.div_ceil(m) * m, fill)
        } else {
            sample
        };
        let (h, w) = sample.mask.dim();
        Ok(Example {
            name: sample.name.clone(),
            image: augment::normalize(&sample.image, self.aug.mean, self.aug.std),
            mask: sample.mask.iter().map(|&v| v as i64).collect(),
            size: (h, w),
        })
    }
}

impl Dataset<LoadedExample> for AugmentedSplit {
    fn get(&self, index: usize) -> Result<LoadedExample, DatasetError> {
        Ok(self.example(index))
    }

    fn len(&self) -> usize {
        self.indices.len()
    }
}

/// A batch: images `[N, 3, H, W]`, labels `[N, H, W]`, and the items that failed.
#[derive(Debug, Clone)]
pub struct Batch {
    pub images: Tensor<4>,
    pub labels: Tensor<3, Int>,
    pub names: Vec<String>,
    pub failures: Vec<DataError>,
}

/// Stacks examples of equal size into a [`Batch`].
#[derive(Debug, Clone, Default)]
pub struct SegmentationBatcher;

impl Batcher<LoadedExample, Batch> for SegmentationBatcher {
    fn batch(&self, items: Vec<LoadedExample>, device: &Device) -> Batch {
        let mut failures = Vec::new();
        let mut examples = Vec::new();
        for item in items {
            match item {
                Ok(e) => examples.push(e),
                Err(e) => failures.push(e),
            }
        }
        // Examples of another size than the first cannot share the batch.
        let size = examples.first().map_or((0, 0), |e| e.size);
        examples.retain(|e| {
            let same = e.size == size;
            if !same {
                failures.push(DataError::new(
                    std::path::Path::new(&e.name),
                    format!(
                        "size {:?} differs from the batch's {size:?}; use --crop",
                        e.size
                    ),
                ));
            }
            same
        });
        let n = examples.len();
        let (h, w) = size;
        let mut images = Vec::with_capacity(n * 3 * h * w);
        let mut labels = Vec::with_capacity(n * h * w);
        let mut names = Vec::with_capacity(n);
        for e in examples {
            images.extend_from_slice(&e.image);
            labels.extend_from_slice(&e.mask);
            names.push(e.name);
        }
        Batch {
            images: Tensor::from_data(TensorData::new(images, [n, 3, h, w]), device),
            labels: Tensor::from_data(TensorData::new(labels, [n, h, w]), device),
            names,
            failures,
        }
    }
}

/// A loader over `dataset`: `batch_size` examples per batch, shuffled with `seed`
/// when `shuffle`, decoded by `workers` threads.
pub fn build(
    dataset: AugmentedSplit,
    batch_size: usize,
    shuffle: Option<u64>,
    workers: usize,
    device: &Device,
) -> Arc<dyn DataLoader<Batch>> {
    let mut builder = DataLoaderBuilder::new(SegmentationBatcher)
        .batch_size(batch_size.max(1))
        .num_workers(workers)
        .set_device(device.clone());
    if let Some(seed) = shuffle {
        builder = builder.shuffle(seed);
    }
    builder.build(dataset)
}
