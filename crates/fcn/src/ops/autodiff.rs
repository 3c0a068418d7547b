//! The differentiable versions of the `tconv` primitives: the forward pass runs the
//! inner backend's kernel and records one backward step that asks `tconv` for only
//! the gradients the graph needs.

use burn::backend::Backend;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::autodiff::{Autodiff, NodeId};
use burn::backend::ops::{ActivationOps, FloatTensorOps};
use burn::backend::tensor::{FloatTensor, IntTensor};
use burn::backend::{Shape, TensorMetadata};
use tconv::{Conv2dParams, ConvTranspose2dParams};

use super::backend::{
    AdamUpdate, BatchNormGrads, ConvOp, CrossEntropy, MaybeTensor, TconvBackend, Wrt,
};
use tconv::kernels::adam::AdamStep;

/// The forward pass of the convolution `op`.
fn conv_forward<B: TconvBackend>(
    op: ConvOp,
    x: FloatTensor<B>,
    w: FloatTensor<B>,
    b: Option<FloatTensor<B>>,
) -> FloatTensor<B> {
    let b = MaybeTensor::from_option(b);
    match op {
        ConvOp::Direct(p) => B::tconv_conv2d(x, w, b, p),
        ConvOp::Transposed(p) => B::tconv_conv_transpose2d(x, w, b, p),
    }
}

/// The backward step of a convolution with (3 parents) or without (2) a bias.
#[derive(Debug)]
struct ConvBackward;

/// What the backward step keeps: the input, the weight and the convolution.
type Saved<B> = (FloatTensor<B>, FloatTensor<B>, ConvOp);

fn register_grads<B: TconvBackend>(
    parents: &[Option<NodeId>],
    grad: FloatTensor<B>,
    (x, w, conv): Saved<B>,
    grads: &mut Gradients,
) {
    if let Some(id) = parents.get(2).copied().flatten() {
        grads.register::<B>(id, B::tconv_bias_grad(grad.clone()));
    }
    if let Some(id) = parents[1] {
        let gw = B::tconv_conv_grad(x.clone(), w.clone(), grad.clone(), conv, Wrt::Weight);
        grads.register::<B>(id, gw);
    }
    if let Some(id) = parents[0] {
        grads.register::<B>(id, B::tconv_conv_grad(x, w, grad, conv, Wrt::Input));
    }
}

impl<B: TconvBackend> Backward<B, 2> for ConvBackward {
    type State = Saved<B>;

    fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _: &mut Checkpointer) {
        let parents = ops.parents.each_ref().map(|p| p.as_ref().map(|n| n.id));
        let grad = grads.consume::<B>(&ops.node);
        register_grads::<B>(&parents, grad, ops.state, grads);
    }
}

impl<B: TconvBackend> Backward<B, 3> for ConvBackward {
    type State = Saved<B>;

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let parents = ops.parents.each_ref().map(|p| p.as_ref().map(|n| n.id));
        let grad = grads.consume::<B>(&ops.node);
        register_grads::<B>(&parents, grad, ops.state, grads);
    }
}

type Tracked<B, C> = FloatTensor<Autodiff<B, C>>;

/// The backward step of the fused cross-entropy (parent: the logits).
#[derive(Debug)]
struct CrossEntropyBackward;

impl<B: TconvBackend> Backward<B, 1> for CrossEntropyBackward {
    /// The gradient of the loss, computed in the forward pass.
    type State = FloatTensor<B>;

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [logits_node] = ops.parents.each_ref().map(|p| p.as_ref().map(|n| n.id));
        let upstream = grads.consume::<B>(&ops.node);
        if let Some(id) = logits_node {
            grads.register::<B>(id, B::tconv_scale(ops.state, upstream));
        }
    }
}

/// The backward step of max pooling (parent: the input).
#[derive(Debug)]
struct MaxPoolBackward;

