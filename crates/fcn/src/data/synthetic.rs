//! A synthetic segmentation dataset, generated in Pascal VOC's layout so that every
//! command reading VOC reads it (`fcn synth`). It needs no download and is the
//! built-in default.
//!
//! Six object classes, each a shape of its own (disc, square, triangle, star, ring,
//! cross), drawn 2–5 per image with random colours, sizes, rotations and textures,
//! overlapping, on cluttered, textured backgrounds, with noise. The colour
//! distribution is the same for every class, so colour alone never identifies one.
//! As in VOC, a void band (label 255) a few pixels wide runs along every boundary.
//! Everything is deterministic for a seed.

use std::f64::consts::PI;
use std::path::Path;

use image::{Rgb, RgbImage};
use ndarray::Array2;
use rayon::prelude::*;

use super::augment::Rng;
use super::colormap::{IGNORE, voc_palette};
use super::decode::write_palette_png;
use super::{DataError, Sample};

/// Class names, in label order.
pub const CLASSES: [&str; 7] = [
    "background",
    "disc",
    "square",
    "triangle",
    "star",
    "ring",
    "cross",
];

/// What to generate.
#[derive(Debug, Clone)]
pub struct SynthConfig {
    pub n: usize,
    pub seed: u64,
    /// `(height, width)` of every image.
    pub size: (usize, usize),
    /// Fraction of the images listed in `val.txt` (the rest in `train.txt`).
    pub val_fraction: f64,
}

impl Default for SynthConfig {
    fn default() -> Self {
        Self {
            n: 200,
            seed: 0,
            size: (160, 240),
            val_fraction: 0.2,
        }
    }
}

#[derive(Clone, Copy)]
enum Texture {
    Flat,
    /// `dir` is the stripes' normal as (cos, sin), computed once per shape.
    Stripes {
        freq: f64,
        dir: (f64, f64),
    },
    Checker {
        cell: f64,
    },
    Speckle,
}

/// How far, in radii, any outline may reach from its centre: the square's corners
/// are the farthest, at 0.8·√2 ≈ 1.13.
const REACH: f64 = 1.2;

struct Shape {
    class: u8,
    center: (f64, f64),
    radius: f64,
    /// The rotation's (sin, cos), computed once: they are needed at every pixel.
    rot: (f64, f64),
    color: [f64; 3],
    texture: Texture,
    contrast: f64,
}

impl Shape {
    /// Whether the point `(y, x)` lies inside the shape.
    fn contains(&self, y: f64, x: f64) -> bool {
        let (dy, dx) = (y - self.center.0, x - self.center.1);
        // Most pixels are far from most shapes: skip the outline's test there.
        let reach = REACH * self.radius;
        dy * dy + dx * dx <= reach * reach && self.outline_contains(dy, dx)
    }

    /// Whether the offset `(dy, dx)` from the centre lies inside the outline.
    fn outline_contains(&self, dy: f64, dx: f64) -> bool {
        let (s, c) = self.rot;
        let u = (c * dx + s * dy) / self.radius;
        let v = (-s * dx + c * dy) / self.radius;
        let rho = (u * u + v * v).sqrt();
        match self.class {
            1 => rho <= 1.0,
            2 => u.abs().max(v.abs()) <= 0.8,
            3 => v >= -0.5 && v <= 1.0 - 3f64.sqrt() * u.abs(),
            // The star's points reach 1.0; its angle costs an atan2.
            4 if rho > 1.0 => false,
            4 => {
                let phi = v.atan2(u).rem_euclid(2.0 * PI / 5.0) / (2.0 * PI / 5.0);
                rho <= 0.42 + 0.58 * (1.0 - (2.0 * phi - 1.0).abs())
            }
            5 => (0.55..=1.0).contains(&rho),
            _ => (u.abs() <= 0.3 && v.abs() <= 1.0) || (v.abs() <= 0.3 && u.abs() <= 1.0),
        }
    }
}

fn random_color(rng: &mut Rng) -> [f64; 3] {
    [
        rng.range(0.05, 0.95),
        rng.range(0.05, 0.95),
        rng.range(0.05, 0.95),
    ]
}

fn random_texture(rng: &mut Rng, scale: f64) -> Texture {
    match rng.below(4) {
        0 => Texture::Flat,
        1 => Texture::Stripes {
            freq: rng.range(0.15, 0.6) / scale.max(1.0) * 8.0,
            dir: {
                let (sin, cos) = rng.range(0.0, PI).sin_cos();
                (cos, sin)
            },
        },
        2 => Texture::Checker {
            cell: rng.range(3.0, 9.0) * scale.max(1.0) / 8.0,
        },
        _ => Texture::Speckle,
    }
}

