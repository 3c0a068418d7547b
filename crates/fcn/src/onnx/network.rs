//! The network as ONNX nodes, layer by layer, walking the same modules the Burn
//! forward pass runs: convolutions with their inference BatchNorm folded in
//! (`W·s`, `b·s + β − μ·s` with `s = γ/√(σ² + ε)`), ReLU, max pooling, the residual
//! sums, the heads' transposed convolutions and torchvision's bilinear resize.

use burn::nn::conv::{Conv2d, ConvTranspose2d};
use burn::nn::pool::MaxPool2d;
use burn::nn::{BatchNorm, PaddingConfig2d};

use super::graph::{Attr, Graph};
use crate::model::FcnNet;
use crate::model::blocks::{Block, Downsample};
use crate::model::fcn::Head;
use crate::model::head::{FcnHead, Upsample};
use crate::model::layers::named;
use crate::model::resnet::ResNet;
use crate::model::tv_head::ConvHead;

/// What a convolution node needs besides its input.
struct ConvStep<'a> {
    name: String,
    conv: &'a Conv2d,
    bn: Option<&'a BatchNorm>,
    residual: Option<String>,
    relu: bool,
}

/// The logits of `net` for the (padded, normalised) `input`; `size` names the
/// int64 `[H, W]` the logits are resized to where the head resizes (torchvision's).
pub fn logits(g: &mut Graph, net: &FcnNet, input: &str, size: &str) -> String {
    let features = backbone(g, &net.backbone, input);
    match &net.head {
        Head::Textbook(head) => textbook_head(g, head, &features),
        Head::Torchvision(head) => conv_head(g, "classifier", &head.classifier, &features[2], size),
    }
}

/// `layer2`, `layer3` and `layer4`.
fn backbone(g: &mut Graph, net: &ResNet, input: &str) -> [String; 3] {
    let x = conv(g, step("conv1", &net.conv1, Some(&net.bn1), true), input);
    let mut x = max_pool(g, &net.maxpool, &x);
    let mut outs = Vec::with_capacity(3);
    for (s, stage) in net.stages.iter().enumerate() {
        for (b, block) in stage.iter().enumerate() {
            x = residual_block(g, &format!("layer{}.{b}", s + 1), block, &x);
        }
        if s > 0 {
            outs.push(x.clone());
        }
    }
    outs.try_into().expect("a ResNet has four stages")
}

fn step<'a>(name: &str, conv: &'a Conv2d, bn: Option<&'a BatchNorm>, relu: bool) -> ConvStep<'a> {
    ConvStep {
        name: name.to_owned(),
        conv,
        bn,
        residual: None,
        relu,
    }
}

fn residual_block(g: &mut Graph, name: &str, block: &Block, x: &str) -> String {
    let shortcut = |g: &mut Graph, d: &Option<Downsample>| match d {
        Some(d) => conv(
            g,
            step(&format!("{name}.downsample"), &d.conv, Some(&d.bn), false),
            x,
        ),
        None => x.to_owned(),
    };
    match block {
        Block::Basic(b) => {
            let skip = shortcut(g, &b.downsample);
            let y = conv(
                g,
                step(&format!("{name}.conv1"), &b.conv1, Some(&b.bn1), true),
                x,
            );
            let mut last = step(&format!("{name}.conv2"), &b.conv2, Some(&b.bn2), true);
            last.residual = Some(skip);
            conv(g, last, &y)
        }
        Block::Bottleneck(b) => {
            let skip = shortcut(g, &b.downsample);
            let y = conv(
                g,
                step(&format!("{name}.conv1"), &b.conv1, Some(&b.bn1), true),
                x,
            );
            let y = conv(
                g,
                step(&format!("{name}.conv2"), &b.conv2, Some(&b.bn2), true),
                &y,
            );
            let mut last = step(&format!("{name}.conv3"), &b.conv3, Some(&b.bn3), true);
            last.residual = Some(skip);
            conv(g, last, &y)
        }
    }
}

/// `[top, left, bottom, right]` of a padding configuration.
fn pads(p: &PaddingConfig2d, kernel: [usize; 2]) -> [i64; 4] {
    match *p {
        PaddingConfig2d::Valid => [0; 4],
        PaddingConfig2d::Explicit(t, l, b, r) => [t, l, b, r].map(|v| v as i64),
        // Burn's `Same` puts the odd pixel at the end.
        PaddingConfig2d::Same => {
            let before = kernel.map(|k| ((k - 1) / 2) as i64);
            let after = kernel.map(|k| (k / 2) as i64);
            [before[0], before[1], after[0], after[1]]
        }
    }
}

fn ints(v: [usize; 2]) -> Attr {
    Attr::Ints(v.iter().map(|&x| x as i64).collect())
}

