//! A bounded pool behind a bounded queue. A request is admitted while fewer than
//! `threads + queue` are admitted, else refused at once (503: shedding load beats
//! piling it up); an admitted request waits in the queue for one of `threads` places.
//! Places are permits dropped with their holder, so a request abandoned at any point
//! (a client gone, a timeout) frees its place.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::metrics::Metrics;

pub struct Slots {
    admitted: Arc<Semaphore>,
    running: Arc<Semaphore>,
    threads: usize,
    metrics: Arc<Metrics>,
    /// A running mean of how long one image takes, for `Retry-After`.
    mean_ms: AtomicU64,
}

/// An admitted request, waiting for a thread.
pub struct Queued {
    admitted: Option<OwnedSemaphorePermit>,
    slots: Arc<Slots>,
}

/// A request holding a thread; dropped when its work ends.
pub struct Running {
    _admitted: OwnedSemaphorePermit,
    _running: OwnedSemaphorePermit,
    slots: Arc<Slots>,
}

impl Slots {
    pub fn new(threads: usize, queue: usize, metrics: Arc<Metrics>) -> Arc<Self> {
        Arc::new(Self {
            admitted: Arc::new(Semaphore::new(threads + queue)),
            running: Arc::new(Semaphore::new(threads)),
            threads,
            metrics,
            mean_ms: AtomicU64::new(0),
        })
    }

    /// A place in the queue, or `None` when the queue is full.
    pub fn admit(self: &Arc<Self>) -> Option<Queued> {
        let admitted = self.admitted.clone().try_acquire_owned().ok()?;
        self.metrics.queue_depth.inc();
        Some(Queued {
            admitted: Some(admitted),
            slots: self.clone(),
        })
    }

    /// Seconds a refused client should wait: the admitted work over the threads.
    pub fn retry_after(&self) -> u64 {
        let mean = self.mean_ms.load(Ordering::Relaxed).max(100);
        let admitted = (self.threads + self.queued()) as u64;
        (mean * admitted / self.threads as u64)
            .div_ceil(1000)
            .max(1)
    }

    fn queued(&self) -> usize {
        self.metrics.queue_depth.get().max(0) as usize
    }

    /// Records how long one image took (an exponential mean, weight 1/8).
    pub fn record_ms(&self, ms: u64) {
        let old = self.mean_ms.load(Ordering::Relaxed);
        let new = if old == 0 { ms } else { (7 * old + ms) / 8 };
        self.mean_ms.store(new, Ordering::Relaxed);
    }
}

impl Queued {
    /// Waits for a thread.
    pub async fn start(mut self) -> Running {
        let running = self.slots.running.clone().acquire_owned().await;
        let running = running.expect("the semaphore is never closed");
        let slots = self.slots.clone();
        slots.metrics.in_flight.inc();
        // `self` drops here, so the request leaves the queue's count.
        Running {
            _admitted: self.admitted.take().expect("taken only here"),
            _running: running,
            slots,
        }
    }
}

impl Drop for Queued {
    fn drop(&mut self) {
        self.slots.metrics.queue_depth.dec();
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.slots.metrics.in_flight.dec();
    }
}
