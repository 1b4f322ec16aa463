//! [`BlockCrypt`]: kcp-go's non-AEAD ciphers, whole-buffer transforms in place.

use crate::CryptError;
use crate::blowfish_t::BlowfishT;
use crate::cast5_t::Cast5T;
use crate::cfb;
use crate::salsa::Salsa;
use crate::sm4_t::Sm4T;
use crate::tdes::TdesT;
use crate::tea::{Tea, Xtea};
use crate::twofish_t::TwofishT;
use crate::xor::Xor;
use cipher::KeyInit;

/// One of kcp-go's non-AEAD ciphers, keyed.
///
/// [`encrypt`](Self::encrypt) and [`decrypt`](Self::decrypt) transform a
/// whole buffer in place exactly like kcp-go's `BlockCrypt.Encrypt(buf, buf)`
/// and `Decrypt(buf, buf)`: no nonce or CRC handling (that is
/// [`Crypt`](crate::Crypt)'s job). Constructors take the key bytes kcp-go's
/// constructor of the same name would get.
///
/// ```
/// use kcp_crypto::BlockCrypt;
/// let c = BlockCrypt::aes(&[7u8; 16])?;
/// let mut buf = *b"any length at all, even 33 bytes";
/// c.encrypt(&mut buf);
/// c.decrypt(&mut buf);
/// assert_eq!(&buf, b"any length at all, even 33 bytes");
/// # Ok::<(), kcp_crypto::CryptError>(())
/// ```
#[derive(Clone)]
pub struct BlockCrypt {
    pub(crate) inner: Inner,
    /// Raw AES-NI path for the AES variants, when the CPU has it.
    #[cfg(target_arch = "x86_64")]
    pub(crate) ni: Option<Box<crate::aesni::AesNi>>,
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    /// Whether the AVX-512 sixteen-block CFB decryption of SM4, 3DES, TEA
    /// and XTEA may run (when the CPU has it).
    pub(crate) wide: bool,
}

#[derive(Clone)]
pub(crate) enum Inner {
    Aes128(Box<aes::Aes128>),
    Aes192(Box<aes::Aes192>),
    Aes256(Box<aes::Aes256>),
    Sm4(Box<Sm4T>),
    Twofish(Box<TwofishT>),
    TripleDes(Box<TdesT>),
    Cast5(Box<Cast5T>),
    Blowfish(Box<BlowfishT>),
    Tea(Box<Tea>),
    Xtea(Box<Xtea>),
    Salsa20(Salsa),
    Xor(Xor),
    None,
}

/// Runs `$body` with `$c` bound to the CFB cipher and `$n` to its block size;
/// `$other` for the stream-like ciphers.
macro_rules! with_cfb {
    ($inner:expr, |$c:ident| $body:expr, $other:ident => $fallback:expr) => {
        match $inner {
            Inner::Aes128($c) => $body,
            Inner::Aes192($c) => $body,
            Inner::Aes256($c) => $body,
            Inner::Sm4($c) => $body,
            Inner::Twofish($c) => $body,
            Inner::TripleDes($c) => $body,
            Inner::Cast5($c) => $body,
            Inner::Blowfish($c) => $body,
            Inner::Tea($c) => $body,
            Inner::Xtea($c) => $body,
            $other => $fallback,
        }
    };
}
pub(crate) use with_cfb;

fn key16(key: &[u8]) -> Result<&[u8; 16], CryptError> {
    key.try_into()
        .map_err(|_| CryptError::KeyLength { len: key.len() })
}

fn keyed<C: KeyInit>(key: &[u8]) -> Result<Box<C>, CryptError> {
    C::new_from_slice(key)
        .map(Box::new)
        .map_err(|_| CryptError::KeyLength { len: key.len() })
}

impl BlockCrypt {
    fn from_inner(inner: Inner) -> Self {
        BlockCrypt {
            inner,
            #[cfg(target_arch = "x86_64")]
            ni: None,
            wide: true,
        }
    }

