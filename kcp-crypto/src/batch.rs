//! Batch seal/open for the session's send and receive paths.
//!
//! CFB encryption is serial inside a datagram (each block feeds the next),
//! so one datagram runs at the latency of the block cipher. Across datagrams
//! the chains are independent: [`Crypt::seal_batch`] walks several
//! datagrams in lock step. For AES it runs sixteen at once on 512-bit VAES
//! (four packets per register, `aesni::encrypt_lanes16`) when the CPU has
//! it, else eight on AES-NI; the other block ciphers encrypt block `i` of
//! eight datagrams with one eight-block call (interleaved rounds). The
//! scalar [`Crypt::seal`] stays the reference; `tests/batch.rs` checks that
//! both produce the same bytes.

use crate::block::{Inner, with_cfb};
use crate::cfb::{self, BlockEnc, LANES};
use crate::framing::{Layer, write_crc};
use crate::{Crypt, CryptError};
use core::ops::Range;

impl Crypt {
    /// Seals many datagrams at once, with the same layout rules as
    /// [`seal`](Self::seal).
    ///
    /// `lens[i]` is the payload length of `bufs[i]` on input and the sealed
    /// datagram length on success. Every buffer is checked before any is
    /// touched: on error (the first bad buffer's [`seal`](Self::seal) error, or
    /// [`CryptError::BatchLength`] if the slices differ in length) nothing
    /// has changed.
    ///
    /// ```
    /// use kcp_crypto::{Crypt, CryptName};
    /// let mut tx = Crypt::from_passphrase(CryptName::Aes128, "k")?;
    /// let rx = Crypt::from_passphrase(CryptName::Aes128, "k")?;
    /// let mut bufs = vec![vec![0u8; 1500]; 3];
    /// let mut lens = [100, 0, 1400];
    /// tx.seal_batch(&mut bufs, &mut lens)?;
    /// assert_eq!(lens, [120, 20, 1420]);
    /// for (b, n) in bufs.iter_mut().zip(lens) {
    ///     assert!(rx.open(&mut b[..n]).is_ok());
    /// }
    /// # Ok::<(), kcp_crypto::CryptError>(())
    /// ```
    pub fn seal_batch<B: AsMut<[u8]>>(
        &mut self,
        bufs: &mut [B],
        lens: &mut [usize],
    ) -> Result<(), CryptError> {
        if bufs.len() != lens.len() {
            return Err(CryptError::BatchLength {
                bufs: bufs.len(),
                lens: lens.len(),
            });
        }
        for (b, &len) in bufs.iter_mut().zip(lens.iter()) {
            self.check_seal(b.as_mut().len(), len)?;
        }
        for (b, len) in bufs.iter_mut().zip(lens.iter_mut()) {
            *len += self.overhead();
            let nl = self.nonce_len();
            self.rng.fill(&mut b.as_mut()[..nl]);
        }
        match &self.layer {
            Layer::Block(block) if block.is_cfb() => {
                for (b, &n) in bufs.iter_mut().zip(lens.iter()) {
                    write_crc(&mut b.as_mut()[..n]);
                }
                #[cfg(target_arch = "x86_64")]
                if let Some(ni) = &block.ni {
                    use crate::aesni::WIDE_LANES;
                    let wide = if ni.has_wide_lanes() {
                        bufs.len() / WIDE_LANES * WIDE_LANES
                    } else {
                        0
                    };
                    let (head, rest) = bufs.split_at_mut(wide);
                    for (group, ns) in head.chunks_mut(WIDE_LANES).zip(lens.chunks(WIDE_LANES)) {
                        let mut lanes: [&mut [u8]; WIDE_LANES] = Default::default();
                        for ((lane, b), &n) in lanes.iter_mut().zip(group.iter_mut()).zip(ns) {
                            *lane = &mut b.as_mut()[..n];
                        }
                        ni.encrypt_lanes16(&mut lanes);
                    }
                    for (group, ns) in rest.chunks_mut(LANES).zip(lens[wide..].chunks(LANES)) {
                        let mut lanes: [&mut [u8]; LANES] = Default::default();
                        for ((lane, b), &n) in lanes.iter_mut().zip(group.iter_mut()).zip(ns) {
                            *lane = &mut b.as_mut()[..n];
                        }
                        ni.encrypt_lanes(&mut lanes);
                    }
                    return Ok(());
                }
                let groups = bufs.chunks_mut(LANES).zip(lens.chunks(LANES));
                with_cfb!(&block.inner, |c| {
                    for (group, ns) in groups {
                        let mut lanes: [&mut [u8]; LANES] = Default::default();
                        for ((lane, b), &n) in lanes.iter_mut().zip(group.iter_mut()).zip(ns) {
                            *lane = &mut b.as_mut()[..n];
                        }
                        encrypt_lanes(&**c, &mut lanes);
                    }
                }, _other => unreachable!("checked is_cfb"))
            }
            _ => {
                for (b, &n) in bufs.iter_mut().zip(lens.iter()) {
                    self.seal_filled(b.as_mut(), n);
                }
            }
        }
        Ok(())
    }

