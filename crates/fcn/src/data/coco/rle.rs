//! COCO's run-length encoding of a binary mask: the pixels in column-major order
//! (down each column, then the next column), as alternating run lengths that
//! start with a run of zeros. Annotation files store the counts as a list
//! ("uncompressed") or as pycocotools' compact string ("compressed": each count,
//! after the third, as its difference from the count two before, in little-endian
//! groups of five bits, each group a character from `'0'` (48) upwards, with `0x20`
//! marking that more groups follow and `0x10` of the last group the sign).

use ndarray::Array2;

/// A run-length encoded `height × width` mask.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rle {
    pub height: usize,
    pub width: usize,
    pub counts: Vec<u32>,
}

/// The most characters one count may take: 7 groups of 5 bits hold any `u32`
/// difference; more is a corrupt string.
const MAX_GROUPS: u32 = 7;

impl Rle {
    /// The encoding of `mask` (true = inside).
    pub fn encode(mask: &Array2<bool>) -> Self {
        let (height, width) = mask.dim();
        let mut counts = Vec::new();
        let (mut value, mut run) = (false, 0u32);
        for x in 0..width {
            for y in 0..height {
                if mask[[y, x]] != value {
                    counts.push(run);
                    value = !value;
                    run = 0;
                }
                run += 1;
            }
        }
        counts.push(run);
        Self {
            height,
            width,
            counts,
        }
    }

    /// Checks that the runs cover exactly the `height × width` pixels.
    pub fn check(&self) -> Result<(), String> {
        let total: u64 = self.counts.iter().map(|&c| c as u64).sum();
        let pixels = (self.height as u64).saturating_mul(self.width as u64);
        if total != pixels {
            return Err(format!(
                "RLE counts cover {total} pixels but its size {}×{} has {pixels}",
                self.height, self.width
            ));
        }
        Ok(())
    }

    /// Calls `f(y, x)` for every pixel inside the mask, column by column. The
    /// counts must have passed [`Rle::check`].
    pub fn for_each_inside(&self, mut f: impl FnMut(usize, usize)) {
        let mut index = 0usize;
        for (k, &count) in self.counts.iter().enumerate() {
            let count = count as usize;
            if k % 2 == 1 {
                for i in index..index + count {
                    f(i % self.height, i / self.height);
                }
            }
            index += count;
        }
    }

    /// The mask itself.
    pub fn decode(&self) -> Array2<bool> {
        let mut mask = Array2::from_elem((self.height, self.width), false);
        self.for_each_inside(|y, x| mask[[y, x]] = true);
        mask
    }

    /// pycocotools' compressed string of these counts.
    pub fn to_compressed(&self) -> String {
        let mut out = String::new();
        for (i, &count) in self.counts.iter().enumerate() {
            let mut x = count as i64;
            if i > 2 {
                x -= self.counts[i - 2] as i64;
            }
            loop {
                let mut c = (x & 0x1f) as u8;
                x >>= 5;
                let more = if c & 0x10 != 0 { x != -1 } else { x != 0 };
                if more {
                    c |= 0x20;
                }
                out.push((c + 48) as char);
                if !more {
                    break;
                }
            }
        }
        out
    }

    /// Reads pycocotools' compressed string for a `height × width` mask.
    pub fn from_compressed(text: &str, height: usize, width: usize) -> Result<Self, String> {
        let mut counts: Vec<u32> = Vec::new();
        let mut bytes = text.bytes().peekable();
        while bytes.peek().is_some() {
            let (mut x, mut groups) = (0i64, 0u32);
            loop {
                let Some(b) = bytes.next() else {
                    return Err("compressed RLE ends inside a count".into());
                };
                if !(48..48 + 64).contains(&b) {
                    return Err(format!("compressed RLE has the character {:?}", b as char));
                }
                if groups == MAX_GROUPS {
                    return Err("compressed RLE has a count too long for 32 bits".into());
                }
                let c = (b - 48) as i64;
                x |= (c & 0x1f) << (5 * groups);
                groups += 1;
                if c & 0x20 == 0 {
                    if c & 0x10 != 0 {
                        x |= -1i64 << (5 * groups);
                    }
                    break;
                }
            }
            if counts.len() > 2 {
                x += counts[counts.len() - 2] as i64;
            }
            let count =
                u32::try_from(x).map_err(|_| format!("compressed RLE decodes to the count {x}"))?;
            counts.push(count);
        }
        Ok(Self {
            height,
            width,
            counts,
        })
    }
}
