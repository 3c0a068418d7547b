//! [`FcnNet`], the network as a Burn module, and [`Fcn`], the model a user holds:
//! the network, its device and what it needs to be used (classes, normalisation).

use std::path::Path;

use burn::module::Module;
use burn::tensor::{Device, Tensor};
use image::RgbImage;
use ndarray::{Array2, Array4, ArrayView4, s};

pub use super::config::{
    Arch, FcnConfig, IMAGENET_MEAN, IMAGENET_STD, INPUT_MULTIPLE, MAX_CLASSES, MAX_WIDTH,
    VOC_CLASSES,
};
use super::head::FcnHead;
use super::layers::tensor;
use super::resnet::ResNet;
use super::tv_head::TvHead;
use crate::error::{FcnError, Result};
use crate::ops::Kernels;
use crate::state::{StateDict, StateReader};
use crate::weights::{self, WeightFile, WeightFormat};

/// The network: backbone, then head, and the kernels it runs on.
#[derive(Module, Debug)]
pub struct FcnNet {
    pub backbone: ResNet,
    pub head: Head,
    /// Not a parameter: which kernels this network runs (`tconv`'s by default).
    #[module(skip)]
    pub kernels: Kernels,
}

impl FcnNet {
    /// A fresh network for `config` (see [`Fcn::new`]). Parameters are initialised
    /// lazily, when first used: building one only to load weights into it costs
    /// nothing for the weights it replaces.
    /// Call [`FcnConfig::validate`] first for a configuration a user gave.
    pub fn init(config: &FcnConfig, device: &Device) -> Self {
        let c = config;
        let backbone = ResNet::init(c.depth, c.width, c.output_stride, device);
        let channels = backbone.channels();
        let head = match c.arch {
            Arch::Torchvision => Head::Torchvision(TvHead::init(
                [channels[1], channels[2]],
                c.num_classes,
                c.aux,
                device,
            )),
            arch => Head::Textbook(FcnHead::init(arch, channels, c.num_classes, device)),
        };
        Self {
            backbone,
            head,
            kernels: Kernels::default(),
        }
    }

    /// Logits `[N, num_classes, H, W]` for a normalised batch `[N, 3, H, W]` whose sides
    /// are multiples of 32 (other sizes give a map of 32 × ⌈side / 32⌉-ish; use
    /// [`Fcn::logits`], which pads and crops).
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        self.forward_with_aux(x, false).0
    }

    /// [`FcnNet::forward`], and the auxiliary head's logits too when `with_aux` and
    /// the network has one (torchvision's, for its training loss).
    pub fn forward_with_aux(&self, x: Tensor<4>, with_aux: bool) -> (Tensor<4>, Option<Tensor<4>>) {
        let k = self.kernels();
        let [_, _, h, w] = x.dims();
        let features = self.backbone.features(x, k);
        match &self.head {
            Head::Textbook(head) => (head.forward(features, k), None),
            Head::Torchvision(head) => head.forward(features, [h, w], with_aux, k),
        }
    }

    /// The kernels this network runs.
    pub fn kernels(&self) -> Kernels {
        self.kernels
    }

    /// This network, running `kernels` from now on.
    pub fn with_kernels(mut self, kernels: Kernels) -> Self {
        self.kernels = kernels;
        self
    }

    /// All parameters and BatchNorm statistics under PyTorch's key names: the
    /// textbook's `nn.Sequential` ones, or torchvision's for its head.
    pub fn state_dict(&self) -> StateDict {
        self.pytorch_names(super::names::state_dict(self))
    }

    /// The gradients in `grads` of this network's parameters, under the keys
    /// [`FcnNet::state_dict`] uses.
    pub fn gradients(&self, grads: &burn::tensor::Gradients) -> StateDict {
        self.pytorch_names(super::names::gradients(self, grads))
    }

    fn pytorch_names(&self, dict: StateDict) -> StateDict {
        match self.head {
            Head::Textbook(_) => dict,
            Head::Torchvision(_) => weights::to_torchvision_fcn(dict),
        }
    }
}

/// Which head a network has. (One per network, so the variants' different sizes
/// cost nothing worth boxing for.)
#[derive(Module, Debug)]
#[allow(clippy::large_enum_variant)]
pub enum Head {
    Textbook(FcnHead),
    Torchvision(TvHead),
}

impl Head {
    /// The textbook head, if this is one.
    pub fn textbook(&self) -> Option<&FcnHead> {
        match self {
            Head::Textbook(h) => Some(h),
            Head::Torchvision(_) => None,
        }
    }

    pub fn num_classes(&self) -> usize {
        match self {
            Head::Textbook(h) => h.num_classes(),
            Head::Torchvision(h) => h.num_classes(),
        }
    }

