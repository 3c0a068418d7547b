//! Weight files in and out.
//!
//! In: a torchvision ResNet-18/34/50/101 `state_dict` (`.pth`, as torchvision
//! downloads it for ImageNet), torchvision's own FCN (`fcn_resnet50_coco-….pth`:
//! `backbone.*`, `classifier.*`, `aux_classifier.*`), a whole FCN `state_dict` saved
//! by the textbook's PyTorch code (`.pth`, `nn.Sequential` key names,
//! float32/float16/bfloat16/float64), or this project's own checkpoints. The format
//! is detected from the file's bytes and keys, not its name. Inside, every backbone
//! key is the textbook's (`0.weight`, `4.0.conv1.weight`, …).
//!
//! Out: one format serves as both the native checkpoint and the PyTorch export: a
//! safetensors file with the textbook's key names (so PyTorch's
//! `net.load_state_dict(safetensors.torch.load_file(path))` takes it as is) and a small
//! metadata header (format version, number of classes, width, class names,
//! normalisation); a torchvision-head model keeps torchvision's key names, so
//! `fcn_resnet50(...).load_state_dict(...)` takes it. It is written to a temporary file and renamed, so a crash never
//! leaves half a checkpoint.

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

use burn::store::pytorch_reader::{DType, PytorchReader};
use safetensors::tensor::{Dtype, SafeTensors, TensorView};

use crate::error::{FcnError, Result};
use crate::state::{NamedTensor, StateDict};

mod torchvision;

use torchvision::rename_torchvision;
pub use torchvision::to_torchvision_fcn;

/// The kinds of weight file [`read`] recognises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WeightFormat {
    /// torchvision's ResNet `state_dict` (`conv1.weight`, `layer1.0.…`, `fc.…`): a
    /// backbone only.
    TorchvisionResNet,
    /// torchvision's `FCN` (`backbone.conv1.weight`, …, `classifier.4.weight`).
    TorchvisionFcn,
    /// A whole FCN `state_dict` from the textbook's PyTorch code (`0.weight`, …,
    /// `final_conv.…`, `transpose_conv.…`).
    TextbookFcn,
    /// This project's safetensors checkpoint (textbook key names plus metadata).
    Native,
}

impl std::fmt::Display for WeightFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::TorchvisionResNet => "PyTorch torchvision ResNet state_dict (backbone only)",
            Self::TorchvisionFcn => "PyTorch torchvision FCN state_dict",
            Self::TextbookFcn => "PyTorch FCN state_dict (textbook nn.Sequential names)",
            Self::Native => "fcn safetensors checkpoint",
        })
    }
}

/// What a weight file held.
#[derive(Debug, Clone)]
pub struct WeightFile {
    pub format: WeightFormat,
    /// Float tensors, with keys renamed to the textbook's names.
    pub state: StateDict,
    /// The file's source dtype, e.g. "float16".
    pub dtype: String,
    /// Keys of non-float tensors (such as `num_batches_tracked`), which carry no weights.
    pub integer_keys: Vec<String>,
    /// The safetensors metadata, for native checkpoints.
    pub metadata: HashMap<String, String>,
}

/// The metadata key that marks a native checkpoint, and its current version.
pub const FORMAT_KEY: &str = "fcn_format_version";
pub const FORMAT_VERSION: &str = "1";

/// How a file's first bytes and length say it is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Container {
    /// safetensors: a little-endian header length, then that many bytes of JSON.
    Safetensors,
    /// A zip archive (`torch.save` since PyTorch 1.6).
    Zip,
    /// A legacy `torch.save` pickle stream (protocol 2 to 5).
    Pickle,
}

/// Tells the container from the file's structure, never from one byte: a
/// safetensors header length is a multiple of 8 and may well start with 0x80, the
/// pickle protocol opcode. `head` is the file's first bytes (at least 9 when the
/// file has them) and `len` its length.
pub fn detect(head: &[u8], len: u64) -> Option<Container> {
    if let Some(n) = head.get(..8) {
        let n = u64::from_le_bytes(n.try_into().expect("8 bytes"));
        let fits = n.checked_add(8).is_some_and(|end| end <= len);
        if fits && n >= 2 && head.get(8) == Some(&b'{') {
            return Some(Container::Safetensors);
        }
    }
    if head.starts_with(b"PK\x03\x04") {
        return Some(Container::Zip);
    }
    match head {
        [0x80, 2..=5, ..] => Some(Container::Pickle),
        _ => None,
    }
}

