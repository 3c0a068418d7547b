//! Adam's fused step on flex tensors (`tconv::kernels::adam`), for the backend
//! extension's `tconv_adam`.

use burn::backend::tensor::FloatTensor;
use burn::backend::{ExtensionType, Flex};
use burn::tensor::TensorData;
use burn_flex::FlexTensor;
use tconv::kernels::adam::{self, AdamStep};

use super::backend::MaybeTensor;
use super::flex::Dense;

/// What one fused Adam step gives: the new parameter and moments.
#[derive(ExtensionType)]
pub struct AdamUpdate<B: burn::backend::Backend> {
    pub param: FloatTensor<B>,
    pub moment_1: FloatTensor<B>,
    pub moment_2: FloatTensor<B>,
}

/// One step of `param` with `grad` from the last step's moments (absent before the first).
pub(super) fn update(
    param: FlexTensor,
    grad: FlexTensor,
    moment_1: MaybeTensor<Flex>,
    moment_2: MaybeTensor<Flex>,
    step: AdamStep,
) -> AdamUpdate<Flex> {
    let (param, grad) = (Dense::new(param), Dense::new(grad));
    let moments = moment_1.into_option().zip(moment_2.into_option());
    let moments = moments.map(|(m1, m2)| (Dense::new(m1), Dense::new(m2)));
    let old = moments.as_ref().map(|(m1, m2)| (m1.slice(), m2.slice()));
    let out = adam::step(&step, param.slice(), grad.slice(), old);
    let tensor = |values| FlexTensor::from_data(TensorData::new(values, param.dims.clone()));
    AdamUpdate {
        param: tensor(out.param),
        moment_1: tensor(out.moment_1),
        moment_2: tensor(out.moment_2),
    }
}
