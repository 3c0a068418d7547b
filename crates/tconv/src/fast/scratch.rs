//! Per-thread buffers that the lowered products overwrite before they read them,
//! kept for the thread's next piece or call. Taking a fresh zeroed buffer for every
//! rayon split cost about 3 % of a demo training epoch in `memset` (`perf`).

use std::cell::RefCell;
use std::ops::{Deref, DerefMut};

/// Buffers one thread keeps; a piece of the lowered products holds one at a time.
const KEPT: usize = 2;

/// Larger buffers (elements; 16 MiB) go back to the allocator rather than staying
/// with the thread, which bounds the memory a many-core machine holds between
/// calls (bands aim at 1 MiB; only very wide rows exceed that).
const LARGEST_KEPT: usize = 1 << 22;

thread_local! {
    static SPARE: RefCell<Vec<Vec<f32>>> = const { RefCell::new(Vec::new()) };
}

/// `len` elements whose values are whatever an earlier user left: for buffers
/// written in full before every read.
pub(crate) struct Scratch {
    buf: Vec<f32>,
    len: usize,
}

impl Scratch {
    pub(crate) fn take(len: usize) -> Self {
        let mut buf = SPARE
            .try_with(|s| s.borrow_mut().pop())
            .ok()
            .flatten()
            .unwrap_or_default();
        if buf.len() < len {
            buf.resize(len, 0.0);
        }
        Self { buf, len }
    }
}

impl Deref for Scratch {
    type Target = [f32];
    fn deref(&self) -> &[f32] {
        &self.buf[..self.len]
    }
}

impl DerefMut for Scratch {
    fn deref_mut(&mut self) -> &mut [f32] {
        &mut self.buf[..self.len]
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if self.buf.len() > LARGEST_KEPT {
            return;
        }
        let buf = std::mem::take(&mut self.buf);
        // A thread being torn down has no spares to keep it in.
        let _ = SPARE.try_with(|s| {
            let mut spare = s.borrow_mut();
            if spare.len() < KEPT {
                spare.push(buf);
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_returned_buffer_is_reused_and_sized_to_each_request() {
        let mut a = Scratch::take(8);
        a.fill(3.0);
        let ptr = a.as_ptr();
        drop(a);
        let b = Scratch::take(5);
        assert_eq!(b.len(), 5);
        assert_eq!(b.as_ptr(), ptr, "the spare buffer is handed out again");
        assert_eq!(&b[..], &[3.0; 5], "its contents are left as they were");
        let c = Scratch::take(20);
        assert_eq!(c.len(), 20, "a second buffer at once is a new one");
        assert_ne!(c.as_ptr(), ptr);
    }
}
