//! [`Crypt`]: the crypt layer of a kcp-go datagram, sans-IO and in place.

use crate::aead::{AeadCrypt, GCM_NONCE_LEN, GCM_TAG_LEN};
use crate::block::BlockCrypt;
use crate::nonce::NonceRng;
use crate::{
    CRC_LEN, CRYPT_HEADER_LEN, CryptError, CryptName, MAX_DATAGRAM_LEN, MTU_LIMIT, NONCE_LEN,
};
use core::ops::Range;

/// The crypt layer of a kcp-go session: builds and checks datagrams in place.
///
/// # Buffer layout
///
/// To seal, the caller writes the payload (FEC header + KCP segments) at
/// offset [`header_len`](Self::header_len) of its buffer, leaving that much
/// head room, and for AEAD [`tail_len`](Self::tail_len) (16) bytes of room
/// after it. [`seal`](Self::seal) fills the header, encrypts, appends the tag
/// and returns the datagram length `n`; the wire bytes are `buf[..n]`.
///
/// | mode | datagram |
/// |---|---|
/// | block ciphers, `none`, `xor`, `salsa20` | `E(nonce[16] ‖ crc32_le[4] ‖ payload)` |
/// | AES-GCM | `nonce[12] ‖ GCM(payload) ‖ tag[16]` |
/// | `null` | `payload` |
///
/// [`open`](Self::open) takes the received datagram and returns the payload
/// view after the header (and before the tag). Bad input yields a typed
/// [`CryptError`], never a panic.
///
/// ```
/// use kcp_crypto::{Crypt, CryptName, kcptun_key};
/// let key = kcptun_key(b"it's a secrect");
/// let mut tx = Crypt::new(CryptName::Aes, &key)?;
/// let rx = Crypt::new(CryptName::Aes, &key)?;
///
/// let payload = b"kcp segments";
/// let mut buf = [0u8; 1500];
/// let h = tx.header_len();
/// buf[h..h + payload.len()].copy_from_slice(payload);
/// let n = tx.seal(&mut buf, payload.len())?;
/// assert_eq!(n, 20 + payload.len());
///
/// assert_eq!(rx.open(&mut buf[..n])?, payload);
/// # Ok::<(), kcp_crypto::CryptError>(())
/// ```
pub struct Crypt {
    pub(crate) layer: Layer,
    pub(crate) rng: NonceRng,
}

pub(crate) enum Layer {
    Null,
    Block(BlockCrypt),
    Aead(AeadCrypt),
}

impl Crypt {
    /// Builds the cipher kcptun's `--crypt name` selects, from kcptun's
    /// 32-byte master key (see [`kcptun_key`](crate::kcptun_key)); the cipher
    /// gets the first [`CryptName::key_len`] bytes.
    pub fn new(name: CryptName, key: &[u8; 32]) -> Result<Self, CryptError> {
        let k = &key[..name.key_len()];
        let layer = match name {
            CryptName::Aes | CryptName::Aes128 | CryptName::Aes192 => {
                Layer::Block(BlockCrypt::aes(k)?)
            }
            CryptName::Aes128Gcm => Layer::Aead(AeadCrypt::aes_gcm(k)?),
            CryptName::Salsa20 => Layer::Block(BlockCrypt::salsa20(k)),
            CryptName::Blowfish => Layer::Block(BlockCrypt::blowfish(k)?),
            CryptName::Twofish => Layer::Block(BlockCrypt::twofish(k)?),
            CryptName::Cast5 => Layer::Block(BlockCrypt::cast5(k)?),
            CryptName::TripleDes => Layer::Block(BlockCrypt::triple_des(k)?),
            CryptName::Tea => Layer::Block(BlockCrypt::tea(k)?),
            CryptName::Xtea => Layer::Block(BlockCrypt::xtea(k)?),
            CryptName::Xor => Layer::Block(BlockCrypt::xor(k)),
            CryptName::Sm4 => Layer::Block(BlockCrypt::sm4(k)?),
            CryptName::None => Layer::Block(BlockCrypt::none()),
            CryptName::Null => Layer::Null,
        };
        Self::with_layer(layer)
    }

    /// [`Crypt::new`] after deriving the key from a passphrase exactly as
    /// kcptun does (PBKDF2-HMAC-SHA1, salt `kcp-go`, 4096 rounds): a kcptun
    /// or kcp-go peer given the same `--key` and `--crypt` understands us.
    pub fn from_passphrase(name: CryptName, passphrase: &str) -> Result<Self, CryptError> {
        Self::new(name, &crate::kcptun_key(passphrase.as_bytes()))
    }

    /// Frames with a non-AEAD cipher (20-byte nonce + CRC header).
    pub fn from_block(block: BlockCrypt) -> Result<Self, CryptError> {
        Self::with_layer(Layer::Block(block))
    }

