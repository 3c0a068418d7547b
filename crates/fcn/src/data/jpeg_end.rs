//! Where a JPEG's image data ends, found by walking its structure: marker
//! segments (each with its length), the entropy-coded data after each start of
//! scan, and finally the end-of-image marker. JPEG decoders quietly fill in a
//! missing tail, so a file cut short would otherwise decode as a smeared image;
//! and data after the end (motion photos append a video) is not a truncation.

use super::jpeg_scan::{ScanComponent, ScanError, Table, walk};

/// The offset just past the end-of-image marker, or why the file ends before one:
/// its structure breaks, or (for baseline Huffman JPEGs, whose scans are walked
/// block by block by `jpeg_scan`) a scan's data stops before its last block.
pub fn image_end(bytes: &[u8]) -> Result<usize, String> {
    let broken = || "the JPEG data stops before its end-of-image marker".to_string();
    if !bytes.starts_with(&[0xFF, 0xD8]) {
        return Err("not a JPEG: no start-of-image marker".into());
    }
    let mut state = Tables::default();
    let mut at = 2;
    loop {
        let (marker, next) = next_marker(bytes, at).ok_or_else(broken)?;
        at = next;
        match marker {
            0xD9 => return Ok(at),
            // Markers without a length: restart markers, TEM, a stray SOI.
            0xD0..=0xD8 | 0x01 => {}
            _ => {
                let len = u16::from_be_bytes([
                    *bytes.get(at).ok_or_else(broken)?,
                    *bytes.get(at + 1).ok_or_else(broken)?,
                ]) as usize;
                let end = at
                    .checked_add(len)
                    .filter(|&e| len >= 2 && e <= bytes.len());
                let end = end.ok_or_else(broken)?;
                state.read_segment(marker, &bytes[at + 2..end]);
                at = end;
                if marker == 0xDA {
                    at = state.scan_end(bytes, at)?;
                }
            }
        }
    }
}

/// A baseline frame: its size and per component the id and sampling factors.
struct Frame {
    width: usize,
    height: usize,
    components: Vec<(u8, usize, usize)>,
}

/// What the segments before a scan say about it.
#[derive(Default)]
struct Tables {
    /// The frame, when it is baseline Huffman.
    frame: Option<Frame>,
    dc: [Option<Table>; 4],
    ac: [Option<Table>; 4],
    restart: usize,
    /// The current scan's `(component index, dc table, ac table)`.
    scan: Vec<(usize, usize, usize)>,
}

impl Tables {
    fn read_segment(&mut self, marker: u8, body: &[u8]) {
        match marker {
            0xC0 | 0xC1 => self.frame = frame(body),
            // Progressive, lossless or arithmetic-coded: scans are skipped, not walked.
            0xC2 | 0xC3 | 0xC5..=0xC7 | 0xC9..=0xCB | 0xCD..=0xCF => self.frame = None,
            0xC4 => self.huffman(body),
            0xDD if body.len() >= 2 => {
                self.restart = u16::from_be_bytes([body[0], body[1]]) as usize
            }
            0xDA => self.scan = self.scan_header(body).unwrap_or_default(),
            _ => {}
        }
    }

    fn huffman(&mut self, mut body: &[u8]) {
        while body.len() >= 17 {
            let (class, id) = (body[0] >> 4, (body[0] & 15) as usize);
            let counts: [u8; 16] = body[1..17].try_into().expect("16 bytes");
            let n: usize = counts.iter().map(|&c| c as usize).sum();
            let Some(symbols) = body.get(17..17 + n) else {
                return;
            };
            let table = Table::new(&counts, symbols);
            match (class, id) {
                (0, 0..=3) => self.dc[id] = table,
                (1, 0..=3) => self.ac[id] = table,
                _ => return,
            }
            body = &body[17 + n..];
        }
    }

    /// The scan's components as indices into the frame, with their table ids.
    fn scan_header(&self, body: &[u8]) -> Option<Vec<(usize, usize, usize)>> {
        let comps = &self.frame.as_ref()?.components;
        let n = *body.first()? as usize;
        (0..n)
            .map(|i| {
                let (id, tables) = (*body.get(1 + 2 * i)?, *body.get(2 + 2 * i)?);
                let index = comps.iter().position(|c| c.0 == id)?;
                Some((index, (tables >> 4) as usize, (tables & 15) as usize))
            })
            .collect()
    }

    /// Where the scan whose data starts at `at` ends: walked block by block when
    /// the frame and tables allow it, else found at the next marker.
    fn scan_end(&self, bytes: &[u8], at: usize) -> Result<usize, String> {
        if let Some((components, mcus)) = self.scan_layout() {
            match walk(&bytes[at..], &components, mcus, self.restart) {
                Ok(n) => return skip_entropy_data(bytes, at + n).ok_or_else(cut),
                Err(ScanError::Truncated { done, total }) => {
                    return Err(format!(
                        "the JPEG scan data stops after {done} of its {total} blocks"
                    ));
                }
                Err(ScanError::Corrupt) => return Err("corrupt JPEG scan data".into()),
            }
        }
        skip_entropy_data(bytes, at).ok_or_else(cut)
    }

