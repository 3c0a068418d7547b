//! Shared by the integration tests.

#![allow(dead_code)]

use std::path::PathBuf;

/// A directory of PyTorch goldens with the files of `shared/golden/fcn`.
pub struct Golden {
    dir: PathBuf,
}

impl Golden {
    /// A file of the set; a missing file fails the test rather than skipping it.
    pub fn path(&self, name: &str) -> PathBuf {
        let path = self.dir.join(name);
        assert!(
            path.exists(),
            "golden file {} is missing (FCN_GOLDEN names shared/golden)",
            path.display()
        );
        path
    }

    /// Whether the set is one committed with the tests (not `$FCN_GOLDEN`'s).
    pub fn is_committed(&self) -> bool {
        self.dir.starts_with(env!("CARGO_MANIFEST_DIR"))
    }

    /// `meta.json`: how the set was made.
    pub fn meta(&self) -> serde_json::Value {
        self.meta_in("meta.json")
    }

    /// How the set was made, from the JSON file `name`.
    pub fn meta_in(&self, name: &str) -> serde_json::Value {
        let text = std::fs::read_to_string(self.path(name)).unwrap();
        serde_json::from_str(&text).unwrap()
    }

    /// The backbone width of the set's models (64 unless its meta says otherwise).
    pub fn width(&self) -> usize {
        self.meta()["width"].as_u64().unwrap_or(64) as usize
    }

    /// The class count of the set's FCN (21 unless its meta says otherwise).
    pub fn num_classes(&self) -> usize {
        self.meta()["num_classes"].as_u64().unwrap_or(21) as usize
    }
}

/// The golden sets to check against: the small one committed in `fixtures/golden_small`
/// (made by `scripts/gen_small_golden.py`), always; and the full-size checkpoints of
/// `$FCN_GOLDEN/fcn` when `FCN_GOLDEN` is set (CI sets it to `../shared/golden`).
pub fn golden_sets() -> Vec<Golden> {
    golden_sets_of("fcn")
}

/// As [`golden_sets`], for the sets in folder `name` (`fcn`, `fcn_skip`).
pub fn golden_sets_of(name: &str) -> Vec<Golden> {
    let mut sets = vec![Golden {
        dir: PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/golden_small")
            .join(name),
    }];
    if let Some(dir) = std::env::var_os("FCN_GOLDEN") {
        sets.push(Golden {
            dir: PathBuf::from(dir).join(name),
        });
    }
    sets
}

/// The small committed set alone, for tests that need any checkpoint.
pub fn small_golden() -> Golden {
    golden_sets().swap_remove(0)
}

/// A file path in this test process's own temporary folder.
pub fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("fcn-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// A small model configuration: `width` channels in the first stage, 3 classes.
pub fn small_config(width: usize) -> fcn::FcnConfig {
    fcn::FcnConfig {
        width,
        ..fcn::FcnConfig::default().with_num_classes(3)
    }
}

/// The device the model tests run on: the CPU, or with `FCN_TEST_DEVICE=gpu` (in a
/// build with the `gpu` feature) the GPU, Mesa's software Vulkan in CI.
pub fn test_device() -> burn::tensor::Device {
    match std::env::var("FCN_TEST_DEVICE").as_deref() {
        Ok("gpu") => {
            let selected = fcn::device::select(fcn::device::DeviceChoice::Gpu)
                .unwrap_or_else(|e| panic!("FCN_TEST_DEVICE=gpu: {e}"));
            eprintln!("test device: {}", selected.description);
            selected.device
        }
        Ok("cpu") | Err(_) => burn::tensor::Device::flex(),
        Ok(other) => panic!("FCN_TEST_DEVICE={other}: expected cpu or gpu"),
    }
}

/// The reduced precisions `device` computes in (the CPU: f16 and bf16; lavapipe:
/// f16 only, its bf16 has no arithmetic), the others named on stderr.
#[allow(dead_code)]
pub fn reduced_precisions(device: &burn::tensor::Device) -> Vec<fcn::precision::Precision> {
    use fcn::precision::Precision;
    let all = [Precision::F16, Precision::Bf16];
    let (ok, not): (Vec<_>, Vec<_>) = all.into_iter().partition(|p| p.check(device).is_ok());
    for p in not {
        eprintln!("{}: not computed by this device, not tested", p.name());
    }
    assert!(
        !ok.is_empty(),
        "the device computes in neither f16 nor bf16"
    );
    ok
}

/// A golden `.npy` array of the set.
pub fn npy(g: &Golden, name: &str) -> ndarray::ArrayD<f32> {
    ndarray_npy::read_npy(g.path(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// A tensor's values as an array of its shape.
pub fn to_array<const D: usize>(t: &burn::tensor::Tensor<D>) -> ndarray::ArrayD<f32> {
    let n = fcn::model::layers::named(t);
    ndarray::ArrayD::from_shape_vec(ndarray::IxDyn(&n.shape), n.data).unwrap()
}

/// max |got − want| ≤ tol × max(1, max |want|).
pub fn assert_close(what: &str, got: &ndarray::ArrayD<f32>, want: &ndarray::ArrayD<f32>, tol: f32) {
    assert_eq!(got.shape(), want.shape(), "{what}: shape");
    let scale = want.iter().fold(1.0f32, |m, v| m.max(v.abs()));
    let err = got
        .iter()
        .zip(want)
        .fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
    assert!(
        err <= tol * scale,
        "{what}: max abs error {err} > {}",
        tol * scale
    );
}