/// Texture value in [−1, 1] at pixel `(y, x)`; `noise` is a per-pixel random value.
fn texture_at(t: Texture, y: f64, x: f64, noise: f64) -> f64 {
    match t {
        Texture::Flat => 0.0,
        Texture::Stripes { freq, dir } => (freq * (x * dir.0 + y * dir.1)).sin(),
        Texture::Checker { cell } => {
            if ((y / cell).floor() as i64 + (x / cell).floor() as i64) % 2 == 0 {
                1.0
            } else {
                -1.0
            }
        }
        Texture::Speckle => noise,
    }
}

/// Image `index` of the dataset generated with `seed`.
pub fn render(seed: u64, index: usize, (h, w): (usize, usize)) -> Sample {
    let mut rng = Rng::for_item(seed, 0x5EED, index);
    let side = h.min(w) as f64;
    let scale = side / 64.0;
    // Background: a random colour under two oriented waves and a texture.
    let bg = random_color(&mut rng);
    let bg_texture = random_texture(&mut rng, scale);
    let waves = random_waves(&mut rng, scale);
    // Clutter: background-labelled strokes and blobs that objects must be told from.
    let clutter: Vec<Shape> = (0..rng.below(4) + 2)
        .map(|_| Shape {
            class: 0,
            center: (rng.range(0.0, h as f64), rng.range(0.0, w as f64)),
            radius: rng.range(0.03, 0.1) * side,
            rot: rng.range(0.0, PI).sin_cos(),
            color: random_color(&mut rng),
            texture: random_texture(&mut rng, scale),
            contrast: rng.range(0.05, 0.25),
        })
        .collect();
    let clutter_kind: Vec<bool> = clutter.iter().map(|_| rng.unit() < 0.5).collect();
    let objects: Vec<Shape> = (0..rng.below(4) + 2)
        .map(|_| Shape {
            class: rng.below(CLASSES.len() - 1) as u8 + 1,
            center: (
                rng.range(0.1, 0.9) * h as f64,
                rng.range(0.1, 0.9) * w as f64,
            ),
            radius: rng.range(0.12, 0.3) * side,
            rot: rng.range(0.0, 2.0 * PI).sin_cos(),
            color: random_color(&mut rng),
            texture: random_texture(&mut rng, scale),
            contrast: rng.range(0.05, 0.3),
        })
        .collect();
    let noise_level = rng.range(0.02, 0.06);
    let mut labels = Array2::<u8>::zeros((h, w));
    let mut image = RgbImage::new(w as u32, h as u32);
    for y in 0..h {
        for x in 0..w {
            let (fy, fx) = (y as f64, x as f64);
            let speckle = rng.range(-1.0, 1.0);
            let t = texture_at(bg_texture, fy, fx, speckle) * 0.12;
            let [w0, w1] = waves.map(|w| w.at(fy, fx));
            let mut rgb: [f64; 3] =
                std::array::from_fn(|c| bg[c] + (waves[0].amp[c] * w0 + waves[1].amp[c] * w1) + t);
            for (s, thin) in clutter.iter().zip(&clutter_kind) {
                if s.clutter_covers(*thin, fy, fx, scale) {
                    let tex = texture_at(s.texture, fy, fx, speckle) * s.contrast;
                    rgb = std::array::from_fn(|c| s.color[c] + tex);
                }
            }
            for s in &objects {
                if s.contains(fy, fx) {
                    let tex = texture_at(s.texture, fy, fx, speckle) * s.contrast;
                    rgb = std::array::from_fn(|c| s.color[c] + tex);
                    labels[[y, x]] = s.class;
                }
            }
            let px: [u8; 3] = std::array::from_fn(|c| {
                let v = rgb[c] + noise_level * rng.range(-1.0, 1.0);
                round_byte(v.clamp(0.0, 1.0) * 255.0)
            });
            image.put_pixel(x as u32, y as u32, Rgb(px));
        }
    }
    let border = ((side / 100.0).round() as usize).max(1);
    Sample {
        name: format!("synth_{index:06}"),
        image,
        mask: void_borders(&labels, border),
    }
}

/// `v.round() as u8` for `v` in `[0, 255]`, without the library call `round` is on
/// targets without SSE4.1: the fraction `v - trunc(v)` is exact.
fn round_byte(v: f64) -> u8 {
    let whole = v as u8;
    whole + u8::from(v - f64::from(whole) >= 0.5)
}

/// An oriented wave of the background: frequency, direction (cos, sin), phase and
/// per-channel amplitude.
#[derive(Clone, Copy)]
struct Wave {
    freq: f64,
    dir: (f64, f64),
    phase: f64,
    amp: [f64; 3],
}

