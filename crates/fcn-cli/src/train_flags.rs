//! `fcn train`'s flags whose values need parsing beyond clap's (`--scale`,
//! `--color-jitter`, `--class-weights`), and the pass over the data that
//! `--class-weights auto` makes.

use anyhow::Context;

pub fn parse_scale(s: &str) -> Result<(f64, f64), String> {
    let (lo, hi) = s
        .split_once(',')
        .ok_or_else(|| format!("expected MIN,MAX such as 0.5,2.0, got '{s}'"))?;
    let num = |v: &str| {
        v.trim()
            .parse::<f64>()
            .map_err(|_| format!("'{v}' is not a number"))
    };
    Ok((num(lo)?, num(hi)?))
}

pub fn parse_jitter(s: &str) -> Result<fcn::data::jitter::ColorJitter, String> {
    let v: Vec<f32> = s
        .split(',')
        .map(|x| {
            x.trim()
                .parse::<f32>()
                .map_err(|_| format!("'{x}' is not a number"))
        })
        .collect::<Result<_, _>>()?;
    let [brightness, contrast, saturation, hue] = v[..] else {
        return Err(format!("expected four numbers B,C,S,H, got '{s}'"));
    };
    Ok(fcn::data::jitter::ColorJitter {
        brightness,
        contrast,
        saturation,
        hue,
    })
}

/// `--class-weights`: numbers, or `auto`.
#[derive(Debug, Clone, PartialEq)]
pub enum ClassWeights {
    Auto,
    Given(Vec<f32>),
}

pub fn parse_class_weights(s: &str) -> Result<ClassWeights, String> {
    if s.trim() == "auto" {
        return Ok(ClassWeights::Auto);
    }
    s.split(',')
        .map(|w| {
            w.trim()
                .parse::<f32>()
                .map_err(|_| format!("'{w}' is not a number (give w0,w1,... or auto)"))
        })
        .collect::<Result<Vec<f32>, String>>()
        .map(ClassWeights::Given)
}

/// Median-frequency weights from the training masks, printed one class a line.
pub fn auto_class_weights(split: &fcn::data::Split) -> anyhow::Result<Vec<f32>> {
    let bar = crate::progress::bar(split.len() as u64, "class weights");
    let balance = fcn::data::balance::median_frequency(split, |d, _| bar.set_position(d as u64))
        .context("cannot read the training masks")?;
    bar.finish_and_clear();
    eprintln!(
        "class weights (median frequency, from {} masks):",
        split.len()
    );
    for ((name, w), px) in split
        .classes
        .names
        .iter()
        .zip(&balance.weights)
        .zip(&balance.pixels)
    {
        eprintln!("  {name:<20} {w:>8.4}   ({px} pixels)");
    }
    Ok(balance.weights)
}
