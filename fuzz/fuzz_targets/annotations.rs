//! COCO annotation files (the JSON, polygons, list and compressed RLE) and LabelMe
//! files (the JSON, every shape type, embedded images).
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "scratch.rs"]
mod scratch;

fuzz_target!(|data: &[u8]| {
    let path = scratch::file("instances.json", data);
    if let Ok(file) = fcn::data::coco::Annotations::read(&path) {
        for k in 0..file.len().min(8) {
            let _ = file.mask(k, 4_000_000);
        }
    }
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../crates/fcn/tests/fixtures/formats/labelme");
    let map = fcn::data::labelme::LabelMap::read(&dir).expect("the fixture's labels.txt");
    let path = scratch::file("shapes.json", data);
    let _ = fcn::data::labelme::read_mask(&path, &map, 4_000_000);
    let _ = fcn::data::labelme::read_image(&path, 4_000_000);
});