    /// The same cipher without SIMD fast paths: the portable reference that
    /// tests and benchmarks compare against.
    #[doc(hidden)]
    pub fn without_simd(mut self) -> Self {
        #[cfg(target_arch = "x86_64")]
        {
            self.ni = None;
        }
        if let Inner::Salsa20(s) = &mut self.inner {
            s.simd = false;
        }
        self.wide = false;
        self
    }

    /// AES-CFB (`NewAESBlockCrypt`): a 16, 24 or 32-byte key selects AES-128, -192 or -256.
    pub fn aes(key: &[u8]) -> Result<Self, CryptError> {
        let inner = match key.len() {
            16 => Inner::Aes128(keyed(key)?),
            24 => Inner::Aes192(keyed(key)?),
            32 => Inner::Aes256(keyed(key)?),
            len => return Err(CryptError::KeyLength { len }),
        };
        let mut c = BlockCrypt::from_inner(inner);
        #[cfg(target_arch = "x86_64")]
        {
            c.ni = crate::aesni::AesNi::new(key).map(Box::new);
        }
        Ok(c)
    }

    /// SM4-CFB (`NewSM4BlockCrypt`), 16-byte key.
    pub fn sm4(key: &[u8]) -> Result<Self, CryptError> {
        Ok(BlockCrypt::from_inner(Inner::Sm4(Box::new(Sm4T::new(
            key16(key)?,
        )))))
    }

    /// Twofish-CFB (`NewTwofishBlockCrypt`), 16, 24 or 32-byte key.
    pub fn twofish(key: &[u8]) -> Result<Self, CryptError> {
        let t = TwofishT::new(key).ok_or(CryptError::KeyLength { len: key.len() })?;
        Ok(BlockCrypt::from_inner(Inner::Twofish(Box::new(t))))
    }

    /// 3DES-EDE-CFB (`NewTripleDESBlockCrypt`), 24-byte key.
    pub fn triple_des(key: &[u8]) -> Result<Self, CryptError> {
        let key: &[u8; 24] = key
            .try_into()
            .map_err(|_| CryptError::KeyLength { len: key.len() })?;
        Ok(BlockCrypt::from_inner(Inner::TripleDes(Box::new(
            TdesT::new(key),
        ))))
    }

    /// CAST5-CFB (`NewCast5BlockCrypt`), 16-byte key (Go's `cast5` takes no other size).
    pub fn cast5(key: &[u8]) -> Result<Self, CryptError> {
        Ok(BlockCrypt::from_inner(Inner::Cast5(Box::new(Cast5T::new(
            key16(key)?,
        )))))
    }

    /// Blowfish-CFB (`NewBlowfishBlockCrypt`), 1 to 56-byte key.
    pub fn blowfish(key: &[u8]) -> Result<Self, CryptError> {
        let b = BlowfishT::new(key).ok_or(CryptError::KeyLength { len: key.len() })?;
        Ok(BlockCrypt::from_inner(Inner::Blowfish(Box::new(b))))
    }

    /// TEA-CFB with 16 rounds (`NewTEABlockCrypt`), 16-byte key.
    pub fn tea(key: &[u8]) -> Result<Self, CryptError> {
        Ok(BlockCrypt::from_inner(Inner::Tea(Box::new(Tea::new(
            key16(key)?,
        )))))
    }

    /// XTEA-CFB (`NewXTEABlockCrypt`), 16-byte key.
    pub fn xtea(key: &[u8]) -> Result<Self, CryptError> {
        Ok(BlockCrypt::from_inner(Inner::Xtea(Box::new(Xtea::new(
            key16(key)?,
        )))))
    }

    /// Salsa20 (`NewSalsa20BlockCrypt`): any key, zero-padded or cut to 32 bytes.
    pub fn salsa20(key: &[u8]) -> Self {
        BlockCrypt::from_inner(Inner::Salsa20(Salsa::new(key)))
    }

    /// Simple XOR (`NewSimpleXORBlockCrypt`): any key, expanded to a 1500-byte table.
    pub fn xor(key: &[u8]) -> Self {
        BlockCrypt::from_inner(Inner::Xor(Xor::new(key)))
    }