impl Wave {
    /// The wave's value before its amplitude at `(fy, fx)`: one sine for all channels.
    fn at(&self, fy: f64, fx: f64) -> f64 {
        (self.freq * (fx * self.dir.0 + fy * self.dir.1) + self.phase).sin()
    }
}

/// Two oriented waves for the background.
fn random_waves(rng: &mut Rng, scale: f64) -> [Wave; 2] {
    std::array::from_fn(|_| {
        let amp = [
            rng.range(-0.2, 0.2),
            rng.range(-0.2, 0.2),
            rng.range(-0.2, 0.2),
        ];
        let freq = rng.range(0.02, 0.12) / scale.max(0.5);
        let (sin, cos) = rng.range(0.0, PI).sin_cos();
        let phase = rng.range(0.0, 2.0 * PI);
        Wave {
            freq,
            dir: (cos, sin),
            phase,
            amp,
        }
    })
}

impl Shape {
    /// Whether clutter drawn as `self` covers `(fy, fx)`: a thin stroke is a long
    /// narrow bar, a blob a small disc.
    fn clutter_covers(&self, thin: bool, fy: f64, fx: f64, scale: f64) -> bool {
        let (dy, dx) = (fy - self.center.0, fx - self.center.1);
        if !thin {
            return (dy * dy + dx * dx).sqrt() <= self.radius;
        }
        let (sn, cs) = self.rot;
        let along = (cs * dx + sn * dy).abs();
        let across = (-sn * dx + cs * dy).abs();
        along <= self.radius * 4.0 && across <= 1.0 + scale * 0.5
    }
}

/// Marks with [`IGNORE`] every pixel within `r` pixels (in x and y) of a different label.
/// A window holds a label other than its centre's exactly when its minimum and
/// maximum differ, and both are separable filters: a row pass, then a column pass.
fn void_borders(labels: &Array2<u8>, r: usize) -> Array2<u8> {
    let (h, w) = labels.dim();
    let flat = labels.as_standard_layout();
    let flat = flat.as_slice().expect("standard layout");
    let (lo, hi) = (
        window_extreme(flat, (h, w), r, u8::min),
        window_extreme(flat, (h, w), r, u8::max),
    );
    let out = flat
        .iter()
        .zip(lo.iter().zip(&hi))
        .map(|(&l, (a, b))| if a == b { l } else { IGNORE })
        .collect();
    Array2::from_shape_vec((h, w), out).expect("h × w labels")
}

/// `pick` (min or max) over the `(2r+1)²` window around each pixel of the row-major
/// `(h, w)` labels, cut at the edges.
fn window_extreme(
    labels: &[u8],
    (h, w): (usize, usize),
    r: usize,
    pick: impl Fn(u8, u8) -> u8,
) -> Vec<u8> {
    let window = |n: usize, i: usize| (i.saturating_sub(r), (i + r + 1).min(n));
    let mut rows = vec![0u8; h * w];
    for (src, dst) in labels.chunks_exact(w).zip(rows.chunks_exact_mut(w)) {
        for (x, d) in dst.iter_mut().enumerate() {
            let (x0, x1) = window(w, x);
            *d = src[x0 + 1..x1].iter().fold(src[x0], |m, &v| pick(m, v));
        }
    }
    let mut out = vec![0u8; h * w];
    for (y, dst) in out.chunks_exact_mut(w).enumerate() {
        let (y0, y1) = window(h, y);
        dst.copy_from_slice(&rows[y0 * w..(y0 + 1) * w]);
        for yy in y0 + 1..y1 {
            let row = &rows[yy * w..(yy + 1) * w];
            dst.iter_mut().zip(row).for_each(|(m, &v)| *m = pick(*m, v));
        }
    }
    out
}

