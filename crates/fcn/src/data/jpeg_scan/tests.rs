//! The buffered walker against the definition: a bit-by-bit walk, as the scan
//! was first read here, on random tables and random entropy-coded bytes.

use super::*;
use proptest::prelude::*;

/// One bit at a time, the code extended bit by bit until `max_code` accepts it.
struct OneBit<'b> {
    bytes: &'b [u8],
    at: usize,
    byte: u8,
    left: u8,
}

impl OneBit<'_> {
    fn bit(&mut self) -> Option<i32> {
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
        Some(i32::from(self.byte >> self.left) & 1)
    }

    fn decode(&mut self, t: &Table) -> Result<u8, Option<()>> {
        let mut code = 0;
        for len in 1..=16 {
            code = (code << 1) | self.bit().ok_or(None)?;
            if code <= t.max_code[len] {
                return t
                    .symbols
                    .get((code + t.offset[len]) as usize)
                    .copied()
                    .ok_or(Some(()));
            }
        }
        Err(Some(()))
    }

    fn skip(&mut self, n: u8) -> Result<(), Option<()>> {
        (0..n).try_for_each(|_| self.bit().map(drop)).ok_or(None)
    }

    fn block(&mut self, c: &ScanComponent) -> Result<(), Option<()>> {
        let size = self.decode(c.dc)?;
        if size > 16 {
            return Err(Some(()));
        }
        self.skip(size)?;
        let mut k = 1;
        while k < 64 {
            let rs = self.decode(c.ac)?;
            match (rs >> 4, rs & 15) {
                (15, 0) => k += 16,
                (_, 0) => return Ok(()),
                (run, size) => {
                    k += run as usize + 1;
                    self.skip(size)?;
                }
            }
        }
        if k > 64 { Err(Some(())) } else { Ok(()) }
    }
}

fn walk_one_bit(
    data: &[u8],
    comps: &[ScanComponent],
    mcus: usize,
    restart: usize,
) -> Result<usize, ScanError> {
    let mut bits = OneBit {
        bytes: data,
        at: 0,
        byte: 0,
        left: 0,
    };
    let truncated = |done| ScanError::Truncated { done, total: mcus };
    for mcu in 0..mcus {
        if restart > 0 && mcu > 0 && mcu % restart == 0 {
            bits.left = 0;
            match data.get(bits.at..bits.at + 2) {
                Some([0xFF, 0xD0..=0xD7]) => bits.at += 2,
                _ if bits.at >= data.len() => return Err(truncated(mcu)),
                _ => return Err(ScanError::Corrupt),
            }
        }
        for c in comps {
            for _ in 0..c.sampling.0 * c.sampling.1 {
                bits.block(c)
                    .map_err(|e| e.map_or(truncated(mcu), |()| ScanError::Corrupt))?;
            }
        }
    }
    Ok(bits.at)
}

/// A table from per-length counts, each cut to the code space left at its length
/// (so most drawn counts give a valid table), and the first symbols.
fn table(counts: &[u8], symbols: &[u8]) -> Option<Table> {
    let mut c = [0u8; 16];
    let mut used = 0u32; // codes taken so far, counted at the current length
    for (len, &n) in counts.iter().enumerate().take(16) {
        used <<= 1;
        let n = u32::from(n).min((2u32 << len) - used);
        c[len] = n as u8;
        used += n;
    }
    let total: usize = c.iter().map(|&n| n as usize).sum();
    Table::new(&c, symbols.get(..total)?)
}

/// True when `data[from..to]` holds no marker (an `FF` not followed by `00`).
fn no_marker_between(data: &[u8], from: usize, to: usize) -> bool {
    (from..to).all(|i| data[i] != 0xFF || data.get(i + 1) == Some(&0x00))
}

/// Bytes of entropy-coded data: stuffing, stray `FF`s and zeros are common.
fn byte() -> impl Strategy<Value = u8> {
    prop_oneof![6 => any::<u8>(), 1 => Just(0xFF), 1 => Just(0x00)]
}

/// AC symbols with many end-of-block (`00`) and zero-run (`F0`) codes, so blocks
/// end early and scans get through several MCUs and restarts.
fn ac_symbol() -> impl Strategy<Value = u8> {
    prop_oneof![3 => Just(0x00), 1 => Just(0xF0), 6 => any::<u8>()]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn walks_like_the_bit_by_bit_definition(
        dc_counts in prop::collection::vec(0u8..4, 1..12),
        ac_counts in prop::collection::vec(0u8..9, 1..16),
        dc_symbols in prop::collection::vec(0u8..18, 256),
        ac_symbols in prop::collection::vec(ac_symbol(), 256),
        chunks in prop::collection::vec(prop::collection::vec(byte(), 0..48), 1..16),
        mcus in 1usize..40,
        restart in 0usize..6,
        sampled in any::<bool>(),
    ) {
        // The chunks joined by restart markers, numbered as an encoder does.
        let mut data = Vec::new();
        for (i, chunk) in chunks.iter().enumerate() {
            if i > 0 {
                data.extend([0xFF, 0xD0 + (i as u8 - 1) % 8]);
            }
            data.extend(chunk);
        }
        let (Some(dc), Some(ac)) = (table(&dc_counts, &dc_symbols), table(&ac_counts, &ac_symbols)) else {
            return Ok(());
        };
        let comps = [
            ScanComponent { sampling: if sampled { (2, 2) } else { (1, 1) }, dc: &dc, ac: &ac },
            ScanComponent { sampling: (1, 1), dc: &dc, ac: &ac },
        ];
        let want = walk_one_bit(&data, &comps, mcus, restart);
        let got = walk(&data, &comps, mcus, restart);
        match (&want, &got) {
            (Ok(end), Ok(at)) => prop_assert!(end <= at && no_marker_between(&data, *end, *at)),
            _ => prop_assert_eq!(want, got),
        }
    }
}
