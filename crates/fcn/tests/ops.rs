//! The model's convolutions on `tconv` through the backend extension: forward and
//! all three gradients on an autodiff device equal `tconv::reference`, for random
//! shapes, strides, padding, dilation, groups and bias, and equal Burn's own ops.

use burn::module::Param;
use burn::nn::PaddingConfig2d;
use burn::nn::conv::{Conv2d, Conv2dConfig, ConvTranspose2d, ConvTranspose2dConfig};
use burn::tensor::{Device, Tensor, TensorData};
use fcn::ops::{self, Kernels};
use ndarray::{Array1, Array4};
use proptest::prelude::*;

use tconv::{Conv2dParams, ConvTranspose2dParams, reference};

#[derive(Debug, Clone)]
struct Case {
    batch: usize,
    groups: usize,
    in_per_group: usize,
    out_per_group: usize,
    size: [usize; 2],
    kernel: [usize; 2],
    stride: [usize; 2],
    padding: [usize; 2],
    dilation: [usize; 2],
    bias: bool,
    seed: u64,
}

fn case() -> impl Strategy<Value = Case> {
    (
        (1usize..3, 1usize..3, 1usize..4, 1usize..4),
        ([3usize..9, 3usize..9], [1usize..4, 1usize..4]),
        (
            [1usize..3, 1usize..3],
            [0usize..3, 0usize..3],
            [1usize..3, 1usize..3],
        ),
        (any::<bool>(), any::<u64>()),
    )
        .prop_map(
            |(
                (batch, groups, in_per_group, out_per_group),
                (size, kernel),
                (stride, padding, dilation),
                (bias, seed),
            )| Case {
                batch,
                groups,
                in_per_group,
                out_per_group,
                size,
                kernel,
                stride,
                padding,
                dilation,
                bias,
                seed,
            },
        )
}

