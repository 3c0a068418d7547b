//! `classes.toml` of the own-data layout.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "scratch.rs"]
mod scratch;

fuzz_target!(|data: &[u8]| {
    let path = scratch::file("classes.toml", data);
    let _ = fcn::data::folders::read_classes(&path);
});
