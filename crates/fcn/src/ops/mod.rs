//! The model's convolutions on `tconv` kernels.
//!
//! Burn's layers call Burn's own convolution ops; the model's layers call
//! [`conv2d`] and [`conv_transpose2d`] here instead, which reach `tconv` through a
//! backend extension on the flex backend (`backend.rs`), differentiable on an
//! autodiff device (`autodiff.rs`). The layers keep Burn's modules as parameter
//! holders, so checkpoints, optimisers and the state dict are unchanged.
//!
//! Every function takes the [`Kernels`] to run: the model carries its choice
//! ([`crate::FcnNet::kernels`]), so two models with different kernels live in one
//! process; Burn's built-in ops serve benchmarks that put both side by side and
//! tests that check both give the same numbers.

mod adam;
mod autodiff;
mod backend;
mod flex;
pub mod flops;
mod resize;

use burn::backend::Dispatch;
use burn::nn::PaddingConfig2d;
use burn::nn::conv::{Conv2d, ConvTranspose2d};
use burn::nn::pool::MaxPool2d;
use burn::tensor::module::conv2d as burn_conv2d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{DType, FloatDType, Int, Tensor};
use tconv::{Conv2dParams, ConvTranspose2dParams};

pub use backend::{MaybeTensor, TconvBackend};
pub use resize::{interpolation_matrix, resize_bilinear};

/// Whose kernels a model runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Kernels {
    /// `tconv`'s kernels (the default).
    #[default]
    Tconv,
    /// Burn's built-in ops for the device.
    Burn,
    /// Burn's built-in ops, with every convolution computed in this reduced type
    /// from f32 inputs and weights and its output cast back to f32: mixed precision
    /// (see [`crate::precision`]). The transposed convolutions stay f32: Burn's GPU
    /// kernels accumulate in the type they compute in, and the ×32 upsampling sums
    /// thousands of products per output (in f16 that took an FCN's class-score
    /// gradient 11× further from PyTorch's than autocast lands; in f32, 4×).
    Mixed(FloatDType),
}

/// How many kernels (forward or gradient) this thread has run on `tconv`.
pub fn tconv_calls() -> u64 {
    backend::CALLS.get()
}

/// Whether `tconv`'s kernels run on `x`: chosen, `x` is f32 and on the CPU (on a
/// GPU, Burn's kernels run whatever the choice).
pub fn on_tconv(x: &Tensor<4>, kernels: Kernels) -> bool {
    kernels == Kernels::Tconv && x.dtype() == DType::F32 && crate::device::is_cpu(&x.device())
}

/// `conv`'s forward pass.
pub fn conv2d(conv: &Conv2d, x: Tensor<4>, kernels: Kernels) -> Tensor<4> {
    let y = match tconv_params(conv, &x, kernels) {
        None => burn_conv(conv, x, kernels),
        Some(params) => {
            let bias = conv.bias.as_ref().map(|b| b.val().into_dispatch());
            Tensor::from_dispatch(<Dispatch as TconvBackend>::tconv_conv2d(
                x.into_dispatch(),
                conv.weight.val().into_dispatch(),
                MaybeTensor::from_option(bias),
                params,
            ))
        }
    };
    flops::conv(y.dims(), conv.weight.dims());
    y
}

/// `conv`'s forward pass (in f32 under [`Kernels::Mixed`] too).
pub fn conv_transpose2d(conv: &ConvTranspose2d, x: Tensor<4>, kernels: Kernels) -> Tensor<4> {
    flops::conv_transpose(x.dims(), conv.weight.dims());
    if !on_tconv(&x, kernels) {
        return conv.forward(x);
    }
    let params = ConvTranspose2dParams {
        stride: conv.stride,
        padding: conv.padding,
        output_padding: conv.padding_out,
        dilation: conv.dilation,
        groups: conv.groups,
    };
    let bias = MaybeTensor::from_option(conv.bias.as_ref().map(|b| b.val().into_dispatch()));
    Tensor::from_dispatch(<Dispatch as TconvBackend>::tconv_conv_transpose2d(
        x.into_dispatch(),
        conv.weight.val().into_dispatch(),
        bias,
        params,
    ))
}

/// `conv` on Burn's ops, in the reduced type of [`Kernels::Mixed`] when its padding
/// is symmetric (Burn's own forward pads asymmetric ones explicitly; they stay f32).
fn burn_conv(conv: &Conv2d, x: Tensor<4>, kernels: Kernels) -> Tensor<4> {
    let (Kernels::Mixed(dtype), Some(padding)) = (kernels, symmetric(&conv.padding)) else {
        return conv.forward(x);
    };
    let options = ConvOptions::new(conv.stride, padding, conv.dilation, conv.groups);
    let bias = conv.bias.as_ref().map(|b| b.val().cast(dtype));
    burn_conv2d(x.cast(dtype), conv.weight.val().cast(dtype), bias, options).cast(FloatDType::F32)
}

/// `[top, left]` when the padding is the same on both sides (Burn's `Same` pads
/// one side more for even kernels).
fn symmetric(padding: &PaddingConfig2d) -> Option<[usize; 2]> {
    match *padding {
        PaddingConfig2d::Valid => Some([0, 0]),
        PaddingConfig2d::Explicit(top, left, bottom, right) => {
            (top == bottom && left == right).then_some([top, left])
        }
        PaddingConfig2d::Same => None,
    }
}