/// Writes the dataset to `out/VOC2012/` (JPEG images, palette PNG masks, split files,
/// `classes.toml`). `progress` is called after each image.
pub fn generate(
    out: &Path,
    config: &SynthConfig,
    mut progress: impl FnMut(usize),
) -> Result<(), DataError> {
    let root = out.join("VOC2012");
    let dirs = ["JPEGImages", "SegmentationClass", "ImageSets/Segmentation"];
    for d in dirs {
        let dir = root.join(d);
        std::fs::create_dir_all(&dir)
            .map_err(|e| DataError::new(&dir, format!("cannot create: {e}")))?;
    }
    let palette = voc_palette();
    let write_one = |i: usize| -> Result<String, DataError> {
        let sample = render(config.seed, i, config.size);
        let jpg = root.join("JPEGImages").join(format!("{}.jpg", sample.name));
        let file = std::fs::File::create(&jpg)
            .map_err(|e| DataError::new(&jpg, format!("cannot create: {e}")))?;
        let mut encoder =
            image::codecs::jpeg::JpegEncoder::new_with_quality(std::io::BufWriter::new(file), 92);
        encoder
            .encode_image(&sample.image)
            .map_err(|e| DataError::new(&jpg, format!("cannot encode: {e}")))?;
        let png = root
            .join("SegmentationClass")
            .join(format!("{}.png", sample.name));
        write_palette_png(&png, &sample.mask, &palette)?;
        Ok(sample.name)
    };
    // Every image has its own random stream, so rendering them in parallel gives the
    // same files; chunks keep the progress callback on this thread.
    let mut names = Vec::with_capacity(config.n);
    let chunk = 4 * rayon::current_num_threads();
    for start in (0..config.n).step_by(chunk) {
        let end = (start + chunk).min(config.n);
        let done: Vec<String> = (start..end)
            .into_par_iter()
            .map(write_one)
            .collect::<Result<_, _>>()?;
        names.extend(done);
        progress(end);
    }
    let n_val = ((config.n as f64 * config.val_fraction).round() as usize).min(config.n);
    let (train, val) = names.split_at(config.n - n_val);
    let write = |name: &str, items: &[String]| {
        let path = root.join("ImageSets/Segmentation").join(name);
        let text: String = items.iter().map(|s| format!("{s}\n")).collect();
        std::fs::write(&path, text).map_err(|e| DataError::new(&path, format!("cannot write: {e}")))
    };
    write("train.txt", train)?;
    write("val.txt", val)?;
    write("trainval.txt", &names)?;
    let mut toml = String::from("# Classes of the synthetic dataset (fcn synth).\n");
    for (i, name) in CLASSES.iter().enumerate() {
        let c = palette[i];
        toml.push_str(&format!(
            "\n[[classes]]\nname = \"{name}\"\ncolor = [{}, {}, {}]\n",
            c[0], c[1], c[2]
        ));
    }
    let path = root.join("classes.toml");
    std::fs::write(&path, toml).map_err(|e| DataError::new(&path, format!("cannot write: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// [`Shape::contains`] skips the outline's test beyond [`REACH`] radii: no
    /// outline, at any rotation, may have a point there.
    #[test]
    fn every_outline_lies_within_reach() {
        let radius = 10.0;
        let mut farthest = [0.0f64; 7];
        for class in 1..CLASSES.len() as u8 {
            for turn in 0..36 {
                let shape = Shape {
                    class,
                    center: (0.0, 0.0),
                    radius,
                    rot: (f64::from(turn) * PI / 36.0).sin_cos(),
                    color: [0.5; 3],
                    texture: Texture::Flat,
                    contrast: 0.0,
                };
                for i in -300..=300 {
                    for j in -300..=300 {
                        let (dy, dx) = (f64::from(i) * 0.05, f64::from(j) * 0.05);
                        if shape.outline_contains(dy, dx) {
                            let d = (dy * dy + dx * dx).sqrt() / radius;
                            farthest[class as usize] = farthest[class as usize].max(d);
                        }
                    }
                }
            }
        }
        // The square's corners are the farthest points of all (0.8·√2).
        let square = farthest[2];
        assert!((square - 0.8 * 2f64.sqrt()).abs() < 0.01, "{farthest:?}");
        assert!(
            farthest.iter().all(|&d| d <= square + 1e-9 && d < REACH),
            "{farthest:?}"
        );
    }

    /// `round_byte` is `round` on `[0, 255]`, next to the halves too.
    #[test]
    fn round_byte_rounds_as_round_does() {
        let halves = (0..255).map(|i| f64::from(i) + 0.5);
        let near = halves.flat_map(|h| {
            [
                h,
                f64::from_bits(h.to_bits() - 1),
                f64::from_bits(h.to_bits() + 1),
            ]
        });
        let grid = (0..=255 * 64).map(|i| f64::from(i) / 64.0);
        for v in grid.chain(near) {
            assert_eq!(round_byte(v), v.round() as u8, "{v}");
        }
    }

    /// The row-and-column filter gives what a direct look at every window gives.
    #[test]
    fn void_borders_matches_a_direct_window_scan() {
        let labels = Array2::from_shape_fn((9, 13), |(y, x)| ((y / 3 + x / 4) % 3) as u8);
        for r in 1..3 {
            let fast = void_borders(&labels, r);
            let direct = Array2::from_shape_fn((9, 13), |(y, x)| {
                let ys = y.saturating_sub(r)..(y + r + 1).min(9);
                let mixed = ys.clone().any(|yy| {
                    (x.saturating_sub(r)..(x + r + 1).min(13))
                        .any(|xx| labels[[yy, xx]] != labels[[y, x]])
                });
                if mixed { IGNORE } else { labels[[y, x]] }
            });
            assert_eq!(fast, direct, "r = {r}");
        }
    }
}
