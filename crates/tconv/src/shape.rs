//! Output-size arithmetic and parameter validation.
//!
//! Convolution (per spatial dimension, input size `n`, kernel `k`):
//! `out = floor((n + 2·padding − dilation·(k − 1) − 1) / stride) + 1`.
//!
//! Transposed convolution:
//! `out = (n − 1)·stride − 2·padding + dilation·(k − 1) + output_padding + 1`.
//!
//! Both must be at least 1. All arithmetic is checked, so absurd parameters give a
//! [`ConvError`] instead of an overflow.

use crate::{Conv2dParams, ConvError, ConvTranspose2dParams};

/// The most elements any array this crate allocates may hold (4 GiB of `f32`).
pub const MAX_ELEMENTS: u128 = 1 << 30;

/// The largest stride, padding, dilation or output padding accepted. Far beyond any
/// real network, and small enough that index arithmetic cannot overflow.
pub const MAX_PARAMETER: usize = 1 << 24;

const DIMS: [&str; 2] = ["height", "width"];

/// Output `[height, width]` of [`crate::conv2d`] for an input of `input` = `[H, W]` and a
/// kernel of `kernel` = `[kH, kW]`.
pub fn conv2d_output_size(
    input: [usize; 2],
    kernel: [usize; 2],
    p: &Conv2dParams,
) -> Result<[usize; 2], ConvError> {
    check_conv_params(p)?;
    check_sides(input, kernel)?;
    let mut out = [0; 2];
    for d in 0..2 {
        let padded = input[d] as u128 + 2 * p.padding[d] as u128;
        let span = p.dilation[d] as u128 * (kernel[d] as u128 - 1) + 1;
        if padded < span {
            return Err(ConvError::EmptyOutput {
                rule: format!(
                    "{}: input {} plus twice the padding {} is {padded}, smaller than the dilated kernel \
                     dilation {} × (kernel {} − 1) + 1 = {span}",
                    DIMS[d], input[d], p.padding[d], p.dilation[d], kernel[d]
                ),
            });
        }
        out[d] = to_usize((padded - span) / p.stride[d] as u128 + 1, "output")?;
    }
    Ok(out)
}

/// Output `[height, width]` of [`crate::conv_transpose2d`] for an input of
/// `input` = `[H, W]` and a kernel of `kernel` = `[kH, kW]`.
pub fn conv_transpose2d_output_size(
    input: [usize; 2],
    kernel: [usize; 2],
    p: &ConvTranspose2dParams,
) -> Result<[usize; 2], ConvError> {
    check_transpose_params(p)?;
    check_sides(input, kernel)?;
    let mut out = [0; 2];
    for d in 0..2 {
        let full = (input[d] as u128 - 1) * p.stride[d] as u128
            + p.dilation[d] as u128 * (kernel[d] as u128 - 1)
            + p.output_padding[d] as u128
            + 1;
        let trim = 2 * p.padding[d] as u128;
        if full <= trim {
            return Err(ConvError::EmptyOutput {
                rule: format!(
                    "{}: (input {} − 1) × stride {} + dilation {} × (kernel {} − 1) + output_padding {} + 1 = {full} \
                     leaves nothing after trimming twice the padding {}",
                    DIMS[d],
                    input[d],
                    p.stride[d],
                    p.dilation[d],
                    kernel[d],
                    p.output_padding[d],
                    p.padding[d]
                ),
            });
        }
        out[d] = to_usize(full - trim, "output")?;
    }
    Ok(out)
}

/// A kernel the checks accept, and an input with both sides non-zero.
fn check_sides(input: [usize; 2], kernel: [usize; 2]) -> Result<(), ConvError> {
    check_kernel(kernel)?;
    match (0..2).find(|&d| input[d] == 0) {
        Some(d) => Err(ConvError::EmptyOutput {
            rule: format!("input {} is 0", DIMS[d]),
        }),
        None => Ok(()),
    }
}

/// Refuses an array of more than [`MAX_ELEMENTS`] elements, naming it.
pub(crate) fn check_elements(array: &'static str, elements: u128) -> Result<(), ConvError> {
    match elements > MAX_ELEMENTS {
        true => Err(ConvError::TooLarge {
            array,
            elements,
            limit: MAX_ELEMENTS,
        }),
        false => Ok(()),
    }
}

fn to_usize(v: u128, array: &'static str) -> Result<usize, ConvError> {
    check_elements(array, v)?;
    Ok(v as usize)
}

fn check_kernel(kernel: [usize; 2]) -> Result<(), ConvError> {
    if kernel.contains(&0) {
        return Err(ConvError::shape(
            "weight",
            format!("kernel height and width must be at least 1, got {kernel:?}"),
        ));
    }
    Ok(())
}