impl<B: TconvBackend> Backward<B, 1> for MaxPoolBackward {
    /// The input and the window: kernel, stride, padding.
    type State = (FloatTensor<B>, [[usize; 2]; 3]);

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [x_node] = ops.parents.each_ref().map(|p| p.as_ref().map(|n| n.id));
        let grad = grads.consume::<B>(&ops.node);
        let (x, [kernel, stride, padding]) = ops.state;
        if let Some(id) = x_node {
            grads.register::<B>(
                id,
                B::tconv_max_pool2d_backward(x, grad, kernel, stride, padding),
            );
        }
    }
}

/// The backward step of a bilinear resize (parent: the input).
#[derive(Debug)]
struct ResizeBackward;

impl<B: TconvBackend> Backward<B, 1> for ResizeBackward {
    /// The input's size.
    type State = [usize; 2];

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [x_node] = ops.parents.each_ref().map(|p| p.as_ref().map(|n| n.id));
        let grad = grads.consume::<B>(&ops.node);
        if let Some(id) = x_node {
            grads.register::<B>(id, B::tconv_resize_bilinear_backward(grad, ops.state));
        }
    }
}

/// The backward step of a training-mode BatchNorm (parents: input, gamma, beta).
#[derive(Debug)]
struct BatchNormBackward;

impl<B: TconvBackend> Backward<B, 3> for BatchNormBackward {
    /// The input, gamma, the batch statistics and epsilon.
    type State = (FloatTensor<B>, FloatTensor<B>, FloatTensor<B>, f64);

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [x_node, gamma_node, beta_node] =
            ops.parents.each_ref().map(|p| p.as_ref().map(|n| n.id));
        let grad = grads.consume::<B>(&ops.node);
        let (x, gamma, stats, eps) = ops.state;
        let g = B::tconv_bn_backward(x, gamma, stats, grad, eps);
        if let Some(id) = x_node {
            grads.register::<B>(id, g.input);
        }
        if let Some(id) = gamma_node {
            grads.register::<B>(id, g.gamma);
        }
        if let Some(id) = beta_node {
            grads.register::<B>(id, g.beta);
        }
    }
}

fn forward<B: TconvBackend, C: CheckpointStrategy>(
    x: Tracked<B, C>,
    w: Tracked<B, C>,
    bias: Option<Tracked<B, C>>,
    conv: ConvOp,
) -> Tracked<B, C> {
    match bias {
        None => {
            match <ConvBackward as Backward<B, 2>>::prepare::<C>(ConvBackward, [x.node(), w.node()])
                .compute_bound()
                .stateful()
            {
                OpsKind::Tracked(prep) => {
                    let (xp, wp) = (x.into_primitive(), w.into_primitive());
                    let y = conv_forward::<B>(conv, xp.clone(), wp.clone(), None);
                    prep.finish((xp, wp, conv), y)
                }
                OpsKind::UnTracked(prep) => prep.finish(conv_forward::<B>(
                    conv,
                    x.into_primitive(),
                    w.into_primitive(),
                    None,
                )),
            }
        }
        Some(b) => match <ConvBackward as Backward<B, 3>>::prepare::<C>(
            ConvBackward,
            [x.node(), w.node(), b.node()],
        )
        .compute_bound()
        .stateful()
        {
            OpsKind::Tracked(prep) => {
                let (xp, wp) = (x.into_primitive(), w.into_primitive());
                let y = conv_forward::<B>(conv, xp.clone(), wp.clone(), Some(b.into_primitive()));
                prep.finish((xp, wp, conv), y)
            }
            OpsKind::UnTracked(prep) => prep.finish(conv_forward::<B>(
                conv,
                x.into_primitive(),
                w.into_primitive(),
                Some(b.into_primitive()),
            )),
        },
    }
}

/// A gradient computed on the inner backend and returned as a constant: the model
/// never differentiates a gradient (no second-order training).
fn constant<B: Backend, C: CheckpointStrategy>(t: FloatTensor<B>) -> Tracked<B, C> {
    Tracked::<B, C>::new(t)
}

