//! `fcn demo`, the main job, run as a process on tiny datasets: its report and last
//! lines, and its training sized to the time budget.

mod common;

use common::{fails_with, fcn, s, text, tmp};

/// `fcn demo` (the main job) on a tiny dataset: it writes the report, the weights
/// and the sample images, and its last lines give the elapsed time and the mIoU.
#[test]
fn demo_writes_its_report_and_ends_with_time_and_miou() {
    let dir = tmp("demo");
    let o = fcn(&[
        "demo",
        "--out",
        s(&dir),
        "--n",
        "10",
        "--size",
        "64x96",
        "--epochs",
        "1",
    ]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}\n{err}");
    let report = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(report.contains("<svg"), "the report has the training curve");
    assert!(
        report.contains("samples/"),
        "the report shows segmented samples"
    );
    assert!(dir.join("run/model.safetensors").is_file());
    let lines: Vec<&str> = out.lines().collect();
    let [.., elapsed, miou] = lines[..] else {
        panic!("too few lines: {out}");
    };
    let seconds: f64 = elapsed
        .strip_prefix("elapsed: ")
        .unwrap()
        .trim_end_matches(" s")
        .parse()
        .unwrap();
    let miou: f64 = miou.strip_prefix("val mIoU: ").unwrap().parse().unwrap();
    assert!(seconds > 0.0 && (0.0..=1.0).contains(&miou), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Without `--epochs` the demo times this machine and trains what fits in
/// `--minutes`: between 3 and 12 epochs, as many as it says, scoring the held-out
/// images after the full-size ones only, with the timing run's directory gone; a
/// budget too small for 3 says so and still trains 3.
#[test]
fn demo_sizes_its_training_to_the_time_budget() {
    for (minutes, fits) in [("2", true), ("0.001", false)] {
        let dir = tmp(&format!("demo_budget_{fits}"));
        let args = ["demo", "--out", s(&dir), "--n", "20", "--size", "64x96"];
        let o = fcn(&[&args[..], &["--minutes", minutes]].concat());
        let (out, err) = text(&o);
        assert!(o.status.success(), "{out}\n{err}");
        let said = err
            .lines()
            .find(|l| l.contains("an epoch takes about"))
            .unwrap_or_else(|| panic!("{err}"));
        assert_eq!(said.contains("take longer than"), !fits, "{said}");
        let planned: usize = err
            .lines()
            .find_map(|l| {
                l.split(" for ")
                    .nth(1)?
                    .split(" epochs")
                    .next()?
                    .parse()
                    .ok()
            })
            .unwrap_or_else(|| panic!("no epoch count in {err}"));
        let trained = err.lines().filter(|l| l.starts_with("epoch ")).count();
        assert_eq!(planned, trained, "{err}");
        // Most epochs at half resolution, the last at full size (3 epochs: 2 and 1).
        let low: usize = err
            .lines()
            .find_map(|l| {
                l.split("(the first ")
                    .nth(1)?
                    .split(' ')
                    .next()?
                    .parse()
                    .ok()
            })
            .unwrap_or_else(|| panic!("no half-resolution count in {err}"));
        assert!(low < trained && low * 2 >= trained, "{err}");
        // Only the full-size epochs are scored on the held-out images.
        for (i, line) in err.lines().filter(|l| l.starts_with("epoch ")).enumerate() {
            assert_eq!(line.contains("val mIoU"), i >= low, "{err}");
        }
        if trained == 3 {
            assert_eq!(low, 2, "{err}");
        }
        assert!((3..=12).contains(&trained), "{err}");
        if !fits {
            assert_eq!(trained, 3, "{err}");
        }
        assert!(!dir.join("timing").exists(), "the timing run is cleaned up");
        let _ = std::fs::remove_dir_all(&dir);
    }
    fails_with(&["demo", "--minutes", "0", "--out", "unused"], "--minutes");
    fails_with(
        &["demo", "--aux-weight=-1", "--out", "unused"],
        "--aux-weight",
    );
    fails_with(
        &[
            "demo",
            "--epochs",
            "3",
            "--low-res-epochs",
            "3",
            "--out",
            "unused",
        ],
        "--low-res-epochs 3 leaves none of the 3 epochs at full size",
    );
}