    /// The head with its upsampling layers frozen (torchvision's interpolation has
    /// no parameters to freeze).
    pub fn freeze_upsampling(self) -> Self {
        match self {
            Head::Textbook(h) => Head::Textbook(h.freeze_upsampling()),
            head => head,
        }
    }
}

/// Where a loaded model came from.
#[derive(Debug, Clone)]
pub struct LoadReport {
    pub format: WeightFormat,
    pub dtype: String,
    /// Keys present in the file that carry nothing the model uses (`fc.*`,
    /// `num_batches_tracked`).
    pub ignored_keys: Vec<String>,
}

/// A segmentation model ready to use.
#[derive(Debug)]
pub struct Fcn {
    pub net: FcnNet,
    pub meta: FcnConfig,
    pub device: Device,
    /// Set when the model was read from a file.
    pub origin: Option<LoadReport>,
}

impl Fcn {
    /// A freshly initialised model: random backbone, Xavier-uniform class convolution,
    /// bilinear upsampling.
    ///
    /// Call [`FcnConfig::validate`] first for a configuration a user gave, and
    /// `device.seed(s)` for weights that repeat from run to run.
    pub fn new(config: &FcnConfig, device: &Device) -> Self {
        Self::from_net(FcnNet::init(config, device), config.clone(), device)
    }

    /// A model of `net` (trained or being trained) with its description.
    pub fn from_net(net: FcnNet, meta: FcnConfig, device: &Device) -> Self {
        Self {
            net,
            meta,
            device: device.clone(),
            origin: None,
        }
    }

    /// This model, running `kernels` from now on (mixed precision, for one: see
    /// [`crate::precision::Precision::kernels`]).
    pub fn with_kernels(mut self, kernels: Kernels) -> Self {
        self.net = self.net.with_kernels(kernels);
        self
    }

    /// Loads any supported weight file (see [`crate::weights`]). A torchvision ResNet-18
    /// fills the backbone and leaves a fresh head for VOC's 21 classes; use
    /// [`Fcn::load_with`] to choose the classes.
    pub fn load(path: impl AsRef<Path>, device: &Device) -> Result<Self> {
        Self::load_with(path, &FcnConfig::default(), device)
    }

    /// As [`Fcn::load`]; `config` describes the head to create when the file holds a
    /// backbone only, and the metadata of files that carry none.
    pub fn load_with(path: impl AsRef<Path>, config: &FcnConfig, device: &Device) -> Result<Self> {
        let path = path.as_ref();
        let loaded = weights::read(path)?;
        let backbone_only = loaded.format == WeightFormat::TorchvisionResNet;
        Self::from_loaded(path, loaded, config, backbone_only, device)
    }

    /// The backbone of any weight file that [`Fcn::load`] reads (an ImageNet ResNet,
    /// torchvision's COCO-trained FCN, an earlier run's model) with a fresh head as
    /// `config` describes it: the start of fine-tuning on other classes.
    pub fn load_backbone(
        path: impl AsRef<Path>,
        config: &FcnConfig,
        device: &Device,
    ) -> Result<Self> {
        let path = path.as_ref();
        let loaded = weights::read(path)?;
        Self::from_loaded(path, loaded, config, true, device)
    }

    /// A whole model from any weight file, for `config.num_classes` classes even
    /// when the file has another count: every tensor whose shape fits is kept; the
    /// class-dependent ones (the class scores and the upsampling after them) start
    /// afresh as a new network's do (transposed convolutions bilinear). Returns the
    /// model and the keys started afresh (none when the counts agree).
    pub fn load_for_classes(
        path: impl AsRef<Path>,
        config: &FcnConfig,
        device: &Device,
    ) -> Result<(Self, Vec<String>)> {
        let path = path.as_ref();
        let loaded = weights::read(path)?;
        if loaded.format == WeightFormat::TorchvisionResNet {
            return Self::from_loaded(path, loaded, config, true, device).map(|m| (m, vec![]));
        }
        Self::from_loaded_for(path, loaded, config, Some(config.num_classes), device)
    }

    fn from_loaded(
        path: &Path,
        loaded: WeightFile,
        config: &FcnConfig,
        backbone_only: bool,
        device: &Device,
    ) -> Result<Self> {
        if backbone_only {
            return Self::read_into(path, &loaded, config, true, Vec::new(), device);
        }
        Self::from_loaded_for(path, loaded, config, None, device).map(|(m, _)| m)
    }