/// Reads any supported weight file.
pub fn read(path: &Path) -> Result<WeightFile> {
    let mut head = [0u8; 9];
    let mut file = std::fs::File::open(path).map_err(|e| FcnError::io(path, e))?;
    let len = file.metadata().map_err(|e| FcnError::io(path, e))?.len();
    let got = read_up_to(&mut file, &mut head).map_err(|e| FcnError::io(path, e))?;
    drop(file);
    match detect(&head[..got], len) {
        Some(Container::Safetensors) => read_safetensors(path),
        Some(Container::Zip | Container::Pickle) => read_pytorch(path, len),
        None => Err(FcnError::weights(
            path,
            "not a checkpoint: neither a PyTorch .pth file (zip or pickle) nor safetensors",
        )),
    }
}

fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

fn read_pytorch(path: &Path, file_len: u64) -> Result<WeightFile> {
    let reader = PytorchReader::new(path)
        .map_err(|e| FcnError::weights(path, format!("not a readable PyTorch checkpoint: {e}")))?;
    let mut found = Found::default();
    for (key, t) in reader.tensors() {
        let kind = match t.dtype() {
            DType::F32 => Some(Float::F32),
            DType::F16 => Some(Float::F16),
            DType::BF16 => Some(Float::BF16),
            DType::F64 => Some(Float::F64),
            _ => None,
        };
        let dtype = format!("{:?}", t.dtype()).to_lowercase();
        // The pickle declares the shape: check it fits in the file before reading.
        let declared = byte_len(t.shape(), t.dtype().size());
        if declared.is_none_or(|n| n as u64 > file_len) {
            return Err(FcnError::weights(
                path,
                format!(
                    "tensor {key}: shape {:?} of {dtype} does not fit in a file of {file_len} bytes",
                    t.shape()
                ),
            ));
        }
        let bytes = t
            .read()
            .map_err(|e| FcnError::weights(path, format!("tensor {key}: {e}")))?;
        let native = cfg!(target_endian = "little");
        found.add(
            key.clone(),
            &dtype,
            kind,
            t.shape().to_vec(),
            &bytes,
            native,
        );
    }
    found.finish(path, HashMap::new())
}

/// Bytes of a tensor of `shape` with `element` bytes per value, unless that overflows.
fn byte_len(shape: &[usize], element: usize) -> Option<usize> {
    shape.iter().try_fold(element, |n, &d| n.checked_mul(d))
}

/// Tensors read from a checkpoint, sorted into float weights and other keys.
#[derive(Default)]
struct Found {
    state: StateDict,
    integer_keys: Vec<String>,
    dtypes: std::collections::BTreeSet<String>,
    /// Tensors that cannot be weights: integer weights, non-finite values.
    problems: Vec<String>,
}

impl Found {
    /// Adds one tensor; `kind` is `None` for non-float tensors. Those are kept aside
    /// when they are counters (`num_batches_tracked`) and reported otherwise.
    fn add(
        &mut self,
        key: String,
        dtype: &str,
        kind: Option<Float>,
        shape: Vec<usize>,
        bytes: &[u8],
        le: bool,
    ) {
        let Some(kind) = kind else {
            if key.ends_with("num_batches_tracked") {
                self.integer_keys.push(key);
            } else {
                self.problems
                    .push(format!("{key}: dtype {dtype}; weights must be floats"));
            }
            return;
        };
        let values = decode_floats(bytes, kind, le);
        if values.len() != shape.iter().product::<usize>() {
            self.problems.push(format!(
                "{key}: {} values for shape {shape:?}",
                values.len()
            ));
            return;
        }
        if let Some(problem) = impossible_values(&key, &values) {
            self.problems.push(problem);
        }
        self.dtypes.insert(dtype.to_string());
        self.state.insert(key, NamedTensor::new(shape, values));
    }