impl<B: TconvBackend, C: CheckpointStrategy> TconvBackend for Autodiff<B, C> {
    fn tconv_conv2d(
        x: Tracked<B, C>,
        weight: Tracked<B, C>,
        bias: MaybeTensor<Self>,
        params: Conv2dParams,
    ) -> Tracked<B, C> {
        forward::<B, C>(x, weight, bias.into_option(), ConvOp::Direct(params))
    }

    fn tconv_conv_transpose2d(
        x: Tracked<B, C>,
        weight: Tracked<B, C>,
        bias: MaybeTensor<Self>,
        params: ConvTranspose2dParams,
    ) -> Tracked<B, C> {
        forward::<B, C>(x, weight, bias.into_option(), ConvOp::Transposed(params))
    }

    fn tconv_conv_grad(
        x: Tracked<B, C>,
        weight: Tracked<B, C>,
        grad: Tracked<B, C>,
        op: ConvOp,
        wrt: Wrt,
    ) -> Tracked<B, C> {
        let (x, w, g) = (
            x.into_primitive(),
            weight.into_primitive(),
            grad.into_primitive(),
        );
        constant::<B, C>(B::tconv_conv_grad(x, w, g, op, wrt))
    }

    /// Composed from differentiable ops: the fused kernel is for inference, where
    /// there is no graph to record.
    fn tconv_conv2d_affine(
        x: Tracked<B, C>,
        weight: Tracked<B, C>,
        scale: Tracked<B, C>,
        shift: Tracked<B, C>,
        residual: MaybeTensor<Self>,
        relu: bool,
        params: Conv2dParams,
    ) -> Tracked<B, C> {
        let y = Self::tconv_conv2d(x, weight, MaybeTensor::Absent, params);
        let per_channel = |t: Tracked<B, C>| {
            let c = t.shape().num_elements();
            Self::float_reshape(t, Shape::new([1, c, 1, 1]))
        };
        let y = Self::float_mul(y, per_channel(scale));
        let mut y = Self::float_add(y, per_channel(shift));
        if let Some(r) = residual.into_option() {
            y = Self::float_add(y, r);
        }
        if relu { Self::relu(y) } else { y }
    }

    fn tconv_max_pool2d(
        x: Tracked<B, C>,
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: [usize; 2],
    ) -> Tracked<B, C> {
        let window = [kernel, stride, padding];
        match MaxPoolBackward
            .prepare::<C>([x.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let xp = x.into_primitive();
                let y = B::tconv_max_pool2d(xp.clone(), kernel, stride, padding);
                prep.finish((xp, window), y)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::tconv_max_pool2d(
                x.into_primitive(),
                kernel,
                stride,
                padding,
            )),
        }
    }

    fn tconv_resize_bilinear(x: Tracked<B, C>, size: [usize; 2]) -> Tracked<B, C> {
        let [h, w] = match x.shape().to_vec()[..] {
            [_, _, h, w] => [h, w],
            ref dims => panic!("a resize takes 4-D tensors, got shape {dims:?}"),
        };
        match ResizeBackward
            .prepare::<C>([x.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                prep.finish([h, w], B::tconv_resize_bilinear(x.into_primitive(), size))
            }
            OpsKind::UnTracked(prep) => {
                prep.finish(B::tconv_resize_bilinear(x.into_primitive(), size))
            }
        }
    }

    fn tconv_resize_bilinear_backward(
        grad: Tracked<B, C>,
        input_size: [usize; 2],
    ) -> Tracked<B, C> {
        constant::<B, C>(B::tconv_resize_bilinear_backward(
            grad.into_primitive(),
            input_size,
        ))
    }

    fn tconv_max_pool2d_backward(
        x: Tracked<B, C>,
        grad: Tracked<B, C>,
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: [usize; 2],
    ) -> Tracked<B, C> {
        constant::<B, C>(B::tconv_max_pool2d_backward(
            x.into_primitive(),
            grad.into_primitive(),
            kernel,
            stride,
            padding,
        ))
    }

