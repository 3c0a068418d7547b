//! Training batches: decode, check, crop, flip and normalise each item on worker
//! threads, then stack them, in an order fixed by the seed and the epoch.
//!
//! Burn's multi-threaded loader hands batches over in whichever order its workers
//! finish, and its shuffle continues one random stream across epochs, so neither a
//! run nor a resumed run could be repeated. Here batch `b` of an epoch always holds
//! the same items with the same crops, whatever the number of threads.

use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

use burn::tensor::{Device, Int, Tensor, TensorData};

use super::Sample;
use super::augment::{self, Rng};
use super::{DataError, Split};

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
    /// Rescale each image and mask by a factor drawn uniformly from `(min, max)`
    /// before the crop (torchvision's references: 0.5 to 2).
    pub scale: Option<(f64, f64)>,
    /// Photometric jitter of the image (the mask is untouched).
    pub color_jitter: Option<super::jitter::ColorJitter>,
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

/// The usable items of a split with their augmentation; the epoch varies the crops.
pub struct AugmentedSplit {
    split: Split,
    indices: Vec<usize>,
    aug: Augmentation,
}

impl AugmentedSplit {
    /// With a crop and no padding, images smaller than the crop are left out (their
    /// headers are read here, which is cheap); they are reported in the returned list.
    pub fn new(split: Split, aug: Augmentation) -> (Self, Vec<DataError>) {
        let mut indices = Vec::new();
        let mut dropped = Vec::new();
        for i in 0..split.len() {
            match (aug.crop, aug.pad_small) {
                (Some((ch, cw)), false) => match split.image_size(i) {
                    Ok((w, h)) if (h as usize) < ch || (w as usize) < cw => dropped.push(DataError::new(
                        &split.items[i].image,
                        format!("{w}×{h} is smaller than the crop {cw}×{ch}; left out (--pad-small keeps it)"),
                    )),
                    _ => indices.push(i),
                },
                _ => indices.push(i),
            }
        }
        (
            Self {
                split,
                indices,
                aug,
            },
            dropped,
        )
    }

    /// The same items augmented by `aug` (none left out or added, whatever its crop).
    pub fn with_augmentation(&self, aug: Augmentation) -> Self {
        Self {
            split: self.split.clone(),
            indices: self.indices.clone(),
            aug,
        }
    }

    /// Items that will be loaded.
    pub fn len(&self) -> usize {
        self.indices.len()
    }

    pub fn is_empty(&self) -> bool {
        self.indices.is_empty()
    }

    pub fn split(&self) -> &Split {
        &self.split
    }