    /// Identifies the format (native when the metadata says so, otherwise by key
    /// names) and renames torchvision's keys to the textbook's.
    fn finish(mut self, path: &Path, metadata: HashMap<String, String>) -> Result<WeightFile> {
        if !self.problems.is_empty() {
            return Err(FcnError::weights(path, self.problems.join("; ")));
        }
        self.integer_keys.sort();
        let format = if metadata.contains_key(FORMAT_KEY) {
            WeightFormat::Native
        } else {
            classify(path, &self.state)?
        };
        if format == WeightFormat::TorchvisionResNet
            || self.state.tensors.contains_key("backbone.conv1.weight")
        {
            self.state = rename_torchvision(self.state);
        }
        Ok(WeightFile {
            format,
            state: self.state,
            dtype: self.dtypes.into_iter().collect::<Vec<_>>().join(", "),
            integer_keys: self.integer_keys,
            metadata,
        })
    }
}

/// Why `values` cannot be the tensor `key`: a NaN or infinity anywhere, or a
/// negative BatchNorm running variance.
fn impossible_values(key: &str, values: &[f32]) -> Option<String> {
    if let Some(i) = values.iter().position(|v| !v.is_finite()) {
        return Some(format!(
            "{key}: value {} at index {i} is not finite",
            values[i]
        ));
    }
    if key.ends_with(".running_var")
        && let Some(i) = values.iter().position(|&v| v < 0.0)
    {
        return Some(format!(
            "{key}: negative variance {} at index {i}",
            values[i]
        ));
    }
    None
}

/// The float element types a checkpoint may store.
#[derive(Clone, Copy)]
enum Float {
    F32,
    F16,
    BF16,
    F64,
}

/// Values of `kind` in `bytes` (little- or big-endian) as `f32`.
fn decode_floats(bytes: &[u8], kind: Float, little_endian: bool) -> Vec<f32> {
    fn read<const N: usize>(b: &[u8], le: bool) -> [u8; N] {
        let mut a: [u8; N] = b.try_into().expect("chunks of the element size");
        if !le {
            a.reverse();
        }
        a
    }
    let le = little_endian;
    match kind {
        Float::F32 => bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes(read(b, le)))
            .collect(),
        Float::F16 => bytes
            .chunks_exact(2)
            .map(|b| half::f16::from_le_bytes(read(b, le)).to_f32())
            .collect(),
        Float::BF16 => bytes
            .chunks_exact(2)
            .map(|b| half::bf16::from_le_bytes(read(b, le)).to_f32())
            .collect(),
        Float::F64 => bytes
            .chunks_exact(8)
            .map(|b| f64::from_le_bytes(read(b, le)) as f32)
            .collect(),
    }
}

fn classify(path: &Path, state: &StateDict) -> Result<WeightFormat> {
    let has = |k: &str| state.tensors.contains_key(k);
    if has("conv1.weight") && has("layer4.0.conv1.weight") {
        return Ok(WeightFormat::TorchvisionResNet);
    }
    if has("backbone.conv1.weight") && has("classifier.4.weight") {
        return Ok(WeightFormat::TorchvisionFcn);
    }
    if has("0.weight") && has("final_conv.weight") {
        return Ok(WeightFormat::TextbookFcn);
    }
    let mut keys: Vec<&str> = state.keys().take(8).collect();
    if state.len() > keys.len() {
        keys.push("…");
    }
    Err(FcnError::weights(
        path,
        format!(
            "not a ResNet or FCN state_dict (expected keys such as conv1.weight, \
             backbone.conv1.weight and classifier.4.weight, or 0.weight and \
             final_conv.weight; found {})",
            if keys.is_empty() {
                "none".to_string()
            } else {
                keys.join(", ")
            }
        ),
    ))
}

