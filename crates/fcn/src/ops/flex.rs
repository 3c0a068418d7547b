//! Between flex tensors and the slices and ndarray views `tconv` takes.

use burn::backend::TensorMetadata;
use burn::tensor::{DType, TensorData};
use burn_flex::FlexTensor;
use ndarray::{Array1, Array4, ArrayView1, ArrayView4};

/// A flex tensor as f32 values in row-major order (no copy when it already is).
pub(super) struct Dense {
    tensor: FlexTensor,
    pub(super) dims: Vec<usize>,
}

impl Dense {
    pub(super) fn new(t: FlexTensor) -> Self {
        let t = if t.dtype() == DType::F32 {
            t
        } else {
            FlexTensor::from_data(t.into_data().convert::<f32>())
        };
        let dims = t.shape().to_vec();
        let tensor = if t.is_contiguous() {
            t
        } else {
            t.to_contiguous()
        };
        Self { tensor, dims }
    }

    /// The storage holding the values, which cannot change while this reference
    /// lives (flex copies on write): the caller's own tensor's when `new` had to
    /// convert or copy nothing.
    pub(super) fn owner(&self) -> tconv::WeightOwner {
        self.tensor.data_arc()
    }

    pub(super) fn slice(&self) -> &[f32] {
        self.tensor
            .as_slice::<f32>()
            .expect("a contiguous f32 tensor has a slice")
    }

    pub(super) fn dim4(&self) -> (usize, usize, usize, usize) {
        match self.dims[..] {
            [n, c, h, w] => (n, c, h, w),
            _ => panic!("a convolution takes 4-D tensors, got shape {:?}", self.dims),
        }
    }

    pub(super) fn view4(&self) -> ArrayView4<'_, f32> {
        ArrayView4::from_shape(self.dim4(), self.slice()).expect("the shape matches the values")
    }

    pub(super) fn view1(&self) -> ArrayView1<'_, f32> {
        ArrayView1::from(self.slice())
    }
}

/// An integer tensor's values as `i64`, row-major.
pub(super) fn int_values(t: FlexTensor) -> Vec<i64> {
    t.into_data()
        .convert::<i64>()
        .try_into_vec::<i64>()
        .expect("an integer tensor converts to i64 values")
}

pub(super) fn flex4(a: Array4<f32>) -> FlexTensor {
    let shape = a.shape().to_vec();
    let (values, _) = a.into_raw_vec_and_offset();
    FlexTensor::from_data(TensorData::new(values, shape))
}

pub(super) fn flex1(a: Array1<f32>) -> FlexTensor {
    let n = a.len();
    FlexTensor::from_data(TensorData::new(a.to_vec(), [n]))
}