    /// Loads item `i` of this (filtered) dataset, augmented as for `epoch`.
    pub fn example(&self, i: usize, epoch: u64) -> LoadedExample {
        let index = self.indices[i];
        let sample = self.split.load(index)?;
        let mut rng = Rng::for_item(self.aug.seed, epoch, index);
        let sample = match self.aug.scale {
            Some((lo, hi)) => augment::rescale(&sample, rng.range(lo, hi.max(lo))),
            None => sample,
        };
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
        let sample = match &self.aug.color_jitter {
            Some(j) => Sample {
                image: j.apply(&sample.image, &mut rng),
                ..sample
            },
            None => sample,
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

/// A batch: images `[N, 3, H, W]`, labels `[N, H, W]`, and the items that failed.
#[derive(Debug, Clone)]
pub struct Batch {
    pub images: Tensor<4>,
    pub labels: Tensor<3, Int>,
    pub names: Vec<String>,
    pub failures: Vec<DataError>,
}

/// Stacks the examples of equal size into a [`Batch`]; the others, and the items
/// that failed to load, become its failures.
pub fn stack(items: Vec<LoadedExample>, device: &Device) -> Batch {
    let mut failures = Vec::new();
    let mut examples = Vec::new();
    for item in items {
        match item {
            Ok(e) => examples.push(e),
            Err(e) => failures.push(e),
        }
    }
    let size = examples.first().map_or((0, 0), |e| e.size);
    examples.retain(|e| {
        let same = e.size == size;
        if !same {
            let message = format!(
                "size {:?} differs from the batch's {size:?}; use --crop",
                e.size
            );
            failures.push(DataError::new(std::path::Path::new(&e.name), message));
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

/// Batches of `batch_size` items, shuffled with `shuffle`'s seed (a fresh
/// permutation each epoch), decoded by `workers` threads.
pub struct Loader {
    dataset: Arc<AugmentedSplit>,
    batch_size: usize,
    shuffle: Option<u64>,
    workers: usize,
    device: Device,
}

impl Loader {
    pub fn new(
        dataset: AugmentedSplit,
        batch_size: usize,
        shuffle: Option<u64>,
        workers: usize,
        device: &Device,
    ) -> Self {
        Self {
            dataset: Arc::new(dataset),
            batch_size: batch_size.max(1),
            shuffle,
            workers: workers.max(1),
            device: device.clone(),
        }
    }

    /// Batches per epoch.
    pub fn batches(&self) -> usize {
        self.dataset.len().div_ceil(self.batch_size)
    }

    /// The item indices of `epoch`'s batches, in order.
    fn plan(&self, epoch: u64) -> Vec<Vec<usize>> {
        let mut order: Vec<usize> = (0..self.dataset.len()).collect();
        if let Some(seed) = self.shuffle {
            // `usize::MAX` keeps the permutation's stream apart from every item's.
            Rng::for_item(seed, epoch, usize::MAX).shuffle(&mut order);
        }
        order
            .chunks(self.batch_size)
            .map(<[usize]>::to_vec)
            .collect()
    }

    /// The batches of `epoch`; loading runs ahead on the worker threads, at most
    /// one batch per worker beyond the one being read.
    pub fn epoch(&self, epoch: u64) -> EpochBatches {
        let plan = Arc::new(self.plan(epoch));
        let (mut receivers, mut workers) = (Vec::new(), Vec::new());
        for first in 0..self.workers.min(plan.len()) {
            let (tx, rx) = sync_channel(1);
            let (dataset, plan, step) = (self.dataset.clone(), plan.clone(), self.workers);
            workers.push(std::thread::spawn(move || {
                load_every(&dataset, &plan, first, step, epoch, tx)
            }));
            receivers.push(rx);
        }
        EpochBatches {
            receivers,
            workers,
            next: 0,
            total: plan.len(),
            device: self.device.clone(),
        }
    }
}

/// A worker's share: batches `first`, `first + step`, … of `plan`, sent in order
/// until the reader hangs up.
fn load_every(
    dataset: &AugmentedSplit,
    plan: &[Vec<usize>],
    first: usize,
    step: usize,
    epoch: u64,
    tx: SyncSender<Vec<LoadedExample>>,
) {
    for items in plan.iter().skip(first).step_by(step) {
        let loaded = items.iter().map(|&i| dataset.example(i, epoch)).collect();
        if tx.send(loaded).is_err() {
            return;
        }
    }
}

/// One epoch's batches in their fixed order.
pub struct EpochBatches {
    receivers: Vec<Receiver<Vec<LoadedExample>>>,
    workers: Vec<JoinHandle<()>>,
    next: usize,
    total: usize,
    device: Device,
}

impl Iterator for EpochBatches {
    type Item = Batch;

    fn next(&mut self) -> Option<Batch> {
        if self.next == self.total {
            return None;
        }
        let worker = self.next % self.receivers.len();
        self.next += 1;
        match self.receivers[worker].recv() {
            Ok(items) => Some(stack(items, &self.device)),
            // The worker panicked; surface its panic here rather than end early.
            Err(_) => match self.workers.remove(worker).join() {
                Err(panic) => std::panic::resume_unwind(panic),
                Ok(()) => unreachable!("a worker ended before sending its batches"),
            },
        }
    }
}