fn read_safetensors(path: &Path) -> Result<WeightFile> {
    let bytes = std::fs::read(path).map_err(|e| FcnError::io(path, e))?;
    let not = |e: safetensors::SafeTensorError| {
        FcnError::weights(
            path,
            format!("a safetensors header that does not describe its tensors ({e})"),
        )
    };
    let (_, meta) = SafeTensors::read_metadata(&bytes).map_err(not)?;
    let tensors = SafeTensors::deserialize(&bytes).map_err(not)?;
    let metadata = meta.metadata().clone().unwrap_or_default();
    let mut found = Found::default();
    for (key, view) in tensors.tensors() {
        let kind = match view.dtype() {
            Dtype::F32 => Some(Float::F32),
            Dtype::F16 => Some(Float::F16),
            Dtype::BF16 => Some(Float::BF16),
            Dtype::F64 => Some(Float::F64),
            _ => None,
        };
        let dtype = format!("{:?}", view.dtype()).to_lowercase();
        found.add(key, &dtype, kind, view.shape().to_vec(), view.data(), true);
    }
    found.finish(path, metadata)
}

/// Writes `state` (plus a zero `num_batches_tracked` for every BatchNorm, which PyTorch
/// expects) and `metadata` as safetensors, atomically.
pub fn write_safetensors(
    path: &Path,
    state: &StateDict,
    metadata: HashMap<String, String>,
) -> Result<()> {
    let mut owned: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> = state
        .tensors
        .iter()
        .map(|(k, t)| {
            let bytes = t.data.iter().flat_map(|v| v.to_le_bytes()).collect();
            (k.clone(), Dtype::F32, t.shape.clone(), bytes)
        })
        .collect();
    for key in state.keys() {
        if let Some(prefix) = key.strip_suffix(".running_mean") {
            owned.push((
                format!("{prefix}.num_batches_tracked"),
                Dtype::I64,
                vec![],
                0i64.to_le_bytes().to_vec(),
            ));
        }
    }
    let views = owned
        .iter()
        .map(|(k, dtype, shape, bytes)| {
            let view = TensorView::new(*dtype, shape.clone(), bytes)
                .map_err(|e| FcnError::weights(path, format!("tensor {k}: {e}")))?;
            Ok((k.clone(), view))
        })
        .collect::<Result<Vec<_>>>()?;
    let bytes = safetensors::serialize(views, Some(metadata))
        .map_err(|e| FcnError::weights(path, format!("cannot serialise: {e}")))?;
    write_atomically(path, &with_sorted_header(bytes))
}

/// safetensors writes the metadata map in an order that changes from run to run;
/// the header is rewritten with its keys sorted so that the same weights always
/// give the same bytes. (Tensor offsets count from the end of the header, so its
/// length may change.)
fn with_sorted_header(bytes: Vec<u8>) -> Vec<u8> {
    let Some(len) = bytes
        .get(..8)
        .map(|b| u64::from_le_bytes(b.try_into().unwrap()))
    else {
        return bytes;
    };
    let end = 8usize.saturating_add(len as usize);
    // serde_json's maps are sorted (no `preserve_order`).
    let header = bytes
        .get(8..end)
        .map(serde_json::from_slice::<serde_json::Value>);
    let Some(Ok(header)) = header else {
        return bytes;
    };
    let mut text = header.to_string().into_bytes();
    text.resize(text.len().next_multiple_of(8), b' ');
    let mut out = Vec::with_capacity(8 + text.len() + bytes.len() - end);
    out.extend_from_slice(&(text.len() as u64).to_le_bytes());
    out.extend_from_slice(&text);
    out.extend_from_slice(&bytes[end..]);
    out
}

/// Writes `bytes` to a temporary file beside `path`, flushes it to disk, renames it
/// over `path` and flushes the directory, so that after a crash `path` holds either
/// the old or the new contents, and the rename itself survives.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".{}.tmp", std::process::id()));
    let tmp = std::path::PathBuf::from(tmp);
    let write = || -> std::io::Result<()> {
        use std::io::Write;
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        sync_parent(path)
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        FcnError::io(path, e)
    })
}

/// Flushes the directory holding `path`, which makes a rename into it durable.
fn sync_parent(path: &Path) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    #[cfg(unix)]
    std::fs::File::open(dir)?.sync_all()?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}
