//! Overlays: classes blended over the image, with a legend naming the classes present.

use fcn::data::synthetic;
use fcn::infer::overlay;

#[test]
fn overlay_has_a_legend_with_the_classes_present() {
    let sample = synthetic::render(5, 3, (96, 144));
    let names: Vec<String> = synthetic::CLASSES.iter().map(|s| s.to_string()).collect();
    let out = overlay(&sample.image, &sample.mask, &names, 0.5);
    assert_eq!(out.width(), 144);
    assert!(out.height() > 96, "a legend strip is added below the image");
    if let Some(dir) = std::env::var_os("FCN_OVERLAY_OUT") {
        out.save(std::path::Path::new(&dir).join("overlay.png"))
            .unwrap();
    }
    // The legend holds black text and the colour of every class present.
    let legend: Vec<[u8; 3]> = (96..out.height())
        .flat_map(|y| (0..out.width()).map(move |x| (x, y)))
        .map(|(x, y)| out.get_pixel(x, y).0)
        .collect();
    assert!(legend.contains(&[0, 0, 0]));
    let mut present: Vec<u8> = sample.mask.iter().copied().filter(|&v| v != 255).collect();
    present.sort();
    present.dedup();
    for label in present {
        let c = fcn::data::colormap::voc_color(label);
        if label != 0 {
            assert!(legend.contains(&c), "no swatch for class {label}");
        }
    }
    // Object pixels are tinted; background pixels are unchanged.
    let (y, x) = sample
        .mask
        .indexed_iter()
        .find(|(_, v)| **v == 0)
        .unwrap()
        .0;
    assert_eq!(
        out.get_pixel(x as u32, y as u32),
        sample.image.get_pixel(x as u32, y as u32)
    );
}
