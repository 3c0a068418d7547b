//! Walks the Huffman-coded data of a baseline JPEG scan block by block, as a
//! decoder reads it, without computing any pixel: the scan is complete only if
//! every block of every MCU decodes before the data reaches a marker. A file cut
//! short and given an end-of-image marker (which decoders accept, filling the rest
//! with grey) fails here, because its scan data stops before its last block.

/// A Huffman table as `DHT` defines it: code counts per length, then the symbols.
#[derive(Debug, Clone)]
pub struct Table {
    /// Per code length 1..=16: the largest code of that length (or -1 for none)
    /// and where its symbols start in `symbols`, less the length's first code.
    max_code: [i32; 17],
    offset: [i32; 17],
    symbols: Vec<u8>,
}

impl Table {
    /// From the 16 counts and the symbols of a `DHT` table; `None` if they disagree.
    pub fn new(counts: &[u8; 16], symbols: &[u8]) -> Option<Table> {
        let total: usize = counts.iter().map(|&c| c as usize).sum();
        if total != symbols.len() || total > 256 {
            return None;
        }
        let (mut max_code, mut offset) = ([-1i32; 17], [0i32; 17]);
        let (mut code, mut index) = (0i32, 0i32);
        for len in 1..=16 {
            let n = counts[len - 1] as i32;
            offset[len] = index - code;
            if n > 0 {
                code += n;
                index += n;
                max_code[len] = code - 1;
            }
            if code > (1 << len) {
                return None;
            }
            code <<= 1;
        }
        Some(Table {
            max_code,
            offset,
            symbols: symbols.to_vec(),
        })
    }
}

/// One component of a scan: its blocks per MCU and its tables.
pub struct ScanComponent<'t> {
    /// Horizontal and vertical sampling factors (1×1 in a non-interleaved scan).
    pub sampling: (usize, usize),
    pub dc: &'t Table,
    pub ac: &'t Table,
}

/// Why the scan data is not whole.
#[derive(Debug, PartialEq, Eq)]
pub enum ScanError {
    /// The data reached a marker (or the file's end) after `done` of `total` MCUs.
    Truncated { done: usize, total: usize },
    /// A code no table defines, or a restart marker out of place.
    Corrupt,
}

/// Reads bits MSB first from entropy-coded bytes, undoing byte stuffing; stops at
/// any marker.
struct Bits<'b> {
    bytes: &'b [u8],
    at: usize,
    byte: u8,
    left: u8,
}

impl Bits<'_> {
    fn bit(&mut self) -> Option<u32> {
        if self.left == 0 {
            let b = *self.bytes.get(self.at)?;
            if b == 0xFF {
                if *self.bytes.get(self.at + 1)? != 0x00 {
                    return None;
                }
                self.at += 1;
            }
            self.at += 1;
            self.byte = b;
            self.left = 8;
        }
        self.left -= 1;
        Some(u32::from(self.byte >> self.left) & 1)
    }

    fn bits(&mut self, n: u8) -> Option<()> {
        (0..n).try_for_each(|_| self.bit().map(drop))
    }

    fn decode(&mut self, t: &Table) -> Result<u8, Option<()>> {
        let mut code = 0i32;
        for len in 1..=16 {
            code = (code << 1) | self.bit().ok_or(None)? as i32;
            if code <= t.max_code[len] {
                let i = (code + t.offset[len]) as usize;
                return t.symbols.get(i).copied().ok_or(Some(()));
            }
        }
        Err(Some(()))
    }

    /// Skips the rest of the byte and a restart marker, which must come next.
    fn restart(&mut self) -> bool {
        self.left = 0;
        match self.bytes.get(self.at..self.at + 2) {
            Some([0xFF, 0xD0..=0xD7]) => {
                self.at += 2;
                true
            }
            _ => false,
        }
    }
}

/// Walks `mcus` MCUs of `components` in `data` (which starts right after the `SOS`
/// header), with a restart marker every `restart` MCUs (0: none). Returns the offset
/// in `data` just past the last byte of the scan.
pub fn walk(
    data: &[u8],
    components: &[ScanComponent],
    mcus: usize,
    restart: usize,
) -> Result<usize, ScanError> {
    let mut bits = Bits {
        bytes: data,
        at: 0,
        byte: 0,
        left: 0,
    };
    let truncated = |done| ScanError::Truncated { done, total: mcus };
    for mcu in 0..mcus {
        if restart > 0 && mcu > 0 && mcu % restart == 0 && !bits.restart() {
            return Err(if bits.at >= data.len() {
                truncated(mcu)
            } else {
                ScanError::Corrupt
            });
        }
        for c in components {
            for _ in 0..c.sampling.0 * c.sampling.1 {
                block(&mut bits, c).map_err(|e| match e {
                    None => truncated(mcu),
                    Some(()) => ScanError::Corrupt,
                })?;
            }
        }
    }
    Ok(bits.at)
}

/// One 8×8 block: a DC difference, then run-length coded AC coefficients.
fn block(bits: &mut Bits, c: &ScanComponent) -> Result<(), Option<()>> {
    let size = bits.decode(c.dc)?;
    if size > 16 {
        return Err(Some(()));
    }
    bits.bits(size).ok_or(None)?;
    let mut k = 1;
    while k < 64 {
        let rs = bits.decode(c.ac)?;
        let (run, size) = (rs >> 4, rs & 15);
        if size == 0 {
            if run != 15 {
                return Ok(());
            }
            k += 16;
        } else {
            k += run as usize + 1;
            bits.bits(size).ok_or(None)?;
        }
    }
    if k > 64 { Err(Some(())) } else { Ok(()) }
}
