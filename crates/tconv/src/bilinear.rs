//! The bilinear-interpolation kernel that initialises the FCN's transposed
//! convolution (and upsamples ordinary images).

use ndarray::Array4;

/// A `[in_channels, out_channels, k, k]` weight for [`crate::conv_transpose2d`] that
/// performs bilinear interpolation channel by channel, as Dive into Deep Learning's
/// `bilinear_kernel` builds it: with `factor = ⌈k / 2⌉` and `center` the middle of the
/// kernel, `w[a][b] = (1 − |a − center| / factor) · (1 − |b − center| / factor)`.
///
/// Channel `i` maps to channel `i` only (all other pairs are zero). When one side has
/// a single channel it is broadcast against the other, as PyTorch's indexing does;
/// otherwise the first `min(in, out)` channels are paired. With kernel `2f`, stride `f`
/// and padding `f / 2` this upsamples by the factor `f`.
pub fn bilinear_kernel(in_channels: usize, out_channels: usize, k: usize) -> Array4<f32> {
    let mut weight = Array4::zeros((in_channels, out_channels, k, k));
    if k == 0 {
        return weight;
    }
    let factor = k.div_ceil(2) as f64;
    let center = if k % 2 == 1 {
        factor - 1.0
    } else {
        factor - 0.5
    };
    let tent = |i: usize| 1.0 - (i as f64 - center).abs() / factor;
    let pairs: Vec<(usize, usize)> = if in_channels == 1 {
        (0..out_channels).map(|o| (0, o)).collect()
    } else if out_channels == 1 {
        (0..in_channels).map(|i| (i, 0)).collect()
    } else {
        (0..in_channels.min(out_channels)).map(|c| (c, c)).collect()
    };
    for (i, o) in pairs {
        for a in 0..k {
            for b in 0..k {
                weight[[i, o, a, b]] = (tent(a) * tent(b)) as f32;
            }
        }
    }
    weight
}