    /// The whole model of `loaded`, retargeted to `classes` when given.
    fn from_loaded_for(
        path: &Path,
        loaded: WeightFile,
        config: &FcnConfig,
        classes: Option<usize>,
        device: &Device,
    ) -> Result<(Self, Vec<String>)> {
        let mut meta = super::detect::config_of(path, &loaded, config, false)?;
        let mut fresh = Vec::new();
        if let Some(k) = classes.filter(|&k| k != meta.num_classes) {
            meta = meta.with_num_classes(k);
            if config.class_names.len() == k {
                meta.class_names = config.class_names.clone();
            }
            meta.validate()?;
            let shapes: std::collections::BTreeMap<String, Vec<usize>> =
                super::names::layout(&FcnNet::init(&meta, device))
                    .into_iter()
                    .collect();
            fresh = (loaded.state.tensors.iter())
                .filter(|(key, t)| shapes.get(*key).is_some_and(|s| *s != t.shape))
                .map(|(key, _)| key.clone())
                .collect();
        }
        let model = Self::read_into(path, &loaded, &meta, false, fresh.clone(), device)?;
        Ok((model, fresh))
    }

    /// A network for `meta` with the file's tensors, except the `fresh` keys.
    fn read_into(
        path: &Path,
        loaded: &WeightFile,
        meta: &FcnConfig,
        backbone_only: bool,
        fresh: Vec<String>,
        device: &Device,
    ) -> Result<Self> {
        let meta = if backbone_only {
            super::detect::config_of(path, loaded, meta, true)?
        } else {
            meta.clone()
        };
        let source = path.display().to_string();
        let mut reader = StateReader::new(&source, &loaded.state).leaving_fresh(fresh);
        let net = super::names::load(FcnNet::init(&meta, device), &mut reader, backbone_only);
        // Backbone keys start with the textbook's stage index; the rest is a head.
        let is_head = |k: &str| !k.starts_with(|c: char| c.is_ascii_digit());
        let mut ignored = reader
            .finish(|k| backbone_only && is_head(k))
            .map_err(|e| match e {
                FcnError::Weights { path, message } => FcnError::Weights {
                    path,
                    message: format!("read as {}: {message}", meta.describe()),
                },
                other => other,
            })?;
        ignored.extend(loaded.integer_keys.iter().cloned());
        ignored.sort();
        Ok(Self {
            net,
            meta,
            device: device.clone(),
            origin: Some(LoadReport {
                format: loaded.format,
                dtype: loaded.dtype.clone(),
                ignored_keys: ignored,
            }),
        })
    }

    /// As [`Fcn::load`], for commands that use the model as it is (`eval`, `segment`,
    /// `export`): a backbone-only file is refused, since its head would be random.
    pub fn load_trained(path: impl AsRef<Path>, device: &Device) -> Result<Self> {
        Self::load_trained_with(path, &FcnConfig::default(), device)
    }

    /// As [`Fcn::load_trained`], with [`Fcn::load_with`]'s `config`.
    pub fn load_trained_with(
        path: impl AsRef<Path>,
        config: &FcnConfig,
        device: &Device,
    ) -> Result<Self> {
        let path = path.as_ref();
        let model = Self::load_with(path, config, device)?;
        if model.origin.as_ref().map(|o| o.format) == Some(WeightFormat::TorchvisionResNet) {
            return Err(FcnError::weights(
                path,
                "a backbone only (missing keys: final_conv.weight, final_conv.bias, \
                 transpose_conv.weight, transpose_conv.bias): it is a starting point for \
                 `fcn train --backbone`, not a segmentation model",
            ));
        }
        Ok(model)
    }

