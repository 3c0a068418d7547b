//! Where a JPEG's image data ends, found by walking its structure: marker
//! segments (each with its length), the entropy-coded data after each start of
//! scan, and finally the end-of-image marker. JPEG decoders quietly fill in a
//! missing tail, so a file cut short would otherwise decode as a smeared image;
//! and data after the end (motion photos append a video) is not a truncation.

/// The offset just past the end-of-image marker, or `None` when the file ends
/// (or its structure breaks) before one.
pub fn image_end(bytes: &[u8]) -> Option<usize> {
    if !bytes.starts_with(&[0xFF, 0xD8]) {
        return None;
    }
    let mut at = 2;
    loop {
        let (marker, next) = next_marker(bytes, at)?;
        at = next;
        match marker {
            0xD9 => return Some(at),
            // Markers without a length: restart markers, TEM, a stray SOI.
            0xD0..=0xD8 | 0x01 => {}
            _ => {
                let len = u16::from_be_bytes([*bytes.get(at)?, *bytes.get(at + 1)?]) as usize;
                if len < 2 {
                    return None;
                }
                at = at.checked_add(len)?;
                if at > bytes.len() {
                    return None;
                }
                if marker == 0xDA {
                    at = skip_entropy_data(bytes, at)?;
                }
            }
        }
    }
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
        assert_eq!(image_end(&b), Some(b.len()));
    }

    #[test]
    fn trailing_data_is_not_truncation() {
        let mut b = tiny();
        let end = b.len();
        b.extend(std::iter::repeat_n(0xAB, 10_000));
        assert_eq!(image_end(&b), Some(end));
    }

    #[test]
    fn every_cut_is_truncation() {
        let b = tiny();
        for n in 0..b.len() {
            assert_eq!(image_end(&b[..n]), None, "cut at {n}");
        }
    }
}
