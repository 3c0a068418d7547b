//! Walks the Huffman-coded data of a baseline JPEG scan block by block, as a
//! decoder reads it, without computing any pixel: the scan is complete only if
//! every block of every MCU decodes before the data reaches a marker. A file cut
//! short and given an end-of-image marker (which decoders accept, filling the rest
//! with grey) fails here, because its scan data stops before its last block.

/// Codes this long or shorter decode by one lookup.
const FAST_BITS: u32 = 9;

/// A Huffman table as `DHT` defines it: code counts per length, then the symbols.
#[derive(Debug, Clone)]
pub struct Table {
    /// Per code length 1..=16: the largest code of that length (or -1 for none)
    /// and where its symbols start in `symbols`, less the length's first code.
    max_code: [i32; 17],
    offset: [i32; 17],
    symbols: Vec<u8>,
    /// By the next [`FAST_BITS`] bits: `length << 8 | symbol` of the code they
    /// start with, or 0 when that code is longer.
    fast: Vec<u16>,
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
        let mut table = Table {
            max_code,
            offset,
            symbols: symbols.to_vec(),
            fast: vec![0; 1 << FAST_BITS],
        };
        table.fill_fast(counts);
        Some(table)
    }

    /// Every code of at most [`FAST_BITS`] bits fills the entries its bits start.
    fn fill_fast(&mut self, counts: &[u8; 16]) {
        for len in 1..=FAST_BITS as usize {
            let first = self.max_code[len] + 1 - i32::from(counts[len - 1]);
            for code in first..=self.max_code[len] {
                let symbol = self.symbols[(code + self.offset[len]) as usize];
                let shift = FAST_BITS as usize - len;
                let from = (code as usize) << shift;
                self.fast[from..from + (1 << shift)].fill((len as u16) << 8 | u16::from(symbol));
            }
        }
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

/// Reads bits MSB first from entropy-coded bytes, undoing byte stuffing, a few
/// bytes ahead into a 64-bit buffer; stops loading at any marker or the end, and
/// reading a bit it could not load fails.
struct Bits<'b> {
    bytes: &'b [u8],
    /// The next byte to load.
    at: usize,
    /// Loaded bits not yet read, from the top bit down; zeros below them.
    buffer: u64,
    loaded: u32,
    stopped: bool,
}

impl Bits<'_> {
    fn refill(&mut self) {
        while self.loaded <= 56 && !self.stopped {
            let Some(&b) = self.bytes.get(self.at) else {
                self.stopped = true;
                break;
            };
            if b == 0xFF {
                if self.bytes.get(self.at + 1) != Some(&0x00) {
                    self.stopped = true;
                    break;
                }
                self.at += 1;
            }
            self.at += 1;
            self.buffer |= u64::from(b) << (56 - self.loaded);
            self.loaded += 8;
        }
    }

    /// The next 16 bits (zeros past what could be loaded).
    fn peek(&mut self) -> u32 {
        if self.loaded < 16 {
            self.refill();
        }
        (self.buffer >> 48) as u32
    }

    /// Reads `n` ≤ 16 bits; `None` if the data stops first.
    fn bits(&mut self, n: u32) -> Option<()> {
        if self.loaded < n {
            self.refill();
            if self.loaded < n {
                return None;
            }
        }
        self.buffer <<= n;
        self.loaded -= n;
        Some(())
    }

    /// One symbol; `Err(None)` if the data stops first, `Err(Some(()))` for a code
    /// the table lacks.
    fn decode(&mut self, t: &Table) -> Result<u8, Option<()>> {
        let next = self.peek();
        let entry = t.fast[(next >> (16 - FAST_BITS)) as usize];
        if entry != 0 {
            self.bits(u32::from(entry >> 8)).ok_or(None)?;
            return Ok(entry as u8);
        }
        for len in FAST_BITS as usize + 1..=16 {
            let code = (next >> (16 - len)) as i32;
            if code <= t.max_code[len] {
                self.bits(len as u32).ok_or(None)?;
                let i = (code + t.offset[len]) as usize;
                return t.symbols.get(i).copied().ok_or(Some(()));
            }
        }
        // No code: corrupt if all 16 bits were data, else the data stopped first.
        Err(if self.loaded < 16 { None } else { Some(()) })
    }

    /// Skips the rest of the byte and a restart marker, which must come next.
    fn restart(&mut self) -> Result<(), RestartError> {
        let partial = self.loaded % 8;
        self.buffer <<= partial;
        self.loaded -= partial;
        if self.loaded > 0 {
            return Err(RestartError::Corrupt);
        }
        match self.bytes.get(self.at..self.at + 2) {
            Some([0xFF, 0xD0..=0xD7]) => {
                self.at += 2;
                self.stopped = false;
                Ok(())
            }
            _ if self.at >= self.bytes.len() => Err(RestartError::End),
            _ => Err(RestartError::Corrupt),
        }
    }
}

/// Why a restart marker was not where it should be.
enum RestartError {
    /// The data ended first.
    End,
    /// Something else came first.
    Corrupt,
}

/// Walks `mcus` MCUs of `components` in `data` (which starts right after the `SOS`
/// header), with a restart marker every `restart` MCUs (0: none). Returns an offset
/// in `data` past the last block's bits and not past the marker that ends the scan.
pub fn walk(
    data: &[u8],
    components: &[ScanComponent],
    mcus: usize,
    restart: usize,
) -> Result<usize, ScanError> {
    let mut bits = Bits {
        bytes: data,
        at: 0,
        buffer: 0,
        loaded: 0,
        stopped: false,
    };
    let truncated = |done| ScanError::Truncated { done, total: mcus };
    for mcu in 0..mcus {
        if restart > 0 && mcu > 0 && mcu % restart == 0 {
            bits.restart().map_err(|e| match e {
                RestartError::End => truncated(mcu),
                RestartError::Corrupt => ScanError::Corrupt,
            })?;
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
    bits.bits(u32::from(size)).ok_or(None)?;
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
            bits.bits(u32::from(size)).ok_or(None)?;
        }
    }
    if k > 64 { Err(Some(())) } else { Ok(()) }
}

#[cfg(test)]
mod tests;