/// Deterministic values in [-1, 1).
fn values(seed: u64, n: usize) -> Vec<f32> {
    let mut s = seed ^ 0x9e37_79b9_7f4a_7c15;
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

fn array4(seed: u64, dim: [usize; 4]) -> Array4<f32> {
    Array4::from_shape_vec(
        (dim[0], dim[1], dim[2], dim[3]),
        values(seed, dim.iter().product()),
    )
    .unwrap()
}

fn tensor4(a: &Array4<f32>, device: &Device) -> Tensor<4> {
    let shape: [usize; 4] = a.shape().try_into().unwrap();
    Tensor::from_data(TensorData::new(a.iter().copied().collect(), shape), device)
}

fn array(t: Tensor<4>) -> Array4<f32> {
    let shape = t.dims();
    let v = t.into_data().convert::<f32>().try_to_vec::<f32>().unwrap();
    Array4::from_shape_vec((shape[0], shape[1], shape[2], shape[3]), v).unwrap()
}

fn close(what: &str, got: &[f32], want: &[f32]) -> Result<(), TestCaseError> {
    prop_assert_eq!(got.len(), want.len(), "{}: length", what);
    let scale = want.iter().fold(1.0f32, |m, v| m.max(v.abs()));
    let err = got
        .iter()
        .zip(want)
        .fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
    prop_assert!(err <= 1e-4 * scale, "{what}: error {err} at scale {scale}");
    Ok(())
}

/// The layer's output and the gradients of `sum(output * r)` for input, weight
/// and bias, computed on an autodiff device with the chosen kernels.
struct Run {
    output: Array4<f32>,
    grads: [Vec<f32>; 3],
}

fn run(
    kernels: Kernels,
    x: &Array4<f32>,
    weight: &Array4<f32>,
    bias: Option<&Array1<f32>>,
    seed: u64,
    forward: impl Fn(Tensor<4>, Param<Tensor<4>>, Option<Param<Tensor<1>>>, Kernels) -> Tensor<4>,
) -> Option<Run> {
    let device = Device::flex().autodiff();
    let calls = ops::tconv_calls();
    let xt = tensor4(x, &device).require_grad();
    let wt = Param::from_tensor(tensor4(weight, &device));
    let bt = bias.map(|b| {
        Param::from_tensor(Tensor::<1>::from_data(
            TensorData::new(b.to_vec(), [b.len()]),
            &device,
        ))
    });
    let y = forward(xt.clone(), wt.clone(), bt.clone(), kernels);
    let dims = y.dims();
    if dims.contains(&0) {
        return None;
    }
    let r = tensor4(&array4(seed + 7, dims), &device);
    let grads = (y.clone() * r).sum().backward();
    let flat = |t: Tensor<4>| t.into_data().convert::<f32>().try_to_vec::<f32>().unwrap();
    let gx = xt.grad(&grads).map(flat).unwrap_or_default();
    let gw = wt.val().grad(&grads).map(flat).unwrap_or_default();
    let gb = bt
        .and_then(|b| b.val().grad(&grads))
        .map(|g| g.into_data().convert::<f32>().try_to_vec::<f32>().unwrap())
        .unwrap_or_default();
    // Forward plus at least the input and weight gradients ran on tconv, or none did.
    let ran_on_tconv = ops::tconv_calls() - calls;
    match kernels {
        Kernels::Tconv => assert!(ran_on_tconv >= 3, "only {ran_on_tconv} tconv calls"),
        Kernels::Burn | Kernels::Mixed(_) => assert_eq!(ran_on_tconv, 0),
    }
    Some(Run {
        output: array(y.inner()),
        grads: [gx, gw, gb],
    })
}

fn flat<D: ndarray::Dimension>(a: &ndarray::Array<f32, D>) -> Vec<f32> {
    a.iter().copied().collect()
}

fn check(
    ours: &Run,
    burn: &Run,
    want: (&Array4<f32>, &tconv::ConvGrads),
) -> Result<(), TestCaseError> {
    let (out, g) = want;
    close("output", &flat(&ours.output), &flat(out))?;
    close("grad input", &ours.grads[0], &flat(&g.input))?;
    close("grad weight", &ours.grads[1], &flat(&g.weight))?;
    close(
        "grad bias",
        &ours.grads[2],
        &g.bias.as_ref().map(flat).unwrap_or_default(),
    )?;
    close("burn output", &flat(&burn.output), &flat(out))?;
    close("burn grad weight", &burn.grads[1], &flat(&g.weight))?;
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(40))]

    #[test]
    fn conv2d_layer_on_tconv_equals_reference(c in case()) {
        let (cin, cout) = (c.groups * c.in_per_group, c.groups * c.out_per_group);
        let p = Conv2dParams { stride: c.stride, padding: c.padding, dilation: c.dilation, groups: c.groups };
        let x = array4(c.seed, [c.batch, cin, c.size[0], c.size[1]]);
        let w = array4(c.seed + 1, [cout, c.in_per_group, c.kernel[0], c.kernel[1]]);
        let b = c.bias.then(|| Array1::from(values(c.seed + 2, cout)));
        let Ok(out) = reference::conv2d(x.view(), w.view(), b.as_ref().map(|b| b.view()), &p) else {
            return Ok(());
        };
        let layer = |x: Tensor<4>, w: Param<Tensor<4>>, b: Option<Param<Tensor<1>>>, k: Kernels| {
            let mut conv: Conv2d = Conv2dConfig::new([cin, cout], c.kernel)
                .with_stride(c.stride)
                .with_dilation(c.dilation)
                .with_groups(c.groups)
                .with_padding(PaddingConfig2d::Explicit(c.padding[0], c.padding[1], c.padding[0], c.padding[1]))
                .with_bias(c.bias)
                .init(&x.device());
            conv.weight = w;
            conv.bias = b;
            ops::conv2d(&conv, x, k)
        };
        let Some(ours) = run(Kernels::Tconv, &x, &w, b.as_ref(), c.seed, layer) else { return Ok(()); };
        let burn = run(Kernels::Burn, &x, &w, b.as_ref(), c.seed, layer).unwrap();
        let gy = array4(c.seed + 7, out.shape().try_into().unwrap());
        let g = reference::conv2d_backward(x.view(), w.view(), gy.view(), c.bias, &p).unwrap();
        check(&ours, &burn, (&out, &g))?;
    }

    #[test]
    fn conv_transpose2d_layer_on_tconv_equals_reference(c in case()) {
        let (cin, cout) = (c.groups * c.in_per_group, c.groups * c.out_per_group);
        let output_padding = [c.padding[0] % c.stride[0], c.padding[1] % c.stride[1]];
        let p = ConvTranspose2dParams {
            stride: c.stride, padding: c.padding, output_padding, dilation: c.dilation, groups: c.groups,
        };
        let x = array4(c.seed, [c.batch, cin, c.size[0], c.size[1]]);
        let w = array4(c.seed + 1, [cin, c.out_per_group, c.kernel[0], c.kernel[1]]);
        let b = c.bias.then(|| Array1::from(values(c.seed + 2, cout)));
        let Ok(out) = reference::conv_transpose2d(x.view(), w.view(), b.as_ref().map(|b| b.view()), &p) else {
            return Ok(());
        };
        let layer = |x: Tensor<4>, w: Param<Tensor<4>>, b: Option<Param<Tensor<1>>>, k: Kernels| {
            let mut conv: ConvTranspose2d = ConvTranspose2dConfig::new([cin, cout], c.kernel)
                .with_stride(c.stride)
                .with_padding(c.padding)
                .with_padding_out(output_padding)
                .with_dilation(c.dilation)
                .with_groups(c.groups)
                .with_bias(c.bias)
                .init(&x.device());
            conv.weight = w;
            conv.bias = b;
            ops::conv_transpose2d(&conv, x, k)
        };
        let Some(ours) = run(Kernels::Tconv, &x, &w, b.as_ref(), c.seed, layer) else { return Ok(()); };
        let burn = run(Kernels::Burn, &x, &w, b.as_ref(), c.seed, layer).unwrap();
        let gy = array4(c.seed + 7, out.shape().try_into().unwrap());
        let g = reference::conv_transpose2d_backward(x.view(), w.view(), gy.view(), c.bias, &p).unwrap();
        check(&ours, &burn, (&out, &g))?;
    }
}