    /// Saves the model as a safetensors checkpoint with the textbook's key names and
    /// this model's metadata; PyTorch loads it with
    /// `net.load_state_dict(safetensors.torch.load_file(path))`.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let metadata = self.meta.to_metadata();
        weights::write_safetensors(path.as_ref(), &self.net.state_dict(), metadata)
    }

    pub fn num_classes(&self) -> usize {
        self.net.head.num_classes()
    }

    /// Number of trainable values (BatchNorm running statistics excluded).
    pub fn num_params(&self) -> usize {
        // Shapes only: no tensor is copied out to be counted.
        super::names::layout(&self.net)
            .iter()
            .filter(|(k, _)| !k.ends_with(".running_mean") && !k.ends_with(".running_var"))
            .map(|(_, shape)| shape.iter().product::<usize>())
            .sum()
    }

    /// Logits `[N, num_classes, H, W]` for a normalised batch `[N, 3, H, W]` of any size:
    /// sides that are not multiples of 32 are padded with zeros (the mean colour after
    /// normalisation) at the bottom and right, and the logits cropped back.
    pub fn logits(&self, input: ArrayView4<f32>) -> Result<Array4<f32>> {
        let (n, c, h, w) = input.dim();
        if c != 3 {
            return Err(FcnError::Input(format!(
                "expected 3 input channels, got {c} (shape {:?})",
                input.dim()
            )));
        }
        if n == 0 || h == 0 || w == 0 {
            return Err(FcnError::Input(format!(
                "empty input of shape {:?}",
                input.dim()
            )));
        }
        let m = self.meta.input_multiple();
        let (ph, pw) = (h.div_ceil(m) * m, w.div_ceil(m) * m);
        let x = tensor(padded_input(input, ph, pw), [n, 3, ph, pw], &self.device);
        let k = self.num_classes();
        // Taken, not copied, out of the output tensor, and cropped only if padded:
        // the logits are the largest array of an inference (21×320×480 floats).
        let values = self
            .net
            .forward(x)
            .into_data()
            .try_into_vec_as::<f32>()
            .map_err(|e| FcnError::Device {
                during: "reading the logits".into(),
                detail: format!("{e:?}"),
            })?;
        let full = Array4::from_shape_vec((n, k, ph, pw), values)
            .map_err(|e| FcnError::Input(format!("unexpected output shape: {e}")))?;
        if (ph, pw) == (h, w) {
            return Ok(full);
        }
        Ok(full.slice(s![.., .., ..h, ..w]).to_owned())
    }

    /// The class of every pixel of an RGB image (normalisation included; large
    /// images run tiled, as [`crate::infer::predict`] does with its default tiles).
    pub fn predict(&self, image: &RgbImage) -> Result<Array2<u8>> {
        crate::infer::predict(self, image, crate::infer::TileOptions::default())
    }

    /// The softmax probabilities `[classes, H, W]` of an RGB image (tiled as
    /// [`Fcn::predict`]); their per-pixel argmax is `predict`'s mask.
    pub fn probabilities(&self, image: &RgbImage) -> Result<ndarray::Array3<f32>> {
        crate::infer::probabilities(self, image, crate::infer::TileOptions::default())
    }

    /// `[1, 3, H, W]`, scaled to [0, 1] then normalised with the model's mean and std.
    pub fn normalize(&self, image: &RgbImage) -> Array4<f32> {
        let (w, h) = image.dimensions();
        let plane = w as usize * h as usize;
        // Every byte value's normalised value, by the formula as written, per channel.
        let table: [[f32; 256]; 3] = std::array::from_fn(|c| {
            std::array::from_fn(|v| (v as f32 / 255.0 - self.meta.mean[c]) / self.meta.std[c])
        });
        let mut x = vec![0.0f32; 3 * plane];
        let (r, rest) = x.split_at_mut(plane);
        let (g, b) = rest.split_at_mut(plane);
        for (((p, r), g), b) in image.pixels().zip(r).zip(g).zip(b) {
            (*r, *g, *b) = (
                table[0][p[0] as usize],
                table[1][p[1] as usize],
                table[2][p[2] as usize],
            );
        }
        Array4::from_shape_vec((1, 3, h as usize, w as usize), x).expect("3 planes of h × w")
    }
}

/// Per pixel, the index of the largest logit (`[classes, H, W]` → `[H, W]`).
pub fn argmax_classes(logits: &ndarray::Array3<f32>) -> Array2<u8> {
    let (k, h, w) = logits.dim();
    let plane = h * w;
    if k == 0 || plane == 0 {
        return Array2::zeros((h, w));
    }
    let logits = logits.as_standard_layout();
    let planes = logits.as_slice().expect("standard layout");
    // Plane by plane, so the comparisons vectorise; `>` keeps the first of equal maxima.
    let mut top = planes[..plane].to_vec();
    let mut best = vec![0u8; plane];
    for (c, scores) in planes.chunks_exact(plane).enumerate().skip(1) {
        let class = c.min(u8::MAX as usize) as u8;
        for ((b, t), &v) in best.iter_mut().zip(top.iter_mut()).zip(scores) {
            if v > *t {
                (*b, *t) = (class, v);
            }
        }
    }
    Array2::from_shape_vec((h, w), best).expect("h × w labels")
}

/// `input`'s values, laid out as `[N, 3, ph, pw]` with zeros below and to the right.
fn padded_input(input: ArrayView4<f32>, ph: usize, pw: usize) -> Vec<f32> {
    let (n, c, h, w) = input.dim();
    if (ph, pw) == (h, w) {
        return input
            .as_standard_layout()
            .into_owned()
            .into_raw_vec_and_offset()
            .0;
    }
    let mut padded = Array4::<f32>::zeros((n, c, ph, pw));
    padded.slice_mut(s![.., .., ..h, ..w]).assign(&input);
    padded.into_raw_vec_and_offset().0
}

#[cfg(test)]
mod tests;
