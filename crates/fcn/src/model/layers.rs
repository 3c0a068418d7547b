//! The layers' configurations and initialisations (as torchvision's), and their
//! forward passes where PyTorch's semantics differ from Burn's (BatchNorm's running
//! variance) or a fused kernel serves (convolution, BatchNorm, residual, ReLU).

use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Initializer, PaddingConfig2d};
use burn::tensor::{Device, Tensor, TensorData};

use crate::ops::Kernels;
use crate::state::NamedTensor;

/// A tensor from row-major values.
pub fn tensor<const D: usize>(data: Vec<f32>, shape: [usize; D], device: &Device) -> Tensor<D> {
    Tensor::from_data(TensorData::new(data, shape), device)
}

/// The values of a tensor, row-major, with its shape.
pub fn named<const D: usize>(t: &Tensor<D>) -> NamedTensor {
    let data = t.to_data().convert::<f32>();
    let values = data
        .try_to_vec::<f32>()
        .expect("a float tensor converts to f32 values");
    NamedTensor::new(t.dims().to_vec(), values)
}

/// A backbone convolution (square kernel, no bias: a BatchNorm follows),
/// initialised as torchvision initialises ResNet's: Kaiming-normal, fan-out, for ReLU.
pub fn conv(
    channels: [usize; 2],
    kernel: usize,
    stride: usize,
    padding: usize,
    device: &Device,
) -> Conv2d {
    dilated_conv(channels, kernel, stride, (padding, 1), device)
}

/// [`conv`] with `(padding, dilation)`.
pub fn dilated_conv(
    channels: [usize; 2],
    kernel: usize,
    stride: usize,
    (padding, dilation): (usize, usize),
    device: &Device,
) -> Conv2d {
    let p = padding;
    Conv2dConfig::new(channels, [kernel; 2])
        .with_stride([stride; 2])
        .with_dilation([dilation; 2])
        .with_padding(PaddingConfig2d::Explicit(p, p, p, p))
        .with_bias(false)
        .with_initializer(Initializer::KaimingNormal {
            gain: std::f64::consts::SQRT_2,
            fan_out_only: true,
        })
        .init(device)
}

/// BatchNorm with PyTorch's defaults (epsilon 1e-5, momentum 0.1).
pub fn batch_norm_layer(channels: usize, device: &Device) -> BatchNorm {
    BatchNormConfig::new(channels).init(device)
}

/// BatchNorm as PyTorch applies it: batch statistics in training (on an autodiff
/// device, with the training flag on), running statistics otherwise. Unlike Burn's
/// own forward, the running variance is updated with the unbiased batch variance
/// (`n / (n − 1)` times the biased one), as PyTorch does.
pub fn batch_norm(bn: &BatchNorm, x: Tensor<4>, kernels: Kernels) -> Tensor<4> {
    if !(x.device().is_autodiff() && bn.training.is_enabled()) {
        return bn.forward(x);
    }
    let [n, _, h, w] = x.dims();
    let count = (n * h * w) as f64;
    let (output, batch_mean, batch_var) = if crate::ops::on_tconv(&x, kernels) {
        crate::ops::batch_norm_train(x, bn.gamma.val(), bn.beta.val(), bn.epsilon)
    } else {
        let r =
            burn::tensor::module::batch_norm_train(x, bn.gamma.val(), bn.beta.val(), bn.epsilon);
        (r.output, r.mean, r.variance)
    };
    let device = output.device();
    let momentum = bn.momentum;
    let unbiased = if count > 1.0 {
        count / (count - 1.0)
    } else {
        1.0
    };
    let mean = bn.running_mean.value_sync().to_device(&device);
    let var = bn.running_var.value_sync().to_device(&device);
    bn.running_mean.update(
        mean.mul_scalar(1.0 - momentum)
            .add(batch_mean.detach().mul_scalar(momentum))
            .detach(),
    );
    bn.running_var.update(
        var.mul_scalar(1.0 - momentum)
            .add(batch_var.detach().mul_scalar(momentum * unbiased))
            .detach(),
    );
    output
}

/// `conv`, then `bn`, then `residual` added, then ReLU if asked. In inference the
/// BatchNorm folds into a per-channel scale and shift that the convolution applies
/// in the same pass as the residual and the ReLU.
pub fn conv_bn(
    (conv, bn): (&Conv2d, &BatchNorm),
    x: Tensor<4>,
    residual: Option<Tensor<4>>,
    relu: bool,
    kernels: Kernels,
) -> Tensor<4> {
    let training = x.device().is_autodiff() && bn.training.is_enabled();
    if !training && crate::ops::can_fuse(conv, &x, kernels) {
        let scale = bn.gamma.val() / bn.running_var.value().add_scalar(bn.epsilon).sqrt();
        let shift = bn.beta.val() - bn.running_mean.value() * scale.clone();
        return crate::ops::conv2d_affine(conv, x, (scale, shift), residual, relu);
    }
    let y = batch_norm(bn, crate::ops::conv2d(conv, x, kernels), kernels);
    let y = match residual {
        Some(r) => y + r,
        None => y,
    };
    if relu {
        burn::tensor::activation::relu(y)
    } else {
        y
    }
}