    fn scan_layout(&self) -> Option<(Vec<ScanComponent<'_>>, usize)> {
        let Frame {
            width,
            height,
            components: comps,
        } = self.frame.as_ref()?;
        let hmax = comps.iter().map(|c| c.1).max()?;
        let vmax = comps.iter().map(|c| c.2).max()?;
        let single = self.scan.len() == 1;
        let components = self
            .scan
            .iter()
            .map(|&(i, dc, ac)| {
                let (_, h, v) = comps[i];
                Some(ScanComponent {
                    sampling: if single { (1, 1) } else { (h, v) },
                    dc: self.dc.get(dc)?.as_ref()?,
                    ac: self.ac.get(ac)?.as_ref()?,
                })
            })
            .collect::<Option<Vec<_>>>()?;
        let mcus = match self.scan.as_slice() {
            [] => return None,
            [(i, _, _)] => {
                let (_, h, v) = comps[*i];
                (width * h).div_ceil(hmax).div_ceil(8) * (height * v).div_ceil(vmax).div_ceil(8)
            }
            _ => width.div_ceil(8 * hmax) * height.div_ceil(8 * vmax),
        };
        Some((components, mcus))
    }
}

fn cut() -> String {
    "the JPEG data stops before its end-of-image marker".into()
}

/// A baseline frame header: sample precision, height, width, then per component
/// its id, sampling factors and quantisation table.
fn frame(body: &[u8]) -> Option<Frame> {
    let height = u16::from_be_bytes([*body.get(1)?, *body.get(2)?]) as usize;
    let width = u16::from_be_bytes([*body.get(3)?, *body.get(4)?]) as usize;
    let n = *body.get(5)? as usize;
    let comps = (0..n)
        .map(|i| {
            let (id, hv) = (*body.get(6 + 3 * i)?, *body.get(7 + 3 * i)?);
            let (h, v) = ((hv >> 4) as usize, (hv & 15) as usize);
            (1..=4).contains(&h).then_some(())?;
            (1..=4).contains(&v).then_some(())?;
            Some((id, h, v))
        })
        .collect::<Option<Vec<_>>>()?;
    // A height of 0 comes with a DNL marker after the scan: not walked.
    (width > 0 && height > 0 && !comps.is_empty()).then_some(Frame {
        width,
        height,
        components: comps,
    })
}

/// The marker at `at` (after any 0xFF fill bytes) and the offset after it.
fn next_marker(bytes: &[u8], mut at: usize) -> Option<(u8, usize)> {
    if *bytes.get(at)? != 0xFF {
        return None;
    }
    while *bytes.get(at)? == 0xFF {
        at += 1;
    }
    Some((bytes[at], at + 1))
}

/// The offset of the first marker after entropy-coded data starting at `at`:
/// inside the data, 0xFF is followed by 0x00 (a stuffed byte) or a restart marker.
fn skip_entropy_data(bytes: &[u8], mut at: usize) -> Option<usize> {
    loop {
        let ff = at + memchr_ff(&bytes[at..])?;
        match *bytes.get(ff + 1)? {
            0x00 | 0xD0..=0xD7 | 0xFF => at = ff + 1,
            _ => return Some(ff),
        }
    }
}

fn memchr_ff(bytes: &[u8]) -> Option<usize> {
    bytes.iter().position(|&b| b == 0xFF)
}

#[cfg(test)]
mod tests {
    use super::image_end;

    /// SOI, one APP0 segment of 4 bytes, SOS with a 4-byte header, entropy data
    /// with a stuffed FF 00 and a restart marker, EOI.
    fn tiny() -> Vec<u8> {
        vec![
            0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x04, 1, 2, 0xFF, 0xDA, 0x00, 0x04, 9, 9, 0x12, 0xFF,
            0x00, 0x34, 0xFF, 0xD0, 0x56, 0xFF, 0xD9,
        ]
    }

    #[test]
    fn finds_the_end_past_stuffed_bytes_and_restarts() {
        let b = tiny();
        assert_eq!(image_end(&b), Ok(b.len()));
    }

    #[test]
    fn trailing_data_is_not_truncation() {
        let mut b = tiny();
        let end = b.len();
        b.extend(std::iter::repeat_n(0xAB, 10_000));
        assert_eq!(image_end(&b), Ok(end));
    }

    #[test]
    fn every_cut_is_truncation() {
        let b = tiny();
        for n in 0..b.len() {
            assert!(image_end(&b[..n]).is_err(), "cut at {n}");
        }
    }
}
