//! Mask decoding: palette, grey and colour PNGs mapped to labels.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "scratch.rs"]
mod scratch;

fuzz_target!(|data: &[u8]| {
    let path = scratch::file("mask", data);
    let colors = fcn::data::colormap::ColorMap::voc();
    let _ = fcn::data::decode::read_mask(&path, &colors, 4_000_000);
});