    /// Frames with AES-GCM (12-byte nonce, 16-byte tag).
    pub fn from_aead(aead: AeadCrypt) -> Result<Self, CryptError> {
        Self::with_layer(Layer::Aead(aead))
    }

    /// No crypt layer (kcptun's `null`, kcp-go's `block == nil`): datagram = payload.
    pub fn null() -> Result<Self, CryptError> {
        Self::with_layer(Layer::Null)
    }

    fn with_layer(layer: Layer) -> Result<Self, CryptError> {
        Ok(Crypt {
            layer,
            rng: NonceRng::new()?,
        })
    }

    /// Replaces the nonce generator with a deterministic one. Tests only:
    /// predictable nonces defeat the purpose of the nonce.
    #[doc(hidden)]
    pub fn seed_nonces_for_tests(&mut self, seed: [u8; 32]) {
        self.rng = NonceRng::from_seed(seed);
    }

    /// Draws `out.len()` (at most 16) bytes from the nonce generator, as
    /// `seal` does: kcp-go's `CsprngAES128` benchmark shape. Benchmarks only.
    #[doc(hidden)]
    pub fn fill_nonce_for_benches(&mut self, out: &mut [u8]) {
        self.rng.fill(out);
    }

    /// Head room `seal` needs in front of the payload: 20, 12 or 0.
    pub fn header_len(&self) -> usize {
        match self.layer {
            Layer::Null => 0,
            Layer::Block(_) => CRYPT_HEADER_LEN,
            Layer::Aead(_) => GCM_NONCE_LEN,
        }
    }

    /// Tail room `seal` needs after the payload: 16 for AES-GCM, else 0.
    pub fn tail_len(&self) -> usize {
        match self.layer {
            Layer::Aead(_) => GCM_TAG_LEN,
            _ => 0,
        }
    }

    /// Bytes added to every datagram: `header_len() + tail_len()`.
    pub fn overhead(&self) -> usize {
        self.header_len() + self.tail_len()
    }

    /// Nonce length for [`seal_with_nonce`](Self::seal_with_nonce): 16, 12 or 0.
    pub fn nonce_len(&self) -> usize {
        match self.layer {
            Layer::Null => 0,
            Layer::Block(_) => NONCE_LEN,
            Layer::Aead(_) => GCM_NONCE_LEN,
        }
    }

    /// Longest datagram `seal` produces and `open` accepts:
    /// [`MAX_DATAGRAM_LEN`](crate::MAX_DATAGRAM_LEN), except
    /// [`MTU_LIMIT`](crate::MTU_LIMIT) (1500) for `xor`, whose key table is
    /// 1500 bytes long (kcp-go would leave the bytes past it in clear).
    pub fn max_datagram_len(&self) -> usize {
        match &self.layer {
            Layer::Block(b) if b.is_xor() => MTU_LIMIT,
            _ => MAX_DATAGRAM_LEN,
        }
    }

    /// The non-AEAD cipher, if this is one.
    pub fn block(&self) -> Option<&BlockCrypt> {
        match &self.layer {
            Layer::Block(b) => Some(b),
            _ => None,
        }
    }

    /// The AEAD, if this is one.
    pub fn aead(&self) -> Option<&AeadCrypt> {
        match &self.layer {
            Layer::Aead(a) => Some(a),
            _ => None,
        }
    }

    /// Seals the payload at `buf[header_len()..][..payload_len]` with a fresh
    /// random nonce and returns the datagram length `n` (`buf[..n]`).
    ///
    /// Errors: [`CryptError::NoRoom`] if `buf` cannot hold header, payload
    /// and tag; [`CryptError::TooLong`] if `n` would exceed
    /// [`max_datagram_len`](Self::max_datagram_len). `buf` is unchanged on error.
    pub fn seal(&mut self, buf: &mut [u8], payload_len: usize) -> Result<usize, CryptError> {
        let n = self.check_seal(buf.len(), payload_len)?;
        let nl = self.nonce_len();
        self.rng.fill(&mut buf[..nl]);
        Ok(self.seal_filled(buf, n))
    }

    /// [`seal`](Self::seal) with a caller-chosen nonce of
    /// [`nonce_len`](Self::nonce_len) bytes: for test vectors and replaying
    /// kcp-go captures. Never reuse a nonce with AES-GCM.
    pub fn seal_with_nonce(
        &self,
        buf: &mut [u8],
        payload_len: usize,
        nonce: &[u8],
    ) -> Result<usize, CryptError> {
        let expected = self.nonce_len();
        if nonce.len() != expected {
            return Err(CryptError::NonceLength {
                len: nonce.len(),
                expected,
            });
        }
        let n = self.check_seal(buf.len(), payload_len)?;
        buf[..expected].copy_from_slice(nonce);
        Ok(self.seal_filled(buf, n))
    }

