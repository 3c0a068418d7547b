//! `fcn serve`'s page in a real headless Chromium, driven over WebDriver: upload an
//! image, wait for the overlay, check the legend against the API and the overlay's
//! size, an error message for a bad file, and a phone-sized layout.
//!
//! Needs Debian's `chromium` and `chromium-driver` (`.ci/run` installs them). Without
//! them the test says so and passes, except under CI (`CI` set), where it fails.
//! `FCN_BROWSER_WEIGHTS` and `FCN_BROWSER_IMAGE` swap in another model and image (the
//! README's screenshot: a trained model), `FCN_SCREENSHOT_DIR` keeps the screenshots.

mod common;
#[path = "common/server.rs"]
mod server;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use server::{Server, small_weights, voc_image};

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";

struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

fn start_driver() -> (Driver, u16) {
    let port = free_port();
    let child = Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "chromedriver did not listen"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    (Driver(child), port)
}

async fn browser(port: u16, profile: &Path) -> Client {
    let mut caps = serde_json::Map::new();
    // The flags keep a headless Chromium from reaching for the network (closed here).
    let args = [
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-quic",
        "--no-first-run",
        "--window-size=1280,900",
    ];
    let mut args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    args.push(format!("--user-data-dir={}", profile.display()));
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({ "binary": CHROMIUM, "args": args }),
    );
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    ClientBuilder::new(connector)
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .expect("a WebDriver session")
}

/// The API's answer for `image`: the names of the classes present, and the class
/// index of the middle pixel.
fn answer_from_api(server: &Server, image: &Path) -> (Vec<String>, u8) {
    let r = reqwest::blocking::Client::new()
        .post(server.at("/v1/segment?format=json"))
        .body(std::fs::read(image).unwrap())
        .send()
        .unwrap();
    let v: serde_json::Value = r.json().unwrap();
    let names = v["classes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_owned())
        .collect();
    let png = base64::Engine::decode(
        &base64::engine::general_purpose::STANDARD,
        v["mask_png_base64"].as_str().unwrap(),
    )
    .unwrap();
    let mut decoder = png::Decoder::new(std::io::Cursor::new(png));
    decoder.set_transformations(png::Transformations::IDENTITY);
    let mut reader = decoder.read_info().unwrap();
    let mut labels = vec![0; reader.output_buffer_size().unwrap()];
    let frame = reader.next_frame(&mut labels).unwrap();
    let (w, h) = (frame.width as usize, frame.height as usize);
    (names, labels[(h / 2) * frame.line_size + w / 2])
}

async fn upload(client: &Client, file: &Path) {
    // ChromeDriver takes canonical paths only.
    let file = file.canonicalize().unwrap();
    let input = client.find(Locator::Css("#file")).await.unwrap();
    input.send_keys(file.to_str().unwrap()).await.unwrap();
}

async fn eval_i64(client: &Client, script: &str) -> i64 {
    let v = client.execute(script, vec![]).await.unwrap();
    v.as_i64().unwrap_or_else(|| panic!("{script} gave {v}"))
}

fn screenshot_dir() -> PathBuf {
    std::env::var_os("FCN_SCREENSHOT_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| common::tmp("browser-shots"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_segments_an_uploaded_image() {
    if !Path::new(CHROMEDRIVER).exists() || !Path::new(CHROMIUM).exists() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI needs chromium and chromium-driver (apt-get install chromium chromium-driver)"
        );
        eprintln!("no {CHROMIUM} or {CHROMEDRIVER}: the browser test is left out");
        return;
    }
    let from_env = |name: &str| std::env::var_os(name).map(PathBuf::from);
    let weights = from_env("FCN_BROWSER_WEIGHTS").unwrap_or_else(small_weights);
    let image = from_env("FCN_BROWSER_IMAGE").unwrap_or_else(voc_image);
    let (width, height) = image::image_dimensions(&image).unwrap();
    let server = tokio::task::spawn_blocking(move || Server::start(&weights, &[]))
        .await
        .unwrap();
    let expected = {
        let (server, image) = (&server, image.clone());
        tokio::task::block_in_place(|| answer_from_api(server, &image))
    };
    let (_driver, port) = start_driver();
    let profile = common::tmp("chromium-profile");
    let client = browser(port, &profile).await;

    client.goto(&server.at("/")).await.unwrap();
    client
        .wait()
        .for_element(Locator::XPath(
            "//p[@id='model'][contains(., 'parameters')]",
        ))
        .await
        .expect("the page shows the model");
    upload(&client, &image).await;
    client
        .wait()
        .at_most(Duration::from_secs(60))
        .for_element(Locator::Css("#overlay[data-done='1']"))
        .await
        .expect("the overlay is drawn");
    let mut legend = Vec::new();
    for li in client.find_all(Locator::Css("#legend li")).await.unwrap() {
        legend.push(li.attr("data-name").await.unwrap().unwrap());
    }
    let (expected, middle) = expected;
    assert_eq!(
        legend, expected,
        "the legend names the classes the API returned"
    );
    let size = (
        eval_i64(&client, "return document.getElementById('overlay').width").await,
        eval_i64(&client, "return document.getElementById('overlay').height").await,
    );
    let expected_size = (i64::from(width), i64::from(height));
    assert_eq!(size, expected_size, "the overlay has the image's size");
    let status = client
        .find(Locator::Css("#status"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        status.contains(&format!("{width}×{height}")) && status.contains("server"),
        "{status}"
    );
    // The pointer over the middle pixel: the caption names its class.
    let script = "const c = document.getElementById('overlay'); const b = c.getBoundingClientRect();
        c.dispatchEvent(new PointerEvent('pointermove', {clientX: b.left + b.width * (Math.floor(c.width / 2) + 0.5) / c.width,
        clientY: b.top + b.height * (Math.floor(c.height / 2) + 0.5) / c.height, bubbles: true}));
        return document.getElementById('pointer').textContent;";
    let caption = client.execute(script, vec![]).await.unwrap();
    let model: serde_json::Value = reqwest::get(server.at("/v1/model"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let name = model["classes"][middle as usize]["name"]
        .as_str()
        .unwrap()
        .to_owned();
    let want = format!("({}, {}): {name}", width / 2, height / 2);
    assert_eq!(
        caption.as_str(),
        Some(want.as_str()),
        "the class under the pointer"
    );
    let shots = screenshot_dir();
    std::fs::write(
        shots.join("serve-page.png"),
        client.screenshot().await.unwrap(),
    )
    .unwrap();

    // A file that is no image: the server's reason is shown.
    let bad = common::tmp("browser-bad").join("notes.png");
    std::fs::write(&bad, b"these are notes, not a picture").unwrap();
    upload(&client, &bad).await;
    let error = client
        .wait()
        .for_element(Locator::XPath(
            "//div[@id='error'][contains(., 'Error 400')]",
        ))
        .await
        .expect("an error message");
    assert!(error.text().await.unwrap().contains("not a readable image"));

    // On a phone-sized screen nothing is wider than the screen.
    client.set_window_size(390, 844).await.unwrap();
    upload(&client, &image).await;
    client
        .wait()
        .for_element(Locator::Css("#overlay[data-done='1']"))
        .await
        .unwrap();
    let overflow = eval_i64(
        &client,
        "return document.documentElement.scrollWidth - document.documentElement.clientWidth",
    )
    .await;
    assert!(
        overflow <= 0,
        "the page is {overflow} px wider than a phone's screen"
    );
    std::fs::write(
        shots.join("serve-page-phone.png"),
        client.screenshot().await.unwrap(),
    )
    .unwrap();
    client.close().await.unwrap();
}
