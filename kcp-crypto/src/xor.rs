//! kcp-go's "simple XOR" cipher (spec `session.md` §3.3).

use crate::MTU_LIMIT;
use sha1::Sha1;

/// Salt of the XOR key table.
const SALT: &[u8] = b"sH3CIVoF#rWLtJo6";
/// PBKDF2 rounds of the XOR key table.
const ROUNDS: u32 = 32;

/// The 1500-byte table XORed over every datagram.
#[derive(Clone)]
pub(crate) struct Xor {
    table: Box<Table>,
}

/// Cache-line aligned, so that when the datagram is 32-byte aligned the
/// table's 32-byte loads in `simd::xor_in_place` do not cross cache lines
/// either (a line-crossing load costs two).
#[derive(Clone)]
#[repr(C, align(64))]
struct Table([u8; MTU_LIMIT]);

impl Xor {
    pub(crate) fn new(key: &[u8]) -> Self {
        let mut table = Box::new(Table([0u8; MTU_LIMIT]));
        pbkdf2::pbkdf2_hmac::<Sha1>(key, SALT, ROUNDS, &mut table.0[..]);
        Xor { table }
    }

    /// XORs the table over `buf`; like Go's `subtle.XORBytes`, bytes past the
    /// table's 1500 are left alone. Its own inverse.
    #[inline]
    pub(crate) fn apply(&self, buf: &mut [u8]) {
        crate::simd::xor_in_place(buf, &self.table.0[..]);
    }
}