/// A convolution with its BatchNorm folded in, then the residual and the ReLU.
fn conv(g: &mut Graph, s: ConvStep, x: &str) -> String {
    let w = named(&s.conv.weight.val());
    let cout = w.shape[0];
    let mut weight = w.data;
    let mut bias = match &s.conv.bias {
        Some(b) => named(&b.val()).data,
        None => vec![0.0; cout],
    };
    if let Some(bn) = s.bn {
        let gamma = named(&bn.gamma.val()).data;
        let beta = named(&bn.beta.val()).data;
        let mean = named(&bn.running_mean.value()).data;
        let var = named(&bn.running_var.value()).data;
        let per_channel = weight.len() / cout;
        for c in 0..cout {
            let scale = gamma[c] / (var[c] + bn.epsilon as f32).sqrt();
            weight[c * per_channel..(c + 1) * per_channel]
                .iter_mut()
                .for_each(|v| *v *= scale);
            bias[c] = bias[c] * scale + beta[c] - mean[c] * scale;
        }
    }
    let wn = g.weight(&format!("{}.weight", s.name), &w.shape, &weight);
    let bn = g.weight(&format!("{}.bias", s.name), &[cout], &bias);
    let c = s.conv;
    let attrs = vec![
        ("kernel_shape", ints(c.kernel_size)),
        ("strides", ints(c.stride)),
        ("dilations", ints(c.dilation)),
        ("pads", Attr::Ints(pads(&c.padding, c.kernel_size).to_vec())),
        ("group", Attr::Int(c.groups as i64)),
    ];
    let mut y = g.node("Conv", &[x, &wn, &bn], attrs);
    if let Some(r) = &s.residual {
        y = g.node("Add", &[&y, r], vec![]);
    }
    if s.relu {
        y = g.node("Relu", &[&y], vec![]);
    }
    y
}

fn max_pool(g: &mut Graph, pool: &MaxPool2d, x: &str) -> String {
    let attrs = vec![
        ("kernel_shape", ints(pool.kernel_size)),
        ("strides", ints(pool.stride)),
        ("dilations", ints(pool.dilation)),
        (
            "pads",
            Attr::Ints(pads(&pool.padding, pool.kernel_size).to_vec()),
        ),
        ("ceil_mode", Attr::Int(pool.ceil_mode as i64)),
    ];
    g.node("MaxPool", &[x], attrs)
}

fn conv_transpose(g: &mut Graph, name: &str, t: &ConvTranspose2d, x: &str) -> String {
    let w = named(&t.weight.val());
    let wn = g.weight(&format!("{name}.weight"), &w.shape, &w.data);
    let mut inputs = vec![x.to_owned(), wn];
    if let Some(b) = &t.bias {
        let b = named(&b.val());
        inputs.push(g.weight(&format!("{name}.bias"), &b.shape, &b.data));
    }
    let [ph, pw] = t.padding.map(|p| p as i64);
    let attrs = vec![
        ("kernel_shape", ints(t.kernel_size)),
        ("strides", ints(t.stride)),
        ("dilations", ints(t.dilation)),
        ("pads", Attr::Ints(vec![ph, pw, ph, pw])),
        ("output_padding", ints(t.padding_out)),
        ("group", Attr::Int(t.groups as i64)),
    ];
    let refs: Vec<&str> = inputs.iter().map(String::as_str).collect();
    g.node("ConvTranspose", &refs, attrs)
}

fn textbook_head(g: &mut Graph, head: &FcnHead, [l2, l3, l4]: &[String; 3]) -> String {
    let scores = conv(g, step("final_conv", &head.final_conv, None, false), l4);
    let score =
        |g: &mut Graph, name: &str, c: &Conv2d, x: &str| conv(g, step(name, c, None, false), x);
    match &head.upsample {
        Upsample::X32(h) => conv_transpose(g, "transpose_conv", &h.transpose_conv, &scores),
        Upsample::Skip16(h) => {
            let up = conv_transpose(g, "upscore2", &h.upscore2, &scores);
            let pool4 = score(g, "score_pool4", &h.score_pool4, l3);
            let sum = g.node("Add", &[&up, &pool4], vec![]);
            conv_transpose(g, "upscore16", &h.upscore16, &sum)
        }
        Upsample::Skip8(h) => {
            let up = conv_transpose(g, "upscore2", &h.upscore2, &scores);
            let pool4 = score(g, "score_pool4", &h.score_pool4, l3);
            let sum = g.node("Add", &[&up, &pool4], vec![]);
            let up = conv_transpose(g, "upscore_pool4", &h.upscore_pool4, &sum);
            let pool3 = score(g, "score_pool3", &h.score_pool3, l2);
            let sum = g.node("Add", &[&up, &pool3], vec![]);
            conv_transpose(g, "upscore8", &h.upscore8, &sum)
        }
    }
}

/// torchvision's `FCNHead` (dropout is the identity at inference), then the
/// scores resized to `size` as `F.interpolate(..., "bilinear", align_corners=False)`.
fn conv_head(g: &mut Graph, name: &str, head: &ConvHead, x: &str, size: &str) -> String {
    let y = conv(
        g,
        step(&format!("{name}.0"), &head.conv, Some(&head.bn), true),
        x,
    );
    let scores = conv(g, step(&format!("{name}.4"), &head.score, None, false), &y);
    let shape = g.node("Shape", &[&scores], vec![]);
    let (zero, two) = (g.ints("zero", &[0]), g.ints("two", &[2]));
    let nc = g.node("Slice", &[&shape, &zero, &two], vec![]);
    let sizes = g.node("Concat", &[&nc, size], vec![("axis", Attr::Int(0))]);
    let attrs = vec![
        ("mode", Attr::Str("linear")),
        (
            "coordinate_transformation_mode",
            Attr::Str("pytorch_half_pixel"),
        ),
    ];
    g.node("Resize", &[&scores, "", "", &sizes], attrs)
}