#[test]
fn values_are_spread_over_the_unit_interval() {
    let v = values(3, 1000);
    assert!(v.iter().all(|x| (-1.0..1.0).contains(x)));
    assert!(v.iter().any(|&x| x < -0.9) && v.iter().any(|&x| x > 0.9));
}

/// Inference's fused convolution + BatchNorm (+ residual, + ReLU) equals the same
/// layers run one after another on Burn's ops.
#[test]
fn fused_conv_batch_norm_equals_the_unfused_layers() {
    use burn::module::RunningState;
    use burn::nn::BatchNormConfig;
    use fcn::model::layers::conv_bn;

    let device = Device::flex();
    for (i, &(cin, cout, k, stride, residual, relu)) in [
        (3, 8, 7, 2, false, true),
        (8, 8, 3, 1, true, true),
        (8, 16, 1, 2, false, false),
        (16, 16, 3, 1, true, false),
    ]
    .iter()
    .enumerate()
    {
        let seed = 100 + i as u64;
        let p = k / 2;
        let mut conv: Conv2d = Conv2dConfig::new([cin, cout], [k, k])
            .with_stride([stride; 2])
            .with_padding(PaddingConfig2d::Explicit(p, p, p, p))
            .with_bias(false)
            .init(&device);
        conv.weight = Param::from_tensor(tensor4(&array4(seed, [cout, cin, k, k]), &device));
        let mut bn = BatchNormConfig::new(cout).init(&device);
        let vec1 = |s: u64, offset: f32| {
            let v: Vec<f32> = values(s, cout).iter().map(|v| v * 0.5 + offset).collect();
            Tensor::<1>::from_data(TensorData::new(v, [cout]), &device)
        };
        bn.gamma = Param::from_tensor(vec1(seed + 1, 1.0));
        bn.beta = Param::from_tensor(vec1(seed + 2, 0.0));
        bn.running_mean = RunningState::new(vec1(seed + 3, 0.0));
        bn.running_var = RunningState::new(vec1(seed + 4, 1.0));
        let x = tensor4(&array4(seed + 5, [2, cin, 13, 17]), &device);
        let out = (13 + 2 * p - k) / stride + 1;
        let out_w = (17 + 2 * p - k) / stride + 1;
        let r = residual.then(|| tensor4(&array4(seed + 6, [2, cout, out, out_w]), &device));
        let calls = ops::tconv_calls();
        let fused = conv_bn((&conv, &bn), x.clone(), r.clone(), relu, Kernels::Tconv);
        assert_eq!(ops::tconv_calls() - calls, 1, "one fused kernel");
        let plain = conv_bn((&conv, &bn), x, r, relu, Kernels::Burn);
        let (a, b) = (array(fused), array(plain));
        let scale = b.iter().fold(1.0f32, |m, v| m.max(v.abs()));
        let err = a
            .iter()
            .zip(&b)
            .fold(0.0f32, |m, (x, y)| m.max((x - y).abs()));
        assert!(
            err <= 1e-4 * scale,
            "case {i}: error {err} at scale {scale}"
        );
        if relu {
            assert!(a.iter().all(|&v| v >= 0.0));
        }
    }
}

