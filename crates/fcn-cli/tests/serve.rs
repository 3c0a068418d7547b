//! `fcn serve` over real HTTP on loopback: answers equal `fcn segment`'s, every
//! bad request gets a JSON error and leaves the server up, a full queue sheds load
//! with 503, timeouts, abandoned requests, SIGTERM with a request in flight, metrics.

mod common;
#[path = "common/server.rs"]
mod server;

use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use base64::Engine;
use common::{fcn, s, text, tmp};
use reqwest::blocking::{Client, Response, multipart};
use server::{Server, picture, png_bytes, small_weights, voc_image};

fn client() -> Client {
    Client::builder()
        .timeout(Duration::from_secs(120))
        .build()
        .unwrap()
}

fn post(server: &Server, query: &str, content_type: &str, body: Vec<u8>) -> Response {
    client()
        .post(server.at(&format!("/v1/segment{query}")))
        .header("content-type", content_type)
        .body(body)
        .send()
        .expect("the server answers")
}

/// The labels of a palette PNG, read as indices (never expanded to colours).
fn png_indices(bytes: &[u8]) -> (u32, u32, Vec<u8>) {
    let mut decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    decoder.set_transformations(png::Transformations::IDENTITY);
    let mut reader = decoder.read_info().unwrap();
    assert_eq!(reader.info().color_type, png::ColorType::Indexed);
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let frame = reader.next_frame(&mut buf).unwrap();
    buf.truncate(frame.buffer_size());
    (frame.width, frame.height, buf)
}

fn error_of(r: Response) -> (u16, String) {
    let status = r.status().as_u16();
    let body: serde_json::Value = r.json().expect("a JSON error body");
    (
        status,
        body["error"].as_str().expect("an error field").to_owned(),
    )
}

