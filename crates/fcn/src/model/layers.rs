//! Burn layers built from named tensors (or freshly initialised) and written back
//! to named tensors, with PyTorch's parameter names (`weight`, `bias`,
//! `running_mean`, `running_var`).

use burn::module::{Param, RunningState};
use burn::nn::conv::{Conv2d, Conv2dConfig, ConvTranspose2d, ConvTranspose2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Initializer, PaddingConfig2d};
use burn::tensor::{Device, Tensor, TensorData};

use crate::ops::Kernels;
use crate::state::{NamedTensor, StateReader};

/// A tensor from row-major values.
pub fn tensor<const D: usize>(data: Vec<f32>, shape: [usize; D], device: &Device) -> Tensor<D> {
    Tensor::from_data(TensorData::new(data, shape), device)
}

/// The tensor `key` of shape `shape` from `r`; where it is missing or misshapen (which
/// `r` reports), a one-value stand-in, so that a bad file never makes us allocate
/// the shape it implies.
pub fn tensor_from<const D: usize>(
    r: &mut StateReader,
    key: &str,
    shape: [usize; D],
    device: &Device,
) -> Tensor<D> {
    match r.take(key, &shape) {
        Some(values) => tensor(values, shape, device),
        None => tensor(vec![0.0], [1; D], device),
    }
}

/// The values of a tensor, row-major, with its shape.
pub fn named<const D: usize>(t: &Tensor<D>) -> NamedTensor {
    let data = t.to_data().convert::<f32>();
    let values = data
        .try_to_vec::<f32>()
        .expect("a float tensor converts to f32 values");
    NamedTensor::new(t.dims().to_vec(), values)
}

/// The shape of a 2-D convolution.
#[derive(Debug, Clone, Copy)]
pub struct ConvSpec {
    pub channels: [usize; 2],
    pub kernel: usize,
    pub stride: usize,
    pub padding: usize,
    pub bias: bool,
}

impl ConvSpec {
    pub fn new(channels: [usize; 2], kernel: usize, stride: usize, padding: usize) -> Self {
        Self {
            channels,
            kernel,
            stride,
            padding,
            bias: false,
        }
    }

    fn weight_shape(&self) -> [usize; 4] {
        [self.channels[1], self.channels[0], self.kernel, self.kernel]
    }

    fn config(&self) -> Conv2dConfig {
        let p = self.padding;
        Conv2dConfig::new(self.channels, [self.kernel; 2])
            .with_stride([self.stride; 2])
            .with_padding(PaddingConfig2d::Explicit(p, p, p, p))
            .with_bias(self.bias)
    }
}

/// A convolution initialised as torchvision initialises ResNet's: Kaiming-normal,
/// fan-out, for ReLU.
pub fn init_conv2d(spec: ConvSpec, device: &Device) -> Conv2d {
    spec.config()
        .with_initializer(Initializer::KaimingNormal {
            gain: std::f64::consts::SQRT_2,
            fan_out_only: true,
        })
        .init(device)
}

/// A convolution whose weight (and bias, if the spec has one) come from `prefix.weight`
/// and `prefix.bias`.
pub fn load_conv2d(r: &mut StateReader, prefix: &str, spec: ConvSpec, device: &Device) -> Conv2d {
    // Built at one channel, then given the file's tensors: nothing of the
    // (file-implied) full size is allocated before the file is known to hold it.
    let one = ConvSpec {
        channels: [1, 1],
        ..spec
    };
    let mut conv = one
        .config()
        .with_initializer(Initializer::Zeros)
        .init(device);
    let shape = spec.weight_shape();
    conv.weight = Param::from_tensor(tensor_from(r, &format!("{prefix}.weight"), shape, device));
    if spec.bias {
        let c = spec.channels[1];
        let bias = tensor_from(r, &format!("{prefix}.bias"), [c], device);
        conv.bias = Some(Param::from_tensor(bias));
    }
    conv
}

/// A transposed convolution num_classes → num_classes with the FCN's kernel, stride
/// and padding; its parameters come from `init` or from the state dict.
pub fn transpose_conv_config(
    channels: usize,
    kernel: usize,
    stride: usize,
    padding: usize,
) -> ConvTranspose2dConfig {
    ConvTranspose2dConfig::new([channels, channels], [kernel, kernel])
        .with_stride([stride, stride])
        .with_padding([padding, padding])
}

pub fn load_conv_transpose2d(
    r: &mut StateReader,
    prefix: &str,
    config: &ConvTranspose2dConfig,
    device: &Device,
) -> ConvTranspose2d {
    // As in `load_conv2d`: built at one channel, then given the file's tensors.
    let one = ConvTranspose2dConfig {
        channels: [1, 1],
        ..config.clone()
    };
    let mut conv = one.with_initializer(Initializer::Zeros).init(device);
    conv.channels = config.channels;
    let [i, o] = config.channels;
    let [kh, kw] = config.kernel_size;
    let shape = [i, o, kh, kw];
    conv.weight = Param::from_tensor(tensor_from(r, &format!("{prefix}.weight"), shape, device));
    if config.bias {
        let bias = tensor_from(r, &format!("{prefix}.bias"), [o], device);
        conv.bias = Some(Param::from_tensor(bias));
    }
    conv
}

/// BatchNorm with PyTorch's defaults (epsilon 1e-5, momentum 0.1).
pub fn init_batch_norm(channels: usize, device: &Device) -> BatchNorm {
    BatchNormConfig::new(channels).init(device)
}

pub fn load_batch_norm(
    r: &mut StateReader,
    prefix: &str,
    channels: usize,
    device: &Device,
) -> BatchNorm {
    let mut bn = init_batch_norm(channels, device);
    let mut get = |name: &str| tensor_from(r, &format!("{prefix}.{name}"), [channels], device);
    bn.gamma = Param::from_tensor(get("weight"));
    bn.beta = Param::from_tensor(get("bias"));
    bn.running_mean = RunningState::new(get("running_mean"));
    bn.running_var = RunningState::new(get("running_var"));
    bn
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
