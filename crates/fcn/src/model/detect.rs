//! What a weight file's keys and shapes say about the network it holds: head,
//! backbone depth and width, classes, auxiliary head. The structure comes from the
//! tensors (they must fit it); a native checkpoint's metadata adds what tensors
//! cannot say (class names, normalisation, output stride).

use std::collections::BTreeSet;
use std::path::Path;

use super::config::{Arch, FcnConfig, MAX_CLASSES, MAX_WIDTH};
use crate::error::{FcnError, Result};
use crate::state::StateDict;
use crate::weights::{WeightFile, WeightFormat};

/// The configuration of the network in `loaded`; `config` gives the head when
/// only the file's backbone is taken, and the description of files without metadata.
pub(super) fn config_of(
    path: &Path,
    loaded: &WeightFile,
    config: &FcnConfig,
    backbone_only: bool,
) -> Result<FcnConfig> {
    let state = &loaded.state;
    let mut meta = match loaded.format {
        WeightFormat::Native if !backbone_only => FcnConfig::from_metadata(path, &loaded.metadata)?,
        _ => config.clone(),
    };
    meta.width = width_of(path, state)?;
    // Without a third stage the depth stays as described; the reader lists what is missing.
    meta.depth = depth_of(path, state)?.unwrap_or(meta.depth);
    if !backbone_only {
        meta.arch = arch_of(state);
        meta.aux = state.tensors.contains_key("aux_classifier.4.weight");
        let (classes, key) = classes_of(path, state, meta.arch)?;
        if loaded.format == WeightFormat::Native && meta.num_classes != classes {
            return Err(FcnError::weights(
                path,
                format!(
                    "the metadata says {} classes but {key} has {classes}",
                    meta.num_classes
                ),
            ));
        }
        if meta.num_classes != classes {
            meta = meta.with_num_classes(classes);
        }
        meta.output_stride = match loaded.format {
            WeightFormat::Native => meta.output_stride,
            // torchvision builds its FCNs at output stride 8, the textbook at 32.
            WeightFormat::TorchvisionFcn => 8,
            _ => 32,
        };
    }
    meta.validate()
        .map_err(|e| FcnError::weights(path, format!("metadata: {e}")))?;
    Ok(meta)
}

/// The stem's channels, from `0.weight` `[width, 3, 7, 7]`.
fn width_of(path: &Path, state: &StateDict) -> Result<usize> {
    match state.tensors.get("0.weight").map(|t| t.shape.as_slice()) {
        Some(&[w, 3, 7, 7]) if (1..=MAX_WIDTH).contains(&w) => Ok(w),
        Some(other) => Err(FcnError::weights(
            path,
            format!(
                "0.weight: shape {other:?}, expected [width, 3, 7, 7] with width 1..={MAX_WIDTH}"
            ),
        )),
        None => Err(FcnError::weights(path, "missing keys: 0.weight")),
    }
}

/// ResNet's depth, from the blocks of its third stage (`6.N.`; torchvision's
/// `layer3`) and whether they are Bottlenecks (`conv3`); `None` without one.
fn depth_of(path: &Path, state: &StateDict) -> Result<Option<usize>> {
    let blocks: BTreeSet<usize> = state
        .keys()
        .filter_map(|k| k.strip_prefix("6.")?.split('.').next()?.parse().ok())
        .collect();
    let bottleneck = state.tensors.contains_key("4.0.conv3.weight");
    match (blocks.len(), bottleneck) {
        (0, _) => Ok(None),
        (2, false) => Ok(Some(18)),
        (6, false) => Ok(Some(34)),
        (6, true) => Ok(Some(50)),
        (23, true) => Ok(Some(101)),
        (n, b) => Err(FcnError::weights(
            path,
            format!(
                "the third stage (layer3) has {n} {} blocks: not ResNet-18, -34, -50 or -101 \
                 (2, 6 basic; 6, 23 bottleneck)",
                if b { "bottleneck" } else { "basic" }
            ),
        )),
    }
}

/// The head, by its layers' names.
fn arch_of(state: &StateDict) -> Arch {
    let has = |k: &str| state.tensors.contains_key(k);
    if has("classifier.4.weight") {
        Arch::Torchvision
    } else if has("upscore8.weight") {
        Arch::Fcn8s
    } else if has("upscore16.weight") {
        Arch::Fcn16s
    } else {
        Arch::Fcn32s
    }
}

/// The classes the scores convolution makes, and that convolution's key.
fn classes_of(path: &Path, state: &StateDict, arch: Arch) -> Result<(usize, &'static str)> {
    let key = match arch {
        Arch::Torchvision => "classifier.4.weight",
        _ => "final_conv.weight",
    };
    match state.tensors.get(key).map(|t| t.shape.as_slice()) {
        Some(&[c, ..]) if (1..=MAX_CLASSES).contains(&c) => Ok((c, key)),
        Some(other) => Err(FcnError::weights(
            path,
            format!("{key}: shape {other:?} declares more than {MAX_CLASSES} classes or none"),
        )),
        None => Err(FcnError::weights(path, format!("missing keys: {key}"))),
    }
}