    /// Validates a seal of `payload_len` into a `buf_len`-byte buffer and
    /// returns the datagram length.
    pub(crate) fn check_seal(
        &self,
        buf_len: usize,
        payload_len: usize,
    ) -> Result<usize, CryptError> {
        let n = payload_len.saturating_add(self.overhead());
        if n > buf_len {
            return Err(CryptError::NoRoom {
                needed: n,
                len: buf_len,
            });
        }
        let max = self.max_datagram_len();
        if n > max {
            return Err(CryptError::TooLong { len: n, max });
        }
        Ok(n)
    }

    /// Seals `buf[..n]` whose nonce is already in place.
    pub(crate) fn seal_filled(&self, buf: &mut [u8], n: usize) -> usize {
        match &self.layer {
            Layer::Null => {}
            Layer::Block(b) => {
                write_crc(&mut buf[..n]);
                b.encrypt(&mut buf[..n]);
            }
            Layer::Aead(a) => {
                let (nonce, rest) = buf[..n].split_at_mut(GCM_NONCE_LEN);
                let (data, tag) = rest.split_at_mut(rest.len() - GCM_TAG_LEN);
                let nonce: &[u8; GCM_NONCE_LEN] = (&*nonce).try_into().expect("12 bytes");
                tag.copy_from_slice(&a.seal_in_place(nonce, data));
            }
        }
        n
    }

    /// Opens a received datagram in place and returns the payload.
    ///
    /// Errors: [`CryptError::TooShort`] (kcp-go drops these silently),
    /// [`CryptError::TooLong`] (over [`max_datagram_len`](Self::max_datagram_len)),
    /// [`CryptError::Checksum`] (non-AEAD CRC mismatch) and
    /// [`CryptError::Auth`] (AEAD tag failure); kcp-go counts the last two in
    /// `InCsumErrors`. After an error the buffer holds unspecified bytes.
    pub fn open<'a>(&self, datagram: &'a mut [u8]) -> Result<&'a [u8], CryptError> {
        let r = self.open_in_place(datagram)?;
        Ok(&datagram[r])
    }

    /// [`open`](Self::open), returning where the payload lies in `datagram`.
    pub fn open_in_place(&self, datagram: &mut [u8]) -> Result<Range<usize>, CryptError> {
        let len = datagram.len();
        let max = self.max_datagram_len();
        if len > max {
            return Err(CryptError::TooLong { len, max });
        }
        let min = self.overhead();
        if len < min {
            return Err(CryptError::TooShort { len, min });
        }
        match &self.layer {
            Layer::Null => {}
            Layer::Block(b) => {
                b.decrypt(datagram);
                check_crc(datagram)?;
            }
            Layer::Aead(a) => {
                let (nonce, rest) = datagram.split_at_mut(GCM_NONCE_LEN);
                let (data, tag) = rest.split_at_mut(rest.len() - GCM_TAG_LEN);
                let nonce: &[u8; GCM_NONCE_LEN] = (&*nonce).try_into().expect("12 bytes");
                let tag: &[u8; GCM_TAG_LEN] = (&*tag).try_into().expect("16 bytes");
                a.open_in_place(nonce, data, tag)?;
            }
        }
        Ok(self.header_len()..len - self.tail_len())
    }
}

/// Stores the CRC-32 of `datagram[20..]` little-endian at `datagram[16..20]`.
#[inline]
pub(crate) fn write_crc(datagram: &mut [u8]) {
    let crc = crate::crc32(&datagram[CRYPT_HEADER_LEN..]);
    datagram[NONCE_LEN..NONCE_LEN + CRC_LEN].copy_from_slice(&crc.to_le_bytes());
}

/// Checks the CRC written by [`write_crc`] on a decrypted datagram.
#[inline]
pub(crate) fn check_crc(datagram: &[u8]) -> Result<(), CryptError> {
    let stored = u32::from_le_bytes(
        datagram[NONCE_LEN..CRYPT_HEADER_LEN]
            .try_into()
            .expect("4 bytes"),
    );
    if crate::crc32(&datagram[CRYPT_HEADER_LEN..]) == stored {
        Ok(())
    } else {
        Err(CryptError::Checksum)
    }
}

impl core::fmt::Debug for Crypt {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let mut d = f.debug_struct("Crypt");
        match &self.layer {
            Layer::Null => d.field("layer", &"null"),
            Layer::Block(b) => d.field("layer", b),
            Layer::Aead(a) => d.field("layer", a),
        };
        d.finish_non_exhaustive()
    }
}