fn check_positive(name: &'static str, v: [usize; 2]) -> Result<(), ConvError> {
    if v.contains(&0) {
        return Err(ConvError::param(
            name,
            format!("{name} must be at least 1 in both dimensions, got {v:?}"),
        ));
    }
    Ok(())
}

fn check_bounded(name: &'static str, v: [usize; 2]) -> Result<(), ConvError> {
    if v.iter().any(|&x| x > MAX_PARAMETER) {
        return Err(ConvError::param(
            name,
            format!("{name} {v:?} exceeds the largest supported value {MAX_PARAMETER}"),
        ));
    }
    Ok(())
}

fn check_groups(groups: usize) -> Result<(), ConvError> {
    if groups == 0 {
        return Err(ConvError::param(
            "groups",
            "groups must be at least 1, got 0",
        ));
    }
    Ok(())
}

fn check_conv_params(p: &Conv2dParams) -> Result<(), ConvError> {
    check_positive("stride", p.stride)?;
    check_positive("dilation", p.dilation)?;
    check_bounded("stride", p.stride)?;
    check_bounded("padding", p.padding)?;
    check_bounded("dilation", p.dilation)?;
    check_groups(p.groups)
}

fn check_transpose_params(p: &ConvTranspose2dParams) -> Result<(), ConvError> {
    check_positive("stride", p.stride)?;
    check_positive("dilation", p.dilation)?;
    check_bounded("stride", p.stride)?;
    check_bounded("padding", p.padding)?;
    check_bounded("dilation", p.dilation)?;
    check_groups(p.groups)?;
    for (d, dim) in DIMS.iter().enumerate() {
        let (op, s, dil) = (p.output_padding[d], p.stride[d], p.dilation[d]);
        if op >= s && op >= dil {
            return Err(ConvError::param(
                "output_padding",
                format!(
                    "output_padding {op} must be smaller than stride {s} or dilation {dil} ({dim})"
                ),
            ));
        }
    }
    Ok(())
}

/// Everything a kernel needs to know, shared by a convolution and its transpose.
///
/// A convolution maps the *image* side (its input) to the *column* side (its output);
/// a transposed convolution maps the column side (its input) back to the image side
/// (its output). The weight is `[col_channels, img_channels / groups, kH, kW]` in
/// both cases, which is exactly PyTorch's layout for each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Geometry {
    pub batch: usize,
    /// Channels, height, width of the image side.
    pub img: [usize; 3],
    /// Channels, height, width of the column side.
    pub col: [usize; 3],
    pub kernel: [usize; 2],
    pub stride: [usize; 2],
    pub padding: [usize; 2],
    pub dilation: [usize; 2],
    pub groups: usize,
    /// True when the image side is the output (a transposed convolution).
    pub transposed: bool,
}

/// A 4-D shape `(N, C, H, W)` as ndarray reports it.
pub type Dim4 = (usize, usize, usize, usize);

impl Geometry {
    pub fn conv2d(
        input: Dim4,
        weight: Dim4,
        bias: Option<usize>,
        p: &Conv2dParams,
    ) -> Result<Self, ConvError> {
        let (n, c, h, w) = input;
        let (o, i, kh, kw) = weight;
        check_conv_params(p)?;
        check_kernel([kh, kw])?;
        check_channels("input", c, p.groups)?;
        if o == 0 || !o.is_multiple_of(p.groups) {
            return Err(ConvError::shape(
                "weight",
                format!(
                    "output channels (weight dim 0) {o} must be a positive multiple of groups {}",
                    p.groups
                ),
            ));
        }
        if i * p.groups != c {
            return Err(ConvError::shape(
                "weight",
                format!(
                    "weight has {i} input channels per group (dim 1) × groups {} = {}, but the input has {c} channels",
                    p.groups,
                    i * p.groups
                ),
            ));
        }
        check_bias(bias, o)?;
        let [ho, wo] = conv2d_output_size([h, w], [kh, kw], p)?;
        let geo = Self {
            batch: n,
            img: [c, h, w],
            col: [o, ho, wo],
            kernel: [kh, kw],
            stride: p.stride,
            padding: p.padding,
            dilation: p.dilation,
            groups: p.groups,
            transposed: false,
        };
        geo.check_sizes()?;
        Ok(geo)
    }

