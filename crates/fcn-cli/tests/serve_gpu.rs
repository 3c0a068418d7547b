//! `fcn serve --device gpu` over real HTTP on loopback when the GPU runs out of
//! memory: the request gets a 503 naming the image and what to shrink, the server
//! stays up and answers the next image. Runs with `FCN_TEST_DEVICE=gpu` in a build
//! with `--features gpu` (CI: Mesa's lavapipe, where a 4096×4096 image on a
//! full-width ResNet-18 fails an allocation of 448 MiB).

mod common;
#[path = "common/server.rs"]
mod server;

use std::time::Duration;

use common::{fcn, s, text, tmp};
use reqwest::blocking::Client;
use server::{Server, picture, png_bytes};

fn on_gpu() -> bool {
    match std::env::var("FCN_TEST_DEVICE").as_deref() {
        Ok("gpu") => true,
        _ => {
            eprintln!("on the CPU: nothing to test (FCN_TEST_DEVICE=gpu runs it)");
            false
        }
    }
}

/// A width-64 FCN (the default network) trained for one step on the CPU: only its
/// size matters here.
fn full_width_weights(dir: &std::path::Path) -> std::path::PathBuf {
    let (data, run) = (dir.join("data"), dir.join("run"));
    let o = fcn(&["synth", "--out", s(&data), "--n", "4", "--size", "64x64"]);
    assert!(o.status.success(), "{:?}", text(&o));
    let o = fcn(&[
        "train",
        "--data",
        s(&data),
        "--out",
        s(&run),
        "--epochs",
        "1",
        "--batch-size",
        "4",
        "--crop",
        "64x64",
        "--device",
        "cpu",
    ]);
    assert!(o.status.success(), "{:?}", text(&o));
    run.join("model.safetensors")
}

#[test]
fn running_out_of_gpu_memory_answers_503_and_the_server_goes_on() {
    if !on_gpu() {
        return;
    }
    let dir = tmp("serve-gpu-oom");
    let weights = full_width_weights(&dir);
    // One tile for the whole image, so the network sees all of its 4096×4096.
    let server = Server::start(&weights, &["--device", "gpu", "--tile", "4096"]);
    let client = Client::builder()
        .timeout(Duration::from_secs(600))
        .build()
        .unwrap();
    let post = |body: Vec<u8>| {
        client
            .post(server.at("/v1/segment"))
            .header("content-type", "image/png")
            .body(body)
            .send()
            .expect("the server answers")
    };
    // A flat image: only its size matters, and textured it would near the 16 MiB body limit.
    let r = post(png_bytes(&image::RgbImage::new(4096, 4096)));
    let status = r.status().as_u16();
    let body: serde_json::Value = r.json().expect("a JSON error body");
    let message = body["error"].as_str().unwrap_or_default();
    assert_eq!(status, 503, "{body}");
    assert!(
        message.starts_with(
            "the GPU ran out of memory segmenting an image of 4096×4096 (an allocation of"
        ) && message.contains(
            "MiB failed): send a smaller image, or start the server with a smaller --tile"
        ),
        "{message}"
    );
    let r = post(png_bytes(&picture(96, 128)));
    assert_eq!(r.status().as_u16(), 200, "{:?}", server.log());
    assert_eq!(r.headers()["content-type"], "image/png");
    let log = server.log();
    assert!(!log.iter().any(|l| l.contains("panicked")), "{log:?}");
    assert!(
        log.iter().any(|l| l.contains("POST /v1/segment 503")),
        "{log:?}"
    );
}
