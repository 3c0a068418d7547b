//! Image decoding with its size checks and the JPEG structure walk.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "scratch.rs"]
mod scratch;

fuzz_target!(|data: &[u8]| {
    let _ = fcn::data::jpeg_end::image_end(data);
    let path = scratch::file("image", data);
    let _ = fcn::data::decode::read_image(&path, 4_000_000);
});
