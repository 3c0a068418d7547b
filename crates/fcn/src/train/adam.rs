//! Adam as Burn defines it, its step fused into one pass per parameter tensor on the
//! CPU (`tconv::kernels::adam`). Burn's own `Adam` runs the step as a dozen tensor
//! ops per parameter, each with its allocation and dispatch; for the demo's small
//! network those took a tenth of a half-resolution training step. The state is
//! Burn's `AdamState`, so checkpoints of either resume with the other, and the
//! arithmetic is Burn's to the bit (a test checks both). On a GPU, in another
//! precision, or with AMSGrad's extra moment, Burn's `Adam` runs the step.

use burn::backend::Dispatch;
use burn::optim::decay::WeightDecayConfig;
use burn::optim::{Adam, AdamConfig, AdamState, AdaptiveMomentumState, LearningRate, Optimizer};
use burn::tensor::{DType, Device, Tensor};
use tconv::kernels::adam::AdamStep;

use crate::ops::{MaybeTensor, TconvBackend};

/// Burn's defaults, which `AdamConfig::new()` gives.
const BETA_1: f32 = 0.9;
const BETA_2: f32 = 0.999;
const EPSILON: f32 = 1e-5;

#[derive(Clone)]
pub struct FusedAdam {
    weight_decay: Option<f32>,
    /// Burn's Adam with the same settings, for the steps the kernel does not take.
    burn: Adam,
}

impl FusedAdam {
    /// Adam with Burn's default betas and epsilon and an optional L2 penalty.
    pub fn new(weight_decay: Option<f32>) -> Self {
        let config = AdamConfig::new()
            .with_beta_1(BETA_1)
            .with_beta_2(BETA_2)
            .with_epsilon(EPSILON)
            .with_weight_decay(weight_decay.map(WeightDecayConfig::new));
        Self {
            weight_decay,
            burn: config.build(),
        }
    }
}

impl Optimizer for FusedAdam {
    type State<const D: usize> = AdamState<D>;

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        state: Option<AdamState<D>>,
    ) -> (Tensor<D>, Option<AdamState<D>>) {
        let on_kernel = tensor.dtype() == DType::F32
            && grad.dtype() == DType::F32
            && crate::device::is_cpu(&tensor.device())
            && state
                .as_ref()
                .is_none_or(|s| s.momentum.max_moment_2.is_none());
        if !on_kernel {
            return self.burn.step(lr, tensor, grad, state);
        }
        let time = state.as_ref().map_or(1, |s| s.momentum.time + 1);
        let (m1, m2) = match state {
            Some(s) => (
                MaybeTensor::Present(s.momentum.moment_1.into_dispatch()),
                MaybeTensor::Present(s.momentum.moment_2.into_dispatch()),
            ),
            None => (MaybeTensor::Absent, MaybeTensor::Absent),
        };
        let step = AdamStep {
            lr: lr as f32,
            beta_1: BETA_1,
            beta_2: BETA_2,
            epsilon: EPSILON,
            weight_decay: self.weight_decay,
            time: time as i32,
        };
        let out = <Dispatch as TconvBackend>::tconv_adam(
            tensor.into_dispatch(),
            grad.into_dispatch(),
            m1,
            m2,
            step,
        );
        let momentum = AdaptiveMomentumState::new(
            time,
            Tensor::from_dispatch(out.moment_1),
            Tensor::from_dispatch(out.moment_2),
        );
        (
            Tensor::from_dispatch(out.param),
            Some(AdamState::new(momentum)),
        )
    }

    fn to_device<const D: usize>(state: AdamState<D>, device: &Device) -> AdamState<D> {
        <Adam as Optimizer>::to_device(state, device)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::module::Module;
    use burn::nn::conv::{Conv2d, Conv2dConfig};
    use burn::optim::{GradientsParams, ModuleOptimizer};
    use burn::tensor::Distribution;

    /// Five steps of a convolution's weight and bias under both optimisers, with and
    /// without weight decay: the same values to the bit, and the fused one's state
    /// carries on in Burn's optimiser.
    #[test]
    fn steps_equal_burns_adam_to_the_bit() {
        for decay in [None, Some(0.05)] {
            let device = Device::flex().autodiff();
            let conv: Conv2d = Conv2dConfig::new([3, 4], [3, 3]).init(&device);
            let mut burn: ModuleOptimizer = AdamConfig::new()
                .with_weight_decay(decay.map(WeightDecayConfig::new))
                .init();
            let mut fused = ModuleOptimizer::from(FusedAdam::new(decay));
            let (mut a, mut b) = (conv.clone(), conv);
            for step in 0..5 {
                let x = Tensor::<4>::random([2, 3, 6, 5], Distribution::Normal(0.0, 1.0), &device);
                let lr = 0.01 * (step + 1) as f64;
                a = burn.step(lr, a.clone(), loss_grads(&a, x.clone()));
                b = fused.step(lr, b.clone(), loss_grads(&b, x));
                assert_same(&a, &b, &format!("decay {decay:?}, step {}", step + 1));
            }
            // The fused optimiser's state, loaded into Burn's, steps as Burn's own.
            let mut resumed: ModuleOptimizer = AdamConfig::new()
                .with_weight_decay(decay.map(WeightDecayConfig::new))
                .init()
                .load_record(fused.to_record());
            let x = Tensor::<4>::random([2, 3, 6, 5], Distribution::Normal(0.0, 1.0), &device);
            let a = burn.step(0.02, a.clone(), loss_grads(&a, x.clone()));
            let b = resumed.step(0.02, b.clone(), loss_grads(&b, x));
            assert_same(&a, &b, "resumed");
        }
    }

    fn loss_grads(conv: &Conv2d, x: Tensor<4>) -> GradientsParams {
        let y = conv.forward(x);
        let loss = (y.clone() * y).sum();
        GradientsParams::from_grads(loss.backward(), conv)
    }

    fn assert_same(a: &Conv2d, b: &Conv2d, what: &str) {
        let values = |m: &Conv2d| {
            let w = m.weight.val().into_data().try_to_vec::<f32>().unwrap();
            let bias = m.bias.as_ref().unwrap().val().into_data();
            [w, bias.try_to_vec::<f32>().unwrap()]
        };
        let (va, vb) = (values(a), values(b));
        for (x, y) in va.iter().zip(&vb) {
            let same = x.iter().zip(y).all(|(p, q)| p.to_bits() == q.to_bits());
            assert!(same, "{what}: {x:?} against {y:?}");
        }
        assert_eq!(a.num_params(), b.num_params());
    }
}
