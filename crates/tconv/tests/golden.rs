//! Every case PyTorch computed in `fixtures/conv` (copied from `shared/golden/conv`):
//! forward and all three gradients, through the fast public functions and through
//! the reference, within 1e-4 × max(1, max |expected|).

use std::path::{Path, PathBuf};

use ndarray::{Array1, Array4, ArrayD, Ix1, Ix4};
use ndarray_npy::read_npy;
use serde_json::Value;
use tconv::{Conv2dParams, ConvGrads, ConvTranspose2dParams};

/// The copied cases, or another directory made by `shared/scripts/gen_conv_golden.py`
/// (e.g. its random grid) named by `TCONV_GOLDEN_CONV`.
fn fixtures() -> PathBuf {
    match std::env::var_os("TCONV_GOLDEN_CONV") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/conv"),
    }
}

fn pair(v: &Value) -> [usize; 2] {
    [
        v[0].as_u64().unwrap() as usize,
        v[1].as_u64().unwrap() as usize,
    ]
}

fn load(case: &Value, key: &str) -> Option<ArrayD<f32>> {
    let name = case["files"][key].as_str()?;
    Some(read_npy(fixtures().join(name)).unwrap_or_else(|e| panic!("{name}: {e}")))
}

fn load4(case: &Value, key: &str) -> Array4<f32> {
    load(case, key)
        .unwrap()
        .into_dimensionality::<Ix4>()
        .unwrap()
}

fn load1(case: &Value, key: &str) -> Option<Array1<f32>> {
    load(case, key).map(|a| a.into_dimensionality::<Ix1>().unwrap())
}

fn assert_close<D: ndarray::Dimension>(
    case: &str,
    what: &str,
    got: &ndarray::Array<f32, D>,
    want: &ndarray::Array<f32, D>,
) {
    assert_eq!(got.shape(), want.shape(), "{case}: {what} shape");
    let scale = want.iter().fold(1.0f32, |m, v| m.max(v.abs()));
    let err = got
        .iter()
        .zip(want.iter())
        .fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
    assert!(
        err <= 1e-4 * scale,
        "{case}: {what} max abs error {err} exceeds {}",
        1e-4 * scale
    );
}

struct Outcome {
    output: Array4<f32>,
    grads: ConvGrads,
}

type Runner = dyn Fn(&Value) -> Outcome;

fn cases() -> Vec<Value> {
    let text = std::fs::read_to_string(fixtures().join("cases.json")).unwrap();
    let json: Value = serde_json::from_str(&text).unwrap();
    json["cases"].as_array().unwrap().clone()
}

fn run(case: &Value, fast: bool) -> Outcome {
    let x = load4(case, "input");
    let w = load4(case, "weight");
    let b = load1(case, "bias");
    let gy = load4(case, "grad_output");
    let (stride, padding, dilation) = (
        pair(&case["stride"]),
        pair(&case["padding"]),
        pair(&case["dilation"]),
    );
    let groups = case["groups"].as_u64().unwrap() as usize;
    let bias = b.as_ref().map(|b| b.view());
    if case["op"] == "conv2d" {
        let p = Conv2dParams {
            stride,
            padding,
            dilation,
            groups,
        };
        let (x, w, gy, has_bias) = (x.view(), w.view(), gy.view(), b.is_some());
        if fast {
            Outcome {
                output: tconv::conv2d(x, w, bias, &p).unwrap(),
                grads: tconv::conv2d_backward(x, w, gy, has_bias, &p).unwrap(),
            }
        } else {
            Outcome {
                output: tconv::reference::conv2d(x, w, bias, &p).unwrap(),
                grads: tconv::reference::conv2d_backward(x, w, gy, has_bias, &p).unwrap(),
            }
        }
    } else {
        let p = ConvTranspose2dParams {
            stride,
            padding,
            output_padding: pair(&case["output_padding"]),
            dilation,
            groups,
        };
        let (x, w, gy, has_bias) = (x.view(), w.view(), gy.view(), b.is_some());
        if fast {
            Outcome {
                output: tconv::conv_transpose2d(x, w, bias, &p).unwrap(),
                grads: tconv::conv_transpose2d_backward(x, w, gy, has_bias, &p).unwrap(),
            }
        } else {
            Outcome {
                output: tconv::reference::conv_transpose2d(x, w, bias, &p).unwrap(),
                grads: tconv::reference::conv_transpose2d_backward(x, w, gy, has_bias, &p).unwrap(),
            }
        }
    }
}

fn check_all(runner: &Runner) {
    let cases = cases();
    if std::env::var_os("TCONV_GOLDEN_CONV").is_none() {
        assert_eq!(cases.len(), 21, "the golden set has 21 cases");
    }
    for case in &cases {
        let name = case["name"].as_str().unwrap();
        let got = runner(case);
        assert_close(name, "output", &got.output, &load4(case, "output"));
        assert_close(
            name,
            "grad_input",
            &got.grads.input,
            &load4(case, "grad_input"),
        );
        assert_close(
            name,
            "grad_weight",
            &got.grads.weight,
            &load4(case, "grad_weight"),
        );
        match (got.grads.bias, load1(case, "grad_bias")) {
            (Some(g), Some(want)) => assert_close(name, "grad_bias", &g, &want),
            (None, None) => {}
            (g, want) => panic!("{name}: bias gradient {g:?} vs expected {want:?}"),
        }
    }
}

#[test]
fn fast_kernels_match_pytorch() {
    check_all(&|c| run(c, true));
}

#[test]
fn reference_matches_pytorch() {
    check_all(&|c| run(c, false));
}
