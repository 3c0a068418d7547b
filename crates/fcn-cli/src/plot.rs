//! A small SVG line chart, written by hand (no fonts or system libraries needed):
//! the training curves (loss, train accuracy, val accuracy per epoch), like the
//! textbook's plot.

/// One line: a name, a colour, and `(x, y)` points.
pub struct Series<'a> {
    pub name: &'a str,
    pub color: &'a str,
    pub points: Vec<(f64, f64)>,
}

/// An SVG chart of `series` against `x_label`, sized `width × height`.
pub fn line_chart(
    title: &str,
    x_label: &str,
    series: &[Series],
    width: f64,
    height: f64,
) -> String {
    let (left, right, top, bottom) = (50.0, 120.0, 30.0, 40.0);
    let [x0, x1, y0, y1] = bounds(series);
    let (pw, ph) = (width - left - right, height - top - bottom);
    let sx = |x: f64| left + (x - x0) / (x1 - x0) * pw;
    let sy = |y: f64| top + ph - (y - y0) / (y1 - y0) * ph;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" font-family=\"sans-serif\" font-size=\"12\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
         <text x=\"{}\" y=\"18\" text-anchor=\"middle\" font-size=\"14\">{}</text>\n",
        left + pw / 2.0,
        escape(title)
    );
    // Axes, ticks and grid.
    svg += &format!(
        "<line x1=\"{left}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"black\"/>\n<line x1=\"{left}\" y1=\"{top}\" x2=\"{left}\" y2=\"{}\" stroke=\"black\"/>\n",
        top + ph,
        left + pw,
        top + ph,
        top + ph
    );
    for i in 0..=5 {
        let y = y0 + (y1 - y0) * i as f64 / 5.0;
        svg += &format!(
            "<line x1=\"{left}\" y1=\"{0:.1}\" x2=\"{1:.1}\" y2=\"{0:.1}\" stroke=\"#ddd\"/><text x=\"{2}\" y=\"{3:.1}\" text-anchor=\"end\">{4:.2}</text>\n",
            sy(y),
            left + pw,
            left - 6.0,
            sy(y) + 4.0,
            y
        );
    }
    for x in x_ticks(x0, x1) {
        svg += &format!(
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>\n",
            sx(x),
            top + ph + 16.0,
            format_tick(x)
        );
    }
    svg += &format!(
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>\n",
        left + pw / 2.0,
        height - 6.0,
        escape(x_label)
    );
    for (i, s) in series.iter().enumerate() {
        svg += &polyline(s, &sx, &sy);
        let ly = top + 10.0 + 18.0 * i as f64;
        svg += &format!(
            "<line x1=\"{0:.1}\" y1=\"{1:.1}\" x2=\"{2:.1}\" y2=\"{1:.1}\" stroke=\"{3}\" stroke-width=\"2\"/><text x=\"{4:.1}\" y=\"{5:.1}\">{6}</text>\n",
            left + pw + 10.0,
            ly,
            left + pw + 30.0,
            s.color,
            left + pw + 35.0,
            ly + 4.0,
            escape(s.name)
        );
    }
    svg + "</svg>\n"
}

/// `[x0, x1, y0, y1]` covering every finite point (y from 0, with 5 % headroom).
fn bounds(series: &[Series]) -> [f64; 4] {
    let all = series.iter().flat_map(|s| s.points.iter());
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, 0.0f64, f64::MIN);
    for &(x, y) in all.filter(|(x, y)| x.is_finite() && y.is_finite()) {
        x0 = x0.min(x);
        x1 = x1.max(x);
        y0 = y0.min(y);
        y1 = y1.max(y);
    }
    if x0 > x1 {
        (x0, x1, y1) = (0.0, 1.0, 1.0);
    }
    if x1 - x0 < 1e-9 {
        x1 = x0 + 1.0;
    }
    y1 = if y1 <= y0 { y0 + 1.0 } else { y1 * 1.05 };
    [x0, x1, y0, y1]
}

/// One series as an SVG polyline in chart coordinates (empty without finite points).
fn polyline(s: &Series, sx: &dyn Fn(f64) -> f64, sy: &dyn Fn(f64) -> f64) -> String {
    let pts: Vec<String> = s
        .points
        .iter()
        .filter(|(x, y)| x.is_finite() && y.is_finite())
        .map(|&(x, y)| format!("{:.1},{:.1}", sx(x), sy(y)))
        .collect();
    if pts.is_empty() {
        return String::new();
    }
    format!(
        "<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"2\" points=\"{}\"/>\n",
        s.color,
        pts.join(" ")
    )
}

/// Ticks on the epoch axis at multiples of a whole, round step (1, 2 or 5 times a
/// power of ten) between `x0` and `x1`, at most 12 intervals: never 2.1, 3.2, ….
fn x_ticks(x0: f64, x1: f64) -> Vec<f64> {
    let span = (x1 - x0).max(1e-9);
    let decade = 10f64.powf((span / 12.0).log10().floor().max(0.0));
    let step = [1.0, 2.0, 5.0, 10.0]
        .map(|m| m * decade)
        .into_iter()
        .find(|&s| span / s <= 12.0 + 1e-9)
        .unwrap_or(10.0 * decade);
    let first = (x0 / step - 1e-9).ceil() as i64;
    let last = (x1 / step + 1e-9).floor() as i64;
    (first..=last).map(|k| k as f64 * step).collect()
}

fn format_tick(x: f64) -> String {
    if (x - x.round()).abs() < 1e-9 {
        format!("{}", x.round() as i64)
    } else {
        format!("{x:.1}")
    }
}

/// Escapes text for SVG and HTML.
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The training curves: loss, train accuracy and val accuracy per epoch.
pub fn curves(history: &[fcn::train::EpochRecord]) -> String {
    let pts = |f: &dyn Fn(&fcn::train::EpochRecord) -> Option<f64>| {
        history
            .iter()
            .filter_map(|r| f(r).map(|v| (r.epoch as f64, v)))
            .collect()
    };
    line_chart(
        "Training",
        "epoch",
        &[
            Series {
                name: "train loss",
                color: "#1f77b4",
                points: pts(&|r| Some(r.train_loss)),
            },
            Series {
                name: "train acc",
                color: "#ff7f0e",
                points: pts(&|r| Some(r.train_pixel_accuracy)),
            },
            Series {
                name: "val acc",
                color: "#2ca02c",
                points: pts(&|r| r.val_pixel_accuracy),
            },
            Series {
                name: "val mIoU",
                color: "#d62728",
                points: pts(&|r| r.val_miou),
            },
        ],
        560.0,
        320.0,
    )
}

#[cfg(test)]
mod tests {
    use super::x_ticks;

    /// Epoch axes get whole, evenly spaced ticks (the old rule put ten intervals
    /// between 1 and 12: 1, 2.1, 3.2, …).
    #[test]
    fn epoch_axes_get_round_ticks() {
        let whole = |v: Vec<f64>| v.iter().map(|x| x.round() as i64).collect::<Vec<_>>();
        assert_eq!(whole(x_ticks(1.0, 12.0)), (1..=12).collect::<Vec<_>>());
        assert_eq!(
            whole(x_ticks(1.0, 20.0)),
            (1..=10).map(|k| 2 * k).collect::<Vec<_>>()
        );
        assert_eq!(whole(x_ticks(1.0, 2.0)), [1, 2]);
        assert_eq!(
            whole(x_ticks(1.0, 100.0)),
            (1..=10).map(|k| 10 * k).collect::<Vec<_>>()
        );
        assert_eq!(x_ticks(0.0, 1.0), [0.0, 1.0]);
    }
}
