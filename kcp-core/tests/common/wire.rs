//! Segments built by hand, for tests that play the peer, and a small
//! deterministic random source.

use kcp_core::{Header, OVERHEAD};

/// One segment: `conv`, command byte `cmd` (any value, valid or not), `frg` 0, the given `sn`/`una`/`wnd`/`ts`,
/// then `payload` (its length in the header).
pub fn seg(conv: u32, cmd: u8, sn: u32, una: u32, wnd: u16, ts: u32, payload: &[u8]) -> Vec<u8> {
    segment(
        Header {
            conv,
            cmd,
            frg: 0,
            wnd,
            ts,
            sn,
            una,
            len: 0,
        },
        payload,
    )
}

/// `h` (its `len` set to the payload's) followed by `payload`.
pub fn segment(mut h: Header, payload: &[u8]) -> Vec<u8> {
    h.len = payload.len() as u32;
    let mut v = vec![0u8; OVERHEAD];
    h.encode((&mut v[..]).try_into().unwrap());
    v.extend_from_slice(payload);
    v
}

/// xorshift64*: reproducible bytes without a dependency.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform enough in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}