    /// Opens many datagrams; `out[i]` receives what
    /// [`open_in_place`](Self::open_in_place) would return for
    /// `datagrams[i]` (each buffer is exactly one received datagram). Extra
    /// entries on either side are ignored.
    ///
    /// CFB decryption is already parallel inside one datagram, so this is a
    /// loop; it exists so the session's receive path has one call per batch.
    pub fn open_batch<B: AsMut<[u8]>>(
        &self,
        datagrams: &mut [B],
        out: &mut [Result<Range<usize>, CryptError>],
    ) {
        for (d, r) in datagrams.iter_mut().zip(out.iter_mut()) {
            *r = self.open_in_place(d.as_mut());
        }
    }
}

impl crate::BlockCrypt {
    pub(crate) fn is_cfb(&self) -> bool {
        !matches!(self.inner, Inner::Salsa20(_) | Inner::Xor(_) | Inner::None)
    }
}

/// CFB-encrypts up to eight buffers (empty slices are idle lanes) in lock
/// step: block `i` of every buffer goes through one `encrypt8` call. Produces
/// exactly what [`cfb::encrypt`] does on each buffer alone.
pub(crate) fn encrypt_lanes<const N: usize, C: BlockEnc<N>>(c: &C, lanes: &mut [&mut [u8]; LANES]) {
    let mut regs = [[0u8; N]; LANES];
    for r in regs.iter_mut() {
        *r = cfb::first_register(c);
    }
    let longest = lanes.iter().map(|l| l.len()).max().unwrap_or(0);
    let mut off = 0;
    while off < longest {
        if off > 0 {
            // Lanes already done encrypt a stale register: wasted work but no harm.
            let live = lanes.iter().filter(|l| l.len() > off).count();
            if live > 1 {
                c.encrypt8(&mut regs);
            } else {
                for (r, l) in regs.iter_mut().zip(lanes.iter()) {
                    if l.len() > off {
                        c.encrypt(r);
                    }
                }
            }
        }
        for (r, l) in regs.iter_mut().zip(lanes.iter_mut()) {
            if l.len() <= off {
                continue;
            }
            let end = (off + N).min(l.len());
            let block = &mut l[off..end];
            for (b, k) in block.iter_mut().zip(r.iter()) {
                *b ^= k;
            }
            if block.len() == N {
                r.copy_from_slice(block);
            }
        }
        off += N;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::cell::Cell;

    /// A toy 8-byte block cipher that counts single and eight-wide calls.
    #[derive(Default)]
    struct Counting {
        single: Cell<usize>,
        wide: Cell<usize>,
    }

    impl BlockEnc<8> for Counting {
        fn encrypt(&self, block: &mut [u8; 8]) {
            self.single.set(self.single.get() + 1);
            let x = u64::from_le_bytes(*block);
            *block = (x.rotate_left(13) ^ 0x9E37_79B9_7F4A_7C15)
                .wrapping_mul(5)
                .to_le_bytes();
        }

        fn encrypt8(&self, blocks: &mut [[u8; 8]; LANES]) {
            self.wide.set(self.wide.get() + 1);
            let single = self.single.get();
            for b in blocks.iter_mut() {
                self.encrypt(b);
            }
            self.single.set(single);
        }
    }

    /// Lock step produces each lane's serial CFB bytes, and its cost
    /// follows the live lanes: after the first block (eight IV
    /// encryptions), one eight-wide call per block position where two or
    /// more lanes still have data, one single call where only one has,
    /// nothing for lanes already finished.
    #[test]
    fn lanes_match_serial_cfb_and_finished_lanes_cost_nothing() {
        let shapes: [[usize; LANES]; 5] = [
            [80, 8, 0, 0, 0, 0, 0, 0],
            [80, 80, 24, 3, 0, 17, 0, 1],
            [0; LANES],
            [5, 0, 0, 0, 0, 0, 0, 0],
            [9, 16, 17, 8, 1, 33, 64, 65],
        ];
        for lens in shapes {
            let mut bufs: Vec<Vec<u8>> = lens
                .iter()
                .enumerate()
                .map(|(i, &n)| (0..n).map(|k| (k * 7 + i) as u8).collect())
                .collect();
            let mut expected = bufs.clone();
            for b in &mut expected {
                cfb::encrypt_serial(&Counting::default(), b);
            }
            let c = Counting::default();
            let mut it = bufs.iter_mut();
            let mut lanes: [&mut [u8]; LANES] = core::array::from_fn(|_| {
                let b: &mut [u8] = it.next().unwrap();
                b
            });
            encrypt_lanes(&c, &mut lanes);
            assert_eq!(bufs, expected, "{lens:?}");

            let longest = lens.iter().copied().max().unwrap();
            let (mut wide, mut single) = (0, LANES);
            for off in (8..longest).step_by(8) {
                match lens.iter().filter(|&&n| n > off).count() {
                    0 => {}
                    1 => single += 1,
                    _ => wide += 1,
                }
            }
            assert_eq!((c.wide.get(), c.single.get()), (wide, single), "{lens:?}");
        }
    }
}
