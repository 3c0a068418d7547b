//! Colours of classes: Pascal VOC's colormap, and colour ↔ label mapping.

/// Pascal VOC's 21 class colours, in label order (background first).
pub const VOC_COLORMAP: [[u8; 3]; 21] = [
    [0, 0, 0],
    [128, 0, 0],
    [0, 128, 0],
    [128, 128, 0],
    [0, 0, 128],
    [128, 0, 128],
    [0, 128, 128],
    [128, 128, 128],
    [64, 0, 0],
    [192, 0, 0],
    [64, 128, 0],
    [192, 128, 0],
    [64, 0, 128],
    [192, 0, 128],
    [64, 128, 128],
    [192, 128, 128],
    [0, 64, 0],
    [128, 64, 0],
    [0, 192, 0],
    [128, 192, 0],
    [0, 64, 128],
];

/// The colour of VOC's void label (255), drawn around object borders.
pub const VOC_BORDER: [u8; 3] = [224, 224, 192];

/// The label that marks pixels to ignore (VOC's void).
pub const IGNORE: u8 = 255;

/// Colour of `label` in VOC's palette scheme, which extends past 21 classes (the bits
/// of the label spread over the high bits of the three channels); 255 is the border
/// colour.
pub fn voc_color(label: u8) -> [u8; 3] {
    if label == IGNORE {
        return VOC_BORDER;
    }
    let mut rgb = [0u8; 3];
    let mut l = label;
    for shift in (0..8).rev() {
        for (c, value) in rgb.iter_mut().enumerate() {
            *value |= ((l >> c) & 1) << shift;
        }
        l >>= 3;
    }
    rgb
}

/// The full 256-entry VOC palette (as written into palette PNG masks).
pub fn voc_palette() -> Vec<[u8; 3]> {
    (0..=255u8).map(voc_color).collect()
}

/// Maps RGB colours to labels.
#[derive(Debug, Clone)]
pub struct ColorMap {
    colors: Vec<([u8; 3], u8)>,
}

impl ColorMap {
    /// `colors[i]` is the colour of class `i`; `void` (if any) maps to [`IGNORE`].
    pub fn new(colors: &[[u8; 3]], void: Option<[u8; 3]>) -> Self {
        let mut map: Vec<([u8; 3], u8)> = colors
            .iter()
            .enumerate()
            .map(|(i, c)| (*c, i as u8))
            .collect();
        if let Some(v) = void {
            map.push((v, IGNORE));
        }
        Self { colors: map }
    }

    /// VOC's 21 colours plus its border colour.
    pub fn voc() -> Self {
        Self::new(&VOC_COLORMAP, Some(VOC_BORDER))
    }

    pub fn label(&self, rgb: [u8; 3]) -> Option<u8> {
        self.colors.iter().find(|(c, _)| *c == rgb).map(|(_, l)| *l)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_palette_starts_with_the_voc_colormap() {
        for (label, want) in VOC_COLORMAP.iter().enumerate() {
            assert_eq!(voc_color(label as u8), *want, "label {label}");
        }
        assert_eq!(voc_color(255), VOC_BORDER);
    }
}