/// Inference's max pooling equals Burn's for the stem's pool and other shapes,
/// with padding that never wins over negative values.
#[test]
fn max_pool_equals_burns() {
    use burn::nn::pool::MaxPool2dConfig;

    let device = Device::flex();
    for (i, &(k, s, p, h, w)) in [
        (3, 2, 1, 16, 24),
        (3, 2, 1, 15, 9),
        (2, 2, 0, 8, 8),
        (3, 1, 1, 5, 7),
    ]
    .iter()
    .enumerate()
    {
        let pool = MaxPool2dConfig::new([k, k])
            .with_strides([s, s])
            .with_padding(PaddingConfig2d::Explicit(p, p, p, p))
            .init();
        // All negative in the first image, so a padded zero would show.
        let mut x = array4(200 + i as u64, [2, 3, h, w]);
        x.slice_mut(ndarray::s![0, .., .., ..])
            .mapv_inplace(|v| -v.abs() - 0.1);
        let x = tensor4(&x, &device);
        let calls = ops::tconv_calls();
        let ours = array(ops::max_pool2d(&pool, x.clone(), Kernels::Tconv));
        assert_eq!(ops::tconv_calls() - calls, 1, "ran on tconv");
        let burn = array(pool.forward(x));
        assert_eq!(ours, burn, "case {i}");
    }
}

/// Training's max pooling equals Burn's in output and input gradient, where
/// windows overlap (the gradient adds up) and where values tie (the first maximum
/// in row-major order takes it, as in PyTorch).
#[test]
fn max_pool_gradient_equals_burns() {
    use burn::nn::pool::MaxPool2dConfig;

    let device = Device::flex().autodiff();
    for (i, &(k, s, p, h, w)) in [(3, 2, 1, 16, 24), (3, 1, 1, 7, 5), (2, 2, 0, 9, 8)]
        .iter()
        .enumerate()
    {
        let pool = MaxPool2dConfig::new([k, k])
            .with_strides([s, s])
            .with_padding(PaddingConfig2d::Explicit(p, p, p, p))
            .init();
        // Rounded to a few levels so that many windows hold equal maxima.
        let mut x = array4(400 + i as u64, [2, 3, h, w]);
        x.mapv_inplace(|v| (v * 4.0).round());
        let r = tensor4(
            &array4(410 + i as u64, [2, 3, h.div_ceil(s), w.div_ceil(s)]),
            &device,
        );
        let run = |kernels: Kernels| {
            let xt = tensor4(&x, &device).require_grad();
            let calls = ops::tconv_calls();
            let y = ops::max_pool2d(&pool, xt.clone(), kernels);
            let ran_on_tconv = ops::tconv_calls() > calls;
            let [_, _, oh, ow] = y.dims();
            let weights = r.clone().slice([0..2, 0..3, 0..oh, 0..ow]);
            let grads = (y.clone() * weights).sum().backward();
            let gx = array(xt.grad(&grads).unwrap());
            (array(y.inner()), gx, ran_on_tconv)
        };
        let (ours, burn) = (run(Kernels::Tconv), run(Kernels::Burn));
        assert!(ours.2 && !burn.2, "case {i}: the switch chose the kernels");
        assert_eq!(ours.0, burn.0, "case {i}: output");
        assert_eq!(ours.1, burn.1, "case {i}: input gradient");
    }
}

/// Training-mode BatchNorm on the parallel kernels equals Burn's: output, batch
/// statistics and the gradients of input, gamma and beta.
#[test]
fn training_batch_norm_equals_burns() {
    let device = Device::flex().autodiff();
    for (i, &(n, c, h, w)) in [(2, 3, 5, 7), (4, 8, 3, 3), (1, 2, 6, 1)]
        .iter()
        .enumerate()
    {
        let seed = 300 + i as u64;
        let mut x = array4(seed, [n, c, h, w]);
        x.mapv_inplace(|v| v * 3.0 + 1.5);
        let vec1 = |s: u64, offset: f32| {
            let v: Vec<f32> = values(s, c).iter().map(|v| v * 0.5 + offset).collect();
            Tensor::<1>::from_data(TensorData::new(v, [c]), &device).require_grad()
        };
        let r = tensor4(&array4(seed + 9, [n, c, h, w]), &device);
        let run = |kernels: Kernels| {
            let xt = tensor4(&x, &device).require_grad();
            let (gamma, beta) = (vec1(seed + 1, 1.0), vec1(seed + 2, 0.0));
            let (y, mean, var) = if kernels == Kernels::Tconv {
                ops::batch_norm_train(xt.clone(), gamma.clone(), beta.clone(), 1e-5)
            } else {
                let o = burn::tensor::module::batch_norm_train(
                    xt.clone(),
                    gamma.clone(),
                    beta.clone(),
                    1e-5,
                );
                (o.output, o.mean, o.variance)
            };
            let grads = (y.clone() * r.clone()).sum().backward();
            let flat1 = |t: Tensor<1>| t.into_data().convert::<f32>().try_to_vec::<f32>().unwrap();
            let flat4 = |t: Tensor<4>| t.into_data().convert::<f32>().try_to_vec::<f32>().unwrap();
            [
                flat4(y.inner()),
                flat1(mean.inner()),
                flat1(var.inner()),
                flat4(xt.grad(&grads).unwrap()),
                flat1(gamma.grad(&grads).unwrap()),
                flat1(beta.grad(&grads).unwrap()),
            ]
        };
        let (ours, burn) = (run(Kernels::Tconv), run(Kernels::Burn));
        for (what, (a, b)) in [
            "output",
            "mean",
            "variance",
            "grad x",
            "grad gamma",
            "grad beta",
        ]
        .iter()
        .zip(ours.iter().zip(&burn))
        {
            assert_eq!(a.len(), b.len(), "{what}");
            let scale = b.iter().fold(1.0f32, |m, v| m.max(v.abs()));
            let err = a
                .iter()
                .zip(b)
                .fold(0.0f32, |m, (x, y)| m.max((x - y).abs()));
            assert!(
                err <= 1e-4 * scale,
                "case {i} {what}: error {err} at scale {scale}"
            );
        }
    }
}