#[test]
fn answers_equal_fcn_segment_in_every_format() {
    let weights = small_weights();
    let image = voc_image();
    let dir = tmp("serve-equal");
    let o = fcn(&[
        "segment",
        s(&image),
        "--weights",
        s(&weights),
        "--out",
        s(&dir),
        "--overlay",
    ]);
    assert!(o.status.success(), "{}", text(&o).1);
    let cli_mask = std::fs::read(dir.join("2011_003271.png")).unwrap();
    let cli_overlay = image::open(dir.join("2011_003271_overlay.png"))
        .unwrap()
        .to_rgb8();

    let server = Server::start(&weights, &["--threads", "2"]);
    let health = client().get(server.at("/healthz")).send().unwrap();
    assert_eq!(health.status(), 200);
    assert_eq!(health.text().unwrap(), "ok");

    let jpeg = std::fs::read(&image).unwrap();
    let r = post(&server, "", "image/jpeg", jpeg.clone());
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "image/png");
    assert!(
        r.headers()["server-timing"]
            .to_str()
            .unwrap()
            .starts_with("infer;dur=")
    );
    let served = r.bytes().unwrap().to_vec();
    assert_eq!(
        png_indices(&served),
        png_indices(&cli_mask),
        "mask differs from fcn segment's"
    );

    let r = post(&server, "?format=overlay", "image/jpeg", jpeg.clone());
    assert_eq!(r.status(), 200);
    let overlay = image::load_from_memory(&r.bytes().unwrap())
        .unwrap()
        .to_rgb8();
    assert!(
        overlay == cli_overlay,
        "overlay differs from fcn segment --overlay"
    );

    // The same image as a multipart form, as a browser's form sends it.
    let form = multipart::Form::new().part(
        "image",
        multipart::Part::bytes(jpeg.clone())
            .file_name("x.jpg")
            .mime_str("image/jpeg")
            .unwrap(),
    );
    let r = client()
        .post(server.at("/v1/segment"))
        .multipart(form)
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(png_indices(&r.bytes().unwrap()), png_indices(&cli_mask));

    let r = post(&server, "?format=json", "image/jpeg", jpeg);
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = r.json().unwrap();
    assert_eq!(
        (v["width"].as_u64(), v["height"].as_u64()),
        (Some(500), Some(375))
    );
    let mask_png = base64::engine::general_purpose::STANDARD
        .decode(v["mask_png_base64"].as_str().unwrap())
        .unwrap();
    let (_, _, labels) = png_indices(&mask_png);
    assert_eq!(png_indices(&mask_png), png_indices(&cli_mask));
    let classes = v["classes"].as_array().unwrap();
    let total: f64 = classes
        .iter()
        .map(|c| c["fraction"].as_f64().unwrap())
        .sum();
    assert!((total - 1.0).abs() < 1e-4, "fractions sum to {total}");
    for c in classes {
        let index = c["index"].as_u64().unwrap() as u8;
        let share = labels.iter().filter(|&&l| l == index).count() as f64 / labels.len() as f64;
        assert!(
            (share - c["fraction"].as_f64().unwrap()).abs() < 1e-5,
            "{c}"
        );
    }

    let model: serde_json::Value = client()
        .get(server.at("/v1/model"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let info = fcn(&["info", s(&weights), "--json"]);
    let info: serde_json::Value = serde_json::from_slice(&info.stdout).unwrap();
    assert_eq!(model["parameters"], info["parameters"]);
    assert_eq!(model["width"], info["width"]);
    let names: Vec<&str> = model["classes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    let expected: Vec<&str> = info["class_names"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect();
    assert_eq!(names, expected);
    assert_eq!(
        model["normalization"]["mean"][0]
            .as_f64()
            .map(|m| (m * 1000.0).round()),
        Some(485.0)
    );

    let metrics = metrics_text(&server);
    assert!(
        metrics.contains("fcn_images_segmented_total 4"),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"fcn_http_requests_total{path="/v1/segment",status="200"} 4"#),
        "{metrics}"
    );
    assert!(
        metrics.contains("fcn_http_request_duration_seconds_bucket"),
        "{metrics}"
    );
    assert!(metrics.contains("fcn_queue_depth 0"), "{metrics}");
    assert!(
        server
            .log()
            .iter()
            .any(|l| l.starts_with("POST /v1/segment 200 500x375 ") && l.ends_with(" ms")),
        "no request line in {:?}",
        server.log()
    );
}

#[test]
fn bad_requests_get_json_errors_and_the_server_stays_up() {
    let server = Server::start(
        &small_weights(),
        &["--max-body-mib", "1", "--max-pixels", "4000000"],
    );
    let jpeg = std::fs::read(voc_image()).unwrap();
    let small_png = png_bytes(&picture(40, 30));

    let cases: Vec<(&str, &str, Vec<u8>, u16, &str)> = vec![
        ("", "image/png", vec![], 400, "empty"),
        (
            "",
            "image/png",
            b"definitely not an image".to_vec(),
            400,
            "not a readable image",
        ),
        (
            "",
            "image/jpeg",
            jpeg[..jpeg.len() / 2].to_vec(),
            400,
            "corrupt or truncated",
        ),
        (
            "",
            "image/png",
            small_png[..small_png.len() - 30].to_vec(),
            400,
            "corrupt or truncated",
        ),
        (
            "",
            "text/plain",
            small_png.clone(),
            415,
            "unsupported content type 'text/plain'",
        ),
        (
            "?format=gif",
            "image/png",
            small_png.clone(),
            400,
            "unknown format 'gif'",
        ),
        (
            "",
            "image/png",
            png_header(2001, 2000),
            413,
            "more than the limit of 4000000",
        ),
        (
            "",
            "image/png",
            vec![0; 1 << 20 | 1],
            413,
            "larger than the limit of 1 MiB",
        ),
        (
            "",
            "multipart/form-data; boundary=XX",
            b"--XX--\r\n".to_vec(),
            400,
            "no field named 'image'",
        ),
    ];
    for (query, content_type, body, status, needle) in cases {
        let (got, message) = error_of(post(&server, query, content_type, body));
        assert_eq!(got, status, "{content_type} {query}: {message}");
        assert!(
            message.contains(needle),
            "expected '{needle}' in '{message}'"
        );
    }
    let r = client().get(server.at("/nowhere")).send().unwrap();
    assert_eq!(error_of(r).0, 404);

    // A header declaring 100000×100000 pixels is refused before any decoding.
    let started = Instant::now();
    let (status, message) = error_of(post(&server, "", "image/png", png_header(100_000, 100_000)));
    assert_eq!(status, 413, "{message}");
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "took {:?}",
        started.elapsed()
    );

    assert_eq!(
        post(&server, "", "image/png", small_png).status(),
        200,
        "the server is still up"
    );
    let metrics = metrics_text(&server);
    assert!(
        metrics.contains(r#"path="/v1/segment",status="413"} 3"#),
        "{metrics}"
    );
    assert!(!metrics.contains(r#"status="500""#), "{metrics}");
}

/// A PNG signature and IHDR chunk declaring `w`×`h` RGB pixels, then the start of an
/// image data chunk (what a hostile or cut-off file looks like to a header reader).
fn png_header(w: u32, h: u32) -> Vec<u8> {
    let mut ihdr = b"IHDR".to_vec();
    ihdr.extend(w.to_be_bytes());
    ihdr.extend(h.to_be_bytes());
    ihdr.extend([8, 2, 0, 0, 0]);
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    out.extend(13u32.to_be_bytes());
    out.extend(&ihdr);
    out.extend(crc32(&ihdr).to_be_bytes());
    out.extend(1000u32.to_be_bytes());
    out.extend(b"IDAT\x78\x9c");
    out
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// Settings under which one request of [`slow_image`] takes seconds (about 2.5 s on
/// the 2-core developers' machine, against the 1 s timeout of the tests): tiles
/// of 32 pixels make one network call for every 28×28 pixels.
const SLOW: [&str; 2] = ["--tile", "32"];

fn slow_image() -> Vec<u8> {
    png_bytes(&picture(1200, 1200))
}

fn concurrently(n: usize, send: impl Fn() -> Response + Sync) -> Vec<(u16, Option<String>)> {
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..n)
            .map(|_| {
                scope.spawn(|| {
                    let r = send();
                    let retry = r
                        .headers()
                        .get("retry-after")
                        .map(|v| v.to_str().unwrap().to_owned());
                    (r.status().as_u16(), retry)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

#[test]
fn a_full_queue_sheds_load_with_503_and_retry_after() {
    let mut args = vec!["--threads", "1", "--queue", "1"];
    args.extend(SLOW);
    let server = Server::start(&small_weights(), &args);
    let image = slow_image();
    let answers = concurrently(6, || post(&server, "", "image/png", image.clone()));
    let ok = answers.iter().filter(|(s, _)| *s == 200).count();
    let busy: Vec<_> = answers.iter().filter(|(s, _)| *s == 503).collect();
    assert!((1..=2).contains(&ok), "{answers:?}");
    assert_eq!(ok + busy.len(), 6, "only 200 or 503: {answers:?}");
    for (_, retry) in busy {
        let secs: u64 = retry
            .as_deref()
            .expect("Retry-After on a 503")
            .parse()
            .unwrap();
        assert!(secs >= 1);
    }
    let metrics = metrics_text(&server);
    assert!(metrics.contains(r#"status="503""#), "{metrics}");
}

#[test]
fn slow_requests_time_out_with_504_and_abandoned_ones_free_their_place() {
    let mut args = vec!["--threads", "1", "--queue", "1", "--timeout-s", "1"];
    args.extend(SLOW);
    let server = Server::start(&small_weights(), &args);
    let image = slow_image();

    // One runs, and a second waits for it: the one waiting runs out of time.
    let answers = concurrently(2, || post(&server, "", "image/png", image.clone()));
    assert!(answers.iter().any(|(s, _)| *s == 504), "{answers:?}");
    assert!(
        answers.iter().all(|(s, _)| [200, 504].contains(s)),
        "{answers:?}"
    );
    wait_until_idle(&server);

    // A client that sends its request and hangs up while queued leaves the queue.
    let server = Server::start(
        &small_weights(),
        &["--threads", "1", "--queue", "1", "--tile", "32"],
    );
    std::thread::scope(|scope| {
        let running = scope.spawn(|| post(&server, "", "image/png", image.clone()).status());
        wait_for_metric(&server, "fcn_inference_in_flight 1");
        let mut gone = TcpStream::connect(server.url.trim_start_matches("http://")).unwrap();
        let small = png_bytes(&picture(40, 30));
        write!(
            gone,
            "POST /v1/segment HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: {}\r\n\r\n",
            small.len()
        )
        .unwrap();
        gone.write_all(&small).unwrap();
        wait_for_metric(&server, "fcn_queue_depth 1");
        drop(gone);
        wait_for_metric(&server, "fcn_queue_depth 0");
        // Its place is free again: the next request is queued, not refused.
        let next = post(&server, "", "image/png", small.clone());
        assert_eq!(next.status(), 200);
        assert_eq!(running.join().unwrap(), 200);
    });
}

fn metrics_text(server: &Server) -> String {
    client()
        .get(server.at("/metrics"))
        .send()
        .unwrap()
        .text()
        .unwrap()
}

fn wait_for_metric(server: &Server, line: &str) {
    let start = Instant::now();
    while !metrics_text(server).lines().any(|l| l == line) {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "never saw '{line}'"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn wait_until_idle(server: &Server) {
    wait_for_metric(server, "fcn_inference_in_flight 0");
}

#[cfg(unix)]
#[test]
fn sigterm_finishes_the_request_in_flight_then_exits_0() {
    let mut server = Server::start(&small_weights(), &SLOW);
    let image = slow_image();
    let addr = server.url.trim_start_matches("http://").to_owned();
    let status = std::thread::scope(|scope| {
        let running = scope.spawn(|| post(&server, "", "image/png", image.clone()));
        wait_for_metric(&server, "fcn_inference_in_flight 1");
        // SAFETY: sending a signal to our own child process.
        assert_eq!(
            unsafe { libc::kill(server.child.id() as i32, libc::SIGTERM) },
            0
        );
        assert!(server.wait_for_log("stopping", Duration::from_secs(10)));
        // The listener closes just after the log line, in the server's own task:
        // on a loaded machine a connection can still land in between.
        let refused = (0..100).any(|_| {
            let open = TcpStream::connect(&addr).is_ok();
            if open {
                std::thread::sleep(Duration::from_millis(50));
            }
            !open
        });
        assert!(refused, "new connections are refused while stopping");
        let r = running.join().unwrap();
        assert_eq!(r.status(), 200, "the request in flight is answered");
        let (w, h, _) = png_indices(&r.bytes().unwrap());
        (w, h)
    });
    assert_eq!(status, (1200, 1200));
    let exit = server.child.wait().unwrap();
    assert!(exit.success(), "exit status {exit:?}: {:?}", server.log());
    assert!(server.log().iter().any(|l| l == "stopped"));
}

/// With the full-size textbook FCN (ResNet-18, 21 classes) from `$FCN_GOLDEN`:
/// 48 concurrent 224×288 requests against the default queue stay under 2 GB.
#[test]
fn memory_stays_bounded_under_overload() {
    let Some(golden) = std::env::var_os("FCN_GOLDEN") else {
        eprintln!("FCN_GOLDEN is not set: the full-size overload check is left out");
        return;
    };
    let weights = std::path::Path::new(&golden).join("fcn/fcn_d2l.pth");
    let server = Server::start(&weights, &[]);
    let image = png_bytes(&picture(288, 224));
    let answers = concurrently(48, || post(&server, "", "image/png", image.clone()));
    assert!(
        answers.iter().all(|(s, _)| [200, 503].contains(s)),
        "{answers:?}"
    );
    assert!(answers.iter().any(|(s, _)| *s == 200));
    let peak = server.peak_rss().expect("/proc/PID/status");
    let ok = answers.iter().filter(|(s, _)| *s == 200).count();
    eprintln!(
        "48 requests: {ok} answered, {} shed; peak RSS {} MB",
        48 - ok,
        peak >> 20
    );
    assert!(peak < 2 << 30, "peak RSS {} MB", peak >> 20);
}