    pub fn conv_transpose2d(
        input: Dim4,
        weight: Dim4,
        bias: Option<usize>,
        p: &ConvTranspose2dParams,
    ) -> Result<Self, ConvError> {
        let (n, c, h, w) = input;
        let (ci, og, kh, kw) = weight;
        check_transpose_params(p)?;
        check_kernel([kh, kw])?;
        check_channels("input", c, p.groups)?;
        if ci != c {
            return Err(ConvError::shape(
                "weight",
                format!("weight has {ci} input channels (dim 0) but the input has {c}"),
            ));
        }
        if og == 0 {
            return Err(ConvError::shape(
                "weight",
                "weight has 0 output channels per group (dim 1)",
            ));
        }
        let o = og.checked_mul(p.groups).ok_or_else(|| {
            ConvError::param("groups", format!("groups {} is too large", p.groups))
        })?;
        check_bias(bias, o)?;
        let [ho, wo] = conv_transpose2d_output_size([h, w], [kh, kw], p)?;
        let geo = Self {
            batch: n,
            img: [o, ho, wo],
            col: [c, h, w],
            kernel: [kh, kw],
            stride: p.stride,
            padding: p.padding,
            dilation: p.dilation,
            groups: p.groups,
            transposed: true,
        };
        geo.check_sizes()?;
        Ok(geo)
    }

    /// Refuses geometries whose arrays or intermediate buffers would be absurdly large.
    fn check_sizes(&self) -> Result<(), ConvError> {
        let b = self.batch as u128;
        let checks = [
            ("image side", b * prod(&self.img)),
            ("column side", b * prod(&self.col)),
            (
                "weight",
                self.col[0] as u128 * self.img_group_channels() as u128 * prod(&self.kernel),
            ),
        ];
        for (array, elements) in checks {
            check_elements(array, elements)?;
        }
        Ok(())
    }

    /// Checks an upstream gradient against the output shape of this operation.
    pub fn check_grad_output(&self, got: Dim4) -> Result<(), ConvError> {
        let side = if self.transposed { self.img } else { self.col };
        let want = (self.batch, side[0], side[1], side[2]);
        if got != want {
            return Err(ConvError::shape(
                "grad_output",
                format!("grad_output has shape {got:?} but the output has shape {want:?}"),
            ));
        }
        Ok(())
    }

    pub fn img_group_channels(&self) -> usize {
        self.img[0] / self.groups
    }

    pub fn col_group_channels(&self) -> usize {
        self.col[0] / self.groups
    }

    /// Rows of the lowered (im2col) matrix of one group: `img_channels/groups · kH · kW`.
    pub fn lowered_rows(&self) -> usize {
        self.img_group_channels() * self.kernel[0] * self.kernel[1]
    }

    pub fn img_plane(&self) -> usize {
        self.img[1] * self.img[2]
    }

    pub fn col_plane(&self) -> usize {
        self.col[1] * self.col[2]
    }

    /// Calls `f(batch, image channel, image position, column channel, column position,
    /// weight index)` for every pair of positions that a weight element connects.
    pub fn for_each_tap(
        &self,
        mut f: impl FnMut(usize, usize, (usize, usize), usize, (usize, usize), [usize; 4]),
    ) {
        let [_, ih, iw] = self.img;
        let [cc, ch, cw] = self.col;
        let (icg, ccg) = (self.img_group_channels(), self.col_group_channels());
        let [kh, kw] = self.kernel;
        for b in 0..self.batch {
            for co in 0..cc {
                let g = co / ccg;
                for oy in 0..ch {
                    for ox in 0..cw {
                        for ci in 0..icg {
                            for a in 0..kh {
                                let y = (oy * self.stride[0] + a * self.dilation[0]) as isize
                                    - self.padding[0] as isize;
                                if y < 0 || y >= ih as isize {
                                    continue;
                                }
                                for e in 0..kw {
                                    let x = (ox * self.stride[1] + e * self.dilation[1]) as isize
                                        - self.padding[1] as isize;
                                    if x < 0 || x >= iw as isize {
                                        continue;
                                    }
                                    let img_ch = g * icg + ci;
                                    f(
                                        b,
                                        img_ch,
                                        (y as usize, x as usize),
                                        co,
                                        (oy, ox),
                                        [co, ci, a, e],
                                    );
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// True when the lowered matrix is the image itself (1×1 kernel, stride 1, no padding).
    pub fn is_pointwise(&self) -> bool {
        self.kernel == [1, 1]
            && self.stride == [1, 1]
            && self.padding == [0, 0]
            && self.img[1] == self.col[1]
            && self.img[2] == self.col[2]
    }
}

fn prod(v: &[usize]) -> u128 {
    v.iter().map(|&x| x as u128).product()
}

fn check_channels(array: &'static str, c: usize, groups: usize) -> Result<(), ConvError> {
    if c == 0 {
        return Err(ConvError::shape(array, "the input has 0 channels"));
    }
    if !c.is_multiple_of(groups) {
        return Err(ConvError::param(
            "groups",
            format!("groups {groups} must divide the input channels {c}"),
        ));
    }
    Ok(())
}

fn check_bias(bias: Option<usize>, channels: usize) -> Result<(), ConvError> {
    match bias {
        Some(len) if len != channels => Err(ConvError::shape(
            "bias",
            format!("bias has {len} elements but there are {channels} output channels"),
        )),
        _ => Ok(()),
    }
}