/// The fused cross-entropy equals the composed one (log-softmax, gather, mask;
/// with class weights, a select of each pixel's weight) in value and gradient,
/// with ignored pixels, and gives zero when every pixel is ignored. Its pixel
/// accuracy equals Burn's argmax.
#[test]
fn fused_cross_entropy_equals_the_composed_one() {
    use burn::tensor::Int;
    use fcn::loss::{IGNORE_LABEL, cross_entropy_with_hits};

    let device = Device::flex().autodiff();
    for (i, &(n, c, h, w, all_ignored, weighted)) in [
        (2, 5, 7, 9, false, false),
        (1, 21, 40, 33, false, false),
        (2, 3, 4, 4, true, false),
        (2, 5, 7, 9, false, true),
        (1, 21, 40, 33, false, true),
        (2, 3, 4, 4, true, true),
    ]
    .iter()
    .enumerate()
    {
        let seed = 400 + i as u64;
        let mut x = array4(seed, [n, c, h, w]);
        x.mapv_inplace(|v| v * 8.0);
        let labels: Vec<i64> = values(seed + 1, n * h * w)
            .iter()
            .map(|v| {
                let k = ((v + 1.0) * 0.5 * (c + 1) as f32) as i64;
                if all_ignored || k >= c as i64 {
                    IGNORE_LABEL
                } else {
                    k
                }
            })
            .collect();
        // Weights from 0.25 to 4: far enough from 1 that an unweighted mean fails.
        let class_weights: Vec<f32> = (0..c).map(|k| 0.25 + 3.75 * k as f32 / c as f32).collect();
        let run = |kernels: Kernels| {
            let calls = ops::tconv_calls();
            let xt = tensor4(&x, &device).require_grad();
            let lt =
                Tensor::<3, Int>::from_data(TensorData::new(labels.clone(), [n, h, w]), &device);
            let wt = weighted.then(|| {
                Tensor::<1>::from_data(TensorData::new(class_weights.clone(), [c]), &device)
            });
            let (loss, hits) = cross_entropy_with_hits(xt.clone(), lt, wt.as_ref(), kernels);
            let grads = (loss.clone() * 3.0).backward();
            let used = ops::tconv_calls() - calls;
            let value: f32 = loss.into_scalar();
            let g = xt.grad(&grads).unwrap().into_data().convert::<f32>();
            (value, g.try_to_vec::<f32>().unwrap(), used, hits)
        };
        let (ours, burn) = (run(Kernels::Tconv), run(Kernels::Burn));
        assert_eq!(
            ours.2, 1,
            "case {i}: loss, accuracy and gradient in one pass"
        );
        assert_eq!(burn.2, 0);
        assert_eq!(ours.3, burn.3, "case {i}: (correct, counted) pixels");
        assert!(
            all_ignored || ours.3.0 > 0,
            "case {i}: some pixels are right"
        );
        assert!(
            (ours.0 - burn.0).abs() <= 1e-4 * burn.0.abs().max(1.0),
            "case {i}: {} vs {}",
            ours.0,
            burn.0
        );
        let scale = burn.1.iter().fold(1e-3f32, |m, v| m.max(v.abs()));
        let err = ours
            .1
            .iter()
            .zip(&burn.1)
            .fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
        assert!(
            err <= 1e-4 * scale,
            "case {i}: gradient error {err} at scale {scale}"
        );
        if all_ignored {
            assert_eq!(ours.0, 0.0);
            assert!(ours.1.iter().all(|&v| v == 0.0));
        }
    }
}
