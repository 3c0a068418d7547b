//! Every reader of untrusted bytes, fed mutated versions of the real fixtures:
//! an error or a valid result, never a panic. (The fuzz targets in `fuzz/` search
//! the same readers far longer; their crashes become cases here.)

mod common;

use std::path::{Path, PathBuf};

use fcn::data::colormap::ColorMap;
use fcn::data::decode::{read_image, read_mask};
use fcn::data::folders::read_classes;
use proptest::prelude::*;

fn fixture(rel: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A file of this test process, rewritten for each case.
fn scratch(name: &str, bytes: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("fcn-mutations-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// One change to a file: overwrite a byte, cut the tail, or insert bytes.
#[derive(Debug, Clone)]
enum Mutation {
    Set(usize, u8),
    Truncate(usize),
    Insert(usize, Vec<u8>),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        4 => (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Set(i, b)),
        1 => any::<usize>().prop_map(Mutation::Truncate),
        1 => (any::<usize>(), proptest::collection::vec(any::<u8>(), 1..16))
            .prop_map(|(i, b)| Mutation::Insert(i, b)),
    ]
}

fn mutate(mut bytes: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for m in mutations {
        let n = bytes.len().max(1);
        match m {
            Mutation::Set(i, b) if !bytes.is_empty() => bytes[i % n] = *b,
            Mutation::Set(..) => {}
            Mutation::Truncate(i) => bytes.truncate(i % n),
            Mutation::Insert(i, b) => {
                let at = (i % n).min(bytes.len());
                bytes.splice(at..at, b.iter().copied());
            }
        }
    }
    bytes
}

fn mutations() -> impl Strategy<Value = Vec<Mutation>> {
    proptest::collection::vec(mutation(), 1..6)
}

/// Loads a weight file as every command does; any outcome but a panic is fine.
fn load(path: &Path) {
    let _ = fcn::weights::read(path);
    let _ = fcn::Fcn::load(path, &burn::tensor::Device::flex());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn pytorch_zip_checkpoints(m in mutations()) {
        let bytes = fixture("golden_small/fcn/fcn_d2l.pth");
        load(&scratch("mutated.pth", &mutate(bytes, &m)));
    }

    #[test]
    fn safetensors_checkpoints(m in mutations()) {
        let path = scratch("base.safetensors", b"");
        let config = fcn::FcnConfig { width: 2, ..fcn::FcnConfig::default().with_num_classes(2) };
        fcn::Fcn::new(&config, &burn::tensor::Device::flex()).save(&path).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        load(&scratch("mutated.safetensors", &mutate(bytes, &m)));
    }

    #[test]
    fn jpeg_images(m in mutations()) {
        let bytes = fixture("voc_mini/VOC2012/JPEGImages/2011_003271.jpg");
        let bytes = mutate(bytes, &m);
        let _ = fcn::data::jpeg_end::image_end(&bytes);
        let _ = read_image(&scratch("mutated.jpg", &bytes), 50_000_000);
    }

    #[test]
    fn png_masks(m in mutations()) {
        let bytes = fixture("voc_mini/VOC2012/SegmentationClass/2011_003271.png");
        let path = scratch("mutated.png", &mutate(bytes, &m));
        let _ = read_mask(&path, &ColorMap::voc(), 50_000_000);
        let _ = read_image(&path, 50_000_000);
    }

    #[test]
    fn split_files(m in mutations()) {
        let text = b"2007_000032\n2007_000039  1\n# a comment\n\nsynth_000001\n";
        let _ = fcn::data::read_list(&scratch("val.txt", &mutate(text.to_vec(), &m)));
    }

    #[test]
    fn coco_annotation_files(m in mutations()) {
        let bytes = fixture("formats/coco/annotations/instances_val2017.json");
        let path = scratch("instances_val.json", &mutate(bytes, &m));
        if let Ok(file) = fcn::data::coco::Annotations::read(&path) {
            for k in 0..file.len() {
                let _ = file.mask(k, 4_000_000);
            }
        }
    }

    #[test]
    fn compressed_rle(text in "[0-o]{0,40}", h in 0usize..50, w in 0usize..50) {
        if let Ok(rle) = fcn::data::coco::rle::Rle::from_compressed(&text, h, w)
            && rle.check().is_ok()
        {
            prop_assert_eq!(rle.decode().dim(), (h, w));
        }
    }

    #[test]
    fn labelme_files(m in mutations()) {
        use fcn::data::labelme;
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/formats/labelme");
        let map = labelme::LabelMap::read(&dir).unwrap();
        let bytes = fixture("formats/labelme/img_0.json");
        let path = scratch("img_0.json", &mutate(bytes, &m));
        let _ = labelme::read_mask(&path, &map, 4_000_000);
        let _ = labelme::read_image(&path, 4_000_000);
    }

    #[test]
    fn classes_files(m in mutations()) {
        let text = b"ignore = 255\n[[classes]]\nname = \"background\"\ncolor = [0, 0, 0]\n\
                     [[classes]]\nname = \"road\"\ncolor = [128, 64, 128]\n";
        let _ = read_classes(&scratch("classes.toml", &mutate(text.to_vec(), &m)));
    }
}
