//! `report.html`: the training curve, the metrics table, per-class IoU, and input /
//! ground truth / prediction side by side. One self-contained page; images are
//! referenced by relative path.

use crate::plot::escape;
use fcn::metrics::Metrics;
use fcn::train::EpochRecord;

/// One row of the side-by-side gallery: paths relative to the report.
pub struct SampleRow {
    pub name: String,
    pub input: String,
    pub truth: String,
    pub prediction: String,
}

pub fn html(
    title: &str,
    curves_svg: &str,
    history: &[EpochRecord],
    metrics: &Metrics,
    samples: &[SampleRow],
    notes: &[String],
) -> String {
    let pct = |v: f64| format!("{:.1}", v * 100.0);
    let opt = |v: Option<f64>| v.map_or("n/a".to_string(), pct);
    let mut h = format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>{0}</title>\n<style>\
         body{{font-family:sans-serif;margin:2em;max-width:1100px}} table{{border-collapse:collapse;margin:1em 0}} \
         td,th{{border:1px solid #ccc;padding:4px 10px;text-align:right}} th{{background:#f3f3f3}} td:first-child{{text-align:left}} \
         .bar{{background:#4a90d9;height:10px;display:inline-block}} img{{image-rendering:pixelated;width:240px;margin:2px}}\
         </style></head><body>\n<h1>{0}</h1>\n",
        escape(title)
    );
    for n in notes {
        h += &format!("<p>{}</p>\n", escape(n));
    }
    h += "<h2>Training</h2>\n";
    h += curves_svg;
    h += "<table><tr><th>epoch</th><th>train loss</th><th>train acc %</th><th>val acc %</th><th>val mIoU %</th><th>seconds</th></tr>\n";
    for r in history {
        h += &format!(
            "<tr><td>{}</td><td>{:.4}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.1}</td></tr>\n",
            r.epoch,
            r.train_loss,
            pct(r.train_pixel_accuracy),
            opt(r.val_pixel_accuracy),
            opt(r.val_miou),
            r.seconds
        );
    }
    h += "</table>\n<h2>Validation metrics</h2>\n<table>";
    for (name, v) in [
        ("pixel accuracy", m_pct(metrics.pixel_accuracy)),
        ("mean class accuracy", m_pct(metrics.mean_accuracy)),
        ("mean IoU", m_pct(metrics.miou)),
        ("frequency-weighted IoU", m_pct(metrics.fwiou)),
    ] {
        h += &format!("<tr><td>{name}</td><td>{v} %</td></tr>\n");
    }
    h += "</table>\n<h2>Per-class IoU</h2>\n<table><tr><th>class</th><th>IoU %</th><th></th><th>accuracy %</th><th>pixels</th></tr>\n";
    for c in &metrics.per_class {
        let width = c.iou.map_or(0.0, |v| v * 200.0);
        h += &format!(
            "<tr><td>{}</td><td>{}</td><td style=\"text-align:left\"><span class=\"bar\" style=\"width:{width:.0}px\"></span></td><td>{}</td><td>{}</td></tr>\n",
            escape(&c.name),
            opt(c.iou),
            opt(c.accuracy),
            c.pixels
        );
    }
    h += "</table>\n<h2>Input, ground truth, prediction</h2>\n";
    for s in samples {
        h += &format!(
            "<div><p>{}</p><img src=\"{}\" alt=\"input\"><img src=\"{}\" alt=\"ground truth\"><img src=\"{}\" alt=\"prediction\"></div>\n",
            escape(&s.name),
            escape(&s.input),
            escape(&s.truth),
            escape(&s.prediction)
        );
    }
    h + "</body></html>\n"
}

fn m_pct(v: f64) -> String {
    format!("{:.1}", v * 100.0)
}
