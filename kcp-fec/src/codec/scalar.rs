//! Portable kernel: one 256-byte product-table row per coefficient.

use crate::gf;

pub(crate) fn run<const ACC: bool>(c: u8, src: &[u8], dst: &mut [u8]) {
    let row = &gf::MUL[c as usize];
    if ACC {
        for (d, s) in dst.iter_mut().zip(src) {
            *d ^= row[*s as usize];
        }
    } else {
        for (d, s) in dst.iter_mut().zip(src) {
            *d = row[*s as usize];
        }
    }
}

/// `dst ^= src`, written in 8-byte words so it vectorises on any target.
pub(crate) fn xor(src: &[u8], dst: &mut [u8]) {
    let mut dc = dst.chunks_exact_mut(8);
    let mut sc = src.chunks_exact(8);
    for (d, s) in (&mut dc).zip(&mut sc) {
        let v = u64::from_ne_bytes((&*d).try_into().unwrap_or([0; 8]))
            ^ u64::from_ne_bytes(s.try_into().unwrap_or([0; 8]));
        d.copy_from_slice(&v.to_ne_bytes());
    }
    for (d, s) in dc.into_remainder().iter_mut().zip(sc.remainder()) {
        *d ^= *s;
    }
}
