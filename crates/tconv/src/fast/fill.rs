//! Filling outputs on every thread. A convolution's zeroed output (`calloc`'s
//! `memset` on the calling thread) and its bias (a pass over the output) were the
//! serial gaps between its parallel parts: 4 % and 1 % of one 320×480 image's
//! inference on a 2-core CPU, time the other thread spent idle (`perf`, samples per
//! thread), and long enough for it to fall asleep before the next part.

use rayon::prelude::*;

use crate::kernels::uninit::par_filled;

/// Elements per piece: below this a task costs more than it saves.
const CHUNK: usize = 1 << 15;

/// `len` zeros, written in parallel when there are many.
pub(crate) fn zeros(len: usize) -> Vec<f32> {
    if len < 2 * CHUNK {
        return vec![0.0; len];
    }
    // SAFETY: the closure writes every element of its chunk.
    unsafe {
        par_filled(len, CHUNK, |_, c| {
            c.iter_mut().for_each(|v| _ = v.write(0.0))
        })
    }
}

/// `out[n, c, ..] += bias[c]` for `out` laid out `[batch, bias.len(), plane]`, in
/// parallel over pieces of whole planes.
pub(crate) fn add_bias(out: &mut [f32], bias: &[f32], plane: usize) {
    let channels = bias.len();
    if channels == 0 || plane == 0 {
        return;
    }
    let planes_per_piece = (CHUNK / plane).max(1);
    out.par_chunks_mut(plane * planes_per_piece)
        .enumerate()
        .for_each(|(i, piece)| {
            for (j, p) in piece.chunks_mut(plane).enumerate() {
                let b = bias[(i * planes_per_piece + j) % channels];
                p.iter_mut().for_each(|v| *v += b);
            }
        });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zeros_are_zeros_either_side_of_the_parallel_threshold() {
        for len in [0, 1, 2 * CHUNK - 1, 2 * CHUNK, 5 * CHUNK + 7] {
            let z = zeros(len);
            assert_eq!(z.len(), len);
            assert!(z.iter().all(|&v| v == 0.0), "len {len}");
        }
    }

    #[test]
    fn each_plane_gains_its_channels_bias() {
        // Planes smaller than a piece (many per piece, a piece ending mid-batch) and
        // larger than one (one plane per piece).
        for (batch, channels, plane) in [(2, 3, 5), (3, 7, 1000), (2, 3, CHUNK + 3)] {
            let bias: Vec<f32> = (0..channels).map(|c| c as f32 + 0.5).collect();
            let mut out: Vec<f32> = (0..batch * channels * plane).map(|i| i as f32).collect();
            add_bias(&mut out, &bias, plane);
            for (i, &v) in out.iter().enumerate() {
                let c = (i / plane) % channels;
                assert_eq!(v, i as f32 + c as f32 + 0.5, "element {i}");
            }
        }
    }
}
