//! Output vectors that are written once, in parallel, without being zeroed first.
//! Zeroing BatchNorm's outputs before writing every element again was 2 % of a
//! `fcn demo` epoch (`perf`: `memset` under `batch_norm::normalize` and `backward`).

use std::mem::MaybeUninit;

use rayon::prelude::*;

/// A vector of `len` elements whose chunks of `chunk` elements (the last may be
/// shorter) `fill` writes in parallel; `fill` gets each chunk's index.
///
/// # Safety
/// `fill` must write every element of the chunk it is given (with
/// `MaybeUninit::write`); the vector is read as initialised afterwards.
pub(crate) unsafe fn par_filled(
    len: usize,
    chunk: usize,
    fill: impl Fn(usize, &mut [MaybeUninit<f32>]) + Sync + Send,
) -> Vec<f32> {
    let mut out: Vec<f32> = Vec::with_capacity(len);
    out.spare_capacity_mut()[..len]
        .par_chunks_mut(chunk.max(1))
        .enumerate()
        .for_each(|(i, part)| fill(i, part));
    // SAFETY: the capacity is `len`, and the caller's `fill` has written every
    // element of every chunk, which together cover `0..len`.
    unsafe { out.set_len(len) };
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_chunk_lands_where_its_index_says() {
        // SAFETY: the closure writes every element of its chunk.
        let v = unsafe {
            par_filled(10, 4, |i, part| {
                for (j, o) in part.iter_mut().enumerate() {
                    o.write((i * 4 + j) as f32);
                }
            })
        };
        assert_eq!(v, (0..10).map(|x| x as f32).collect::<Vec<_>>());
    }
}