    /// The identity cipher (`NewNoneBlockCrypt`).
    pub fn none() -> Self {
        BlockCrypt::from_inner(Inner::None)
    }

    /// A short algorithm name, e.g. `"aes-128-cfb"`, for logs.
    pub fn algorithm(&self) -> &'static str {
        match self.inner {
            Inner::Aes128(_) => "aes-128-cfb",
            Inner::Aes192(_) => "aes-192-cfb",
            Inner::Aes256(_) => "aes-256-cfb",
            Inner::Sm4(_) => "sm4-cfb",
            Inner::Twofish(_) => "twofish-cfb",
            Inner::TripleDes(_) => "3des-cfb",
            Inner::Cast5(_) => "cast5-cfb",
            Inner::Blowfish(_) => "blowfish-cfb",
            Inner::Tea(_) => "tea-cfb",
            Inner::Xtea(_) => "xtea-cfb",
            Inner::Salsa20(_) => "salsa20",
            Inner::Xor(_) => "xor",
            Inner::None => "none",
        }
    }

    pub(crate) fn is_xor(&self) -> bool {
        matches!(self.inner, Inner::Xor(_))
    }

    /// Encrypts `buf` in place, as kcp-go's `Encrypt(buf, buf)`.
    #[inline]
    pub fn encrypt(&self, buf: &mut [u8]) {
        // XOR and none first, without the block ciphers' stack frame (worth
        // ~5 ns a call, a quarter of a 1500-byte XOR).
        match &self.inner {
            Inner::Xor(x) => x.apply(buf),
            Inner::None => {}
            _ => self.encrypt_block_cipher(buf),
        }
    }

    #[inline(never)]
    fn encrypt_block_cipher(&self, buf: &mut [u8]) {
        #[cfg(target_arch = "x86_64")]
        if let Some(ni) = &self.ni {
            return ni.encrypt(buf);
        }
        if let Inner::TripleDes(t) = &self.inner {
            return t.cfb_encrypt(buf);
        }
        with_cfb!(&self.inner, |c| cfb::encrypt(&**c, buf), other => self.stream(other, buf))
    }

    /// Decrypts `buf` in place, as kcp-go's `Decrypt(buf, buf)`.
    #[inline]
    pub fn decrypt(&self, buf: &mut [u8]) {
        match &self.inner {
            Inner::Xor(x) => x.apply(buf),
            Inner::None => {}
            _ => self.decrypt_block_cipher(buf),
        }
    }

    #[inline(never)]
    fn decrypt_block_cipher(&self, buf: &mut [u8]) {
        #[cfg(target_arch = "x86_64")]
        if let Some(ni) = &self.ni {
            return ni.decrypt(buf);
        }
        #[cfg(target_arch = "x86_64")]
        match &self.inner {
            _ if !self.wide => {}
            Inner::Tea(t) if crate::tea::wide::cfb_decrypt_wide(&**t, buf) => return,
            Inner::Xtea(x) if crate::tea::wide::cfb_decrypt_wide(&**x, buf) => return,
            Inner::TripleDes(t) if crate::tdes::wide::cfb_decrypt_wide(t, buf) => return,
            Inner::Sm4(s) if crate::sm4_t::wide::cfb_decrypt_wide(s, buf) => return,
            Inner::Blowfish(b) if crate::blowfish_t::wide::cfb_decrypt_wide(b, buf) => return,
            Inner::Cast5(c) if crate::cast5_t::wide::cfb_decrypt_wide(c, buf) => return,
            _ => {}
        }
        with_cfb!(&self.inner, |c| cfb::decrypt(&**c, buf), other => self.stream(other, buf))
    }

    fn stream(&self, inner: &Inner, buf: &mut [u8]) {
        match inner {
            Inner::Salsa20(s) => s.apply(buf),
            Inner::Xor(x) => x.apply(buf),
            _ => {}
        }
    }
}

impl core::fmt::Debug for BlockCrypt {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("BlockCrypt")
            .field("algorithm", &self.algorithm())
            .finish_non_exhaustive()
    }
}