    fn tconv_cross_entropy(
        logits: Tracked<B, C>,
        labels: IntTensor<B>,
        weights: MaybeTensor<Self>,
        ignore: i64,
        _with_grad: bool,
    ) -> CrossEntropy<Self> {
        // The weights are constants: no gradient flows to them.
        let weights =
            || MaybeTensor::from_option(weights.into_option().map(|w| w.into_primitive()));
        match CrossEntropyBackward
            .prepare::<C>([logits.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                // The gradient comes out of the same pass as the loss and waits for
                // the backward step.
                let out = B::tconv_cross_entropy(
                    logits.into_primitive(),
                    labels,
                    weights(),
                    ignore,
                    true,
                );
                let grad = out.grad.into_option().expect("the gradient was asked for");
                CrossEntropy {
                    loss: prep.finish(grad, out.loss),
                    hits: out.hits,
                    grad: MaybeTensor::Absent,
                }
            }
            OpsKind::UnTracked(prep) => {
                let out = B::tconv_cross_entropy(
                    logits.into_primitive(),
                    labels,
                    weights(),
                    ignore,
                    false,
                );
                CrossEntropy {
                    loss: prep.finish(out.loss),
                    hits: out.hits,
                    grad: MaybeTensor::Absent,
                }
            }
        }
    }

    fn tconv_scale(x: Tracked<B, C>, factor: Tracked<B, C>) -> Tracked<B, C> {
        constant::<B, C>(B::tconv_scale(x.into_primitive(), factor.into_primitive()))
    }

    fn tconv_bn_stats(x: Tracked<B, C>) -> Tracked<B, C> {
        constant::<B, C>(B::tconv_bn_stats(x.into_primitive()))
    }

    fn tconv_bn_train(
        x: Tracked<B, C>,
        gamma: Tracked<B, C>,
        beta: Tracked<B, C>,
        stats: Tracked<B, C>,
        eps: f64,
    ) -> Tracked<B, C> {
        match BatchNormBackward
            .prepare::<C>([x.node(), gamma.node(), beta.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let (xp, gp, st) = (
                    x.into_primitive(),
                    gamma.into_primitive(),
                    stats.into_primitive(),
                );
                let y = B::tconv_bn_train(
                    xp.clone(),
                    gp.clone(),
                    beta.into_primitive(),
                    st.clone(),
                    eps,
                );
                prep.finish((xp, gp, st, eps), y)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::tconv_bn_train(
                x.into_primitive(),
                gamma.into_primitive(),
                beta.into_primitive(),
                stats.into_primitive(),
                eps,
            )),
        }
    }

    fn tconv_bn_backward(
        x: Tracked<B, C>,
        gamma: Tracked<B, C>,
        stats: Tracked<B, C>,
        grad: Tracked<B, C>,
        eps: f64,
    ) -> BatchNormGrads<Self> {
        let g = B::tconv_bn_backward(
            x.into_primitive(),
            gamma.into_primitive(),
            stats.into_primitive(),
            grad.into_primitive(),
            eps,
        );
        BatchNormGrads {
            input: constant::<B, C>(g.input),
            gamma: constant::<B, C>(g.gamma),
            beta: constant::<B, C>(g.beta),
        }
    }

    fn tconv_bias_grad(grad: Tracked<B, C>) -> Tracked<B, C> {
        constant::<B, C>(B::tconv_bias_grad(grad.into_primitive()))
    }

    /// The optimiser's step: on values, outside the graph.
    fn tconv_adam(
        param: Tracked<B, C>,
        grad: Tracked<B, C>,
        moment_1: MaybeTensor<Self>,
        moment_2: MaybeTensor<Self>,
        step: AdamStep,
    ) -> AdamUpdate<Self> {
        let inner = |m: MaybeTensor<Self>| {
            MaybeTensor::from_option(m.into_option().map(|t| t.into_primitive()))
        };
        let out = B::tconv_adam(
            param.into_primitive(),
            grad.into_primitive(),
            inner(moment_1),
            inner(moment_2),
            step,
        );
        AdamUpdate {
            param: constant::<B, C>(out.param),
            moment_1: constant::<B, C>(out.moment_1),
            moment_2: constant::<B, C>(out.moment_2),
        }
    }
}