/// The parameters of `conv` when `tconv` runs it on `x`: f32, `tconv` kernels
/// chosen, symmetric padding.
fn tconv_params(conv: &Conv2d, x: &Tensor<4>, kernels: Kernels) -> Option<Conv2dParams> {
    let padding = symmetric(&conv.padding);
    padding
        .filter(|_| on_tconv(x, kernels))
        .map(|padding| Conv2dParams {
            stride: conv.stride,
            padding,
            dilation: conv.dilation,
            groups: conv.groups,
        })
}

/// Whether [`conv2d_affine`] can run `conv` on `x`.
pub fn can_fuse(conv: &Conv2d, x: &Tensor<4>, kernels: Kernels) -> bool {
    conv.bias.is_none() && tconv_params(conv, x, kernels).is_some()
}

/// `conv` followed by a per-channel affine map, `residual` and ReLU, fused into
/// one pass over the output. Only for convolutions [`can_fuse`] accepts.
pub fn conv2d_affine(
    conv: &Conv2d,
    x: Tensor<4>,
    (scale, shift): (Tensor<1>, Tensor<1>),
    residual: Option<Tensor<4>>,
    relu: bool,
) -> Tensor<4> {
    let params = tconv_params(conv, &x, Kernels::Tconv)
        .filter(|_| conv.bias.is_none())
        .expect("conv2d_affine takes convolutions can_fuse accepts");
    let residual = MaybeTensor::from_option(residual.map(Tensor::into_dispatch));
    let y = Tensor::from_dispatch(<Dispatch as TconvBackend>::tconv_conv2d_affine(
        x.into_dispatch(),
        conv.weight.val().into_dispatch(),
        scale.into_dispatch(),
        shift.into_dispatch(),
        residual,
        relu,
        params,
    ));
    flops::conv(y.dims(), conv.weight.dims());
    y
}

/// `pool`'s forward pass on `tconv`'s kernel (differentiable on an autodiff device)
/// when it is plain: floor mode, no dilation, symmetric padding.
pub fn max_pool2d(pool: &MaxPool2d, x: Tensor<4>, kernels: Kernels) -> Tensor<4> {
    let padding = symmetric(&pool.padding);
    let plain = pool.dilation == [1, 1] && !pool.ceil_mode;
    match padding.filter(|_| plain && on_tconv(&x, kernels)) {
        Some(padding) => Tensor::from_dispatch(<Dispatch as TconvBackend>::tconv_max_pool2d(
            x.into_dispatch(),
            pool.kernel_size,
            pool.stride,
            padding,
        )),
        None => pool.forward(x),
    }
}

/// Training-mode BatchNorm on per-channel parallel kernels: the output and the
/// batch `(mean, biased variance)` for the running statistics. For inputs
/// [`on_tconv`] accepts.
pub fn batch_norm_train(
    x: Tensor<4>,
    gamma: Tensor<1>,
    beta: Tensor<1>,
    eps: f64,
) -> (Tensor<4>, Tensor<1>, Tensor<1>) {
    let c = x.dims()[1];
    let stats: Tensor<2> = Tensor::from_dispatch(<Dispatch as TconvBackend>::tconv_bn_stats(
        x.clone().into_dispatch(),
    ));
    let y = Tensor::from_dispatch(<Dispatch as TconvBackend>::tconv_bn_train(
        x.into_dispatch(),
        gamma.into_dispatch(),
        beta.into_dispatch(),
        stats.clone().into_dispatch(),
        eps,
    ));
    let mean = stats.clone().slice([0..1, 0..c]).reshape([c]);
    let var = stats.slice([1..2, 0..c]).reshape([c]);
    (y, mean, var)
}

/// Per-pixel cross-entropy of `logits` `[N, C, H, W]` against `labels` `[N, H, W]`,
/// averaged over the pixels not labelled `ignore` (weighted by `weights[label]`
/// when given), with `(correct, counted)`: the counted pixels whose argmax is
/// their label. One fused pass over the logits (which, on an autodiff device,
/// also computes the gradient for the backward step). For logits [`on_tconv`]
/// accepts.
pub fn cross_entropy(
    logits: Tensor<4>,
    labels: Tensor<3, Int>,
    weights: Option<Tensor<1>>,
    ignore: i64,
) -> (Tensor<1>, (u64, u64)) {
    let weights = weights.map(|w| w.detach().into_dispatch());
    let out = <Dispatch as TconvBackend>::tconv_cross_entropy(
        logits.into_dispatch(),
        labels.into_dispatch(),
        MaybeTensor::from_option(weights),
        ignore,
        false,
    );
    let hits: Tensor<1, Int> = Tensor::from_dispatch(out.hits);
    let hits = hits
        .into_data()
        .convert::<i64>()
        .try_to_vec::<i64>()
        .expect("hit counts are integers");
    (
        Tensor::from_dispatch(out.loss),
        (hits[0] as u64, hits[1] as u64),
    )
}
