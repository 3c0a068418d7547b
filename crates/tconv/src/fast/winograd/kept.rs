//! Transformed filters kept from one call to the next for weights that cannot change
//! while they are kept: inference with a fixed model transforms each layer's
//! filters once instead of on every image.
//!
//! A kept entry holds a reference to the weight's owner ([`crate::WeightOwner`]),
//! whose values cannot change while a second reference exists (flex's tensors copy
//! on write), so an entry never goes stale; and an entry whose owner nobody else
//! holds any more is dropped at the next look-up.

use std::sync::{Arc, Mutex, PoisonError};

use super::{Conv3x3, Tile};
use crate::WeightOwner;

/// Bytes of transformed filters kept at most (ResNet-18's layer3 and layer4 at one
/// 320×480 image keep 63 MiB); past it, filters are transformed on every call.
const CAPACITY: usize = 256 << 20;

/// What, besides its owner, picks out one weight's transformed filters: the weight's
/// values (address and length) inside the owner's storage, the tile and the channels.
#[derive(PartialEq)]
struct Key {
    weight: (usize, usize),
    shape: (Tile, usize, usize),
}

impl Key {
    fn new(weight: &[f32], p: &Conv3x3) -> Self {
        Self {
            weight: (weight.as_ptr() as usize, weight.len()),
            shape: (p.tile, p.channels, p.out_channels),
        }
    }
}

struct Entry {
    owner: WeightOwner,
    key: Key,
    filters: Arc<Vec<f32>>,
}

static KEPT: Mutex<Vec<Entry>> = Mutex::new(Vec::new());

/// The kept entries, less those whose owner nobody else holds any more.
fn live() -> std::sync::MutexGuard<'static, Vec<Entry>> {
    let mut kept = KEPT.lock().unwrap_or_else(PoisonError::into_inner);
    kept.retain(|e| Arc::strong_count(&e.owner) > 1);
    kept
}

/// The kept entry of `owner`'s weight under `key`, if there is one.
fn find<'a>(kept: &'a [Entry], owner: &WeightOwner, key: &Key) -> Option<&'a Entry> {
    kept.iter()
        .find(|e| Arc::ptr_eq(&e.owner, owner) && e.key == *key)
}

/// Whether `bytes` more fit beside the entries kept now.
fn fits(kept: &[Entry], bytes: usize) -> bool {
    let used: usize = kept
        .iter()
        .map(|e| e.filters.len() * size_of::<f32>())
        .sum();
    used + bytes <= CAPACITY
}

/// The transformed filters of `weight` for `p`: kept ones, or `transform`'s, kept
/// when they fit.
pub(super) fn filters(
    owner: &WeightOwner,
    weight: &[f32],
    p: &Conv3x3,
    transform: impl FnOnce() -> Vec<f32>,
) -> Arc<Vec<f32>> {
    let key = Key::new(weight, p);
    if let Some(e) = find(&live(), owner, &key) {
        return Arc::clone(&e.filters);
    }
    // Transformed outside the lock; another thread may have kept the same meanwhile.
    let filters = Arc::new(transform());
    let mut kept = live();
    let bytes = filters.len() * size_of::<f32>();
    if fits(&kept, bytes) && find(&kept, owner, &key).is_none() {
        kept.push(Entry {
            owner: Arc::clone(owner),
            key,
            filters: Arc::clone(&filters),
        });
    }
    filters
}

/// Whether `weight`'s filters for `p` are kept, or would fit beside those kept now:
/// the automatic choice takes a tile that pays only with kept filters only then.
pub(super) fn holds_or_fits(owner: &WeightOwner, weight: &[f32], p: &Conv3x3) -> bool {
    let kept = live();
    let bytes = p.out_channels * p.tile.planes() * p.channels * size_of::<f32>();
    find(&kept, owner, &Key::new(weight, p)).is_some() || fits(&kept, bytes)
}

/// Entries kept now (after dropping those whose owner is gone), for tests.
#[cfg(test)]
pub(super) fn entries() -> usize {
    live().len()
}
