//! Split files (`train.txt`, `val.txt`).
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "scratch.rs"]
mod scratch;

fuzz_target!(|data: &[u8]| {
    let path = scratch::file("split.txt", data);
    let _ = fcn::data::read_list(&path);
});
