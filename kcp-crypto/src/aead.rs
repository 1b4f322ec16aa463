//! AES-GCM, kcp-go's `NewAESGCMCrypt` (spec `session.md` §3.4): 12-byte
//! nonce, 16-byte tag, no associated data.
//!
//! AES-128 and AES-256 run on our own 512-bit VAES + VPCLMULQDQ code
//! (`gcm_vaes.rs`) when the CPU has AVX-512F/BW/VL, VAES and VPCLMULQDQ,
//! otherwise on `ring` (AES-NI/VAES + CLMUL assembly, about 2× the RustCrypto
//! `aes-gcm` crate here); AES-192, which `ring` lacks, runs on `aes-gcm`,
//! which is also the reference both fast paths are tested against.

use crate::CryptError;
use aes_gcm::KeyInit;
use aes_gcm::aead::AeadInPlace;
use ring::aead as ra;

/// Nonce length of AES-GCM as kcp-go uses it.
pub const GCM_NONCE_LEN: usize = 12;
/// Tag length of AES-GCM.
pub const GCM_TAG_LEN: usize = 16;

type Aes192Gcm = aes_gcm::AesGcm<aes::Aes192, aes_gcm::aead::consts::U12>;

/// AES-GCM keyed with a 16, 24 or 32-byte key.
///
/// ```
/// use kcp_crypto::AeadCrypt;
/// let gcm = AeadCrypt::aes_gcm(&[1u8; 16])?;
/// let nonce = [9u8; 12];
/// let mut data = *b"hello";
/// let tag = gcm.seal_in_place(&nonce, &mut data);
/// gcm.open_in_place(&nonce, &mut data, &tag)?;
/// assert_eq!(&data, b"hello");
/// # Ok::<(), kcp_crypto::CryptError>(())
/// ```
pub struct AeadCrypt {
    inner: Inner,
}

enum Inner {
    /// `ring`, plus the AVX-512 path when the CPU has it (`ring` stays for
    /// inputs beyond its length limit and for [`AeadCrypt::without_simd`]).
    Ring(
        Box<ra::LessSafeKey>,
        #[cfg(target_arch = "x86_64")] Option<Box<crate::gcm_vaes::VaesGcm>>,
    ),
    Aes128(Box<aes_gcm::Aes128Gcm>),
    Aes192(Box<Aes192Gcm>),
    Aes256(Box<aes_gcm::Aes256Gcm>),
}

impl AeadCrypt {
    /// AES-GCM; the key length (16, 24, 32) selects AES-128, -192 or -256.
    pub fn aes_gcm(key: &[u8]) -> Result<Self, CryptError> {
        let raw = key;
        let alg = match key.len() {
            16 => &ra::AES_128_GCM,
            32 => &ra::AES_256_GCM,
            24 => {
                let c = Aes192Gcm::new_from_slice(key)
                    .map_err(|_| CryptError::KeyLength { len: 24 })?;
                return Ok(AeadCrypt {
                    inner: Inner::Aes192(Box::new(c)),
                });
            }
            len => return Err(CryptError::KeyLength { len }),
        };
        let key =
            ra::UnboundKey::new(alg, key).map_err(|_| CryptError::KeyLength { len: key.len() })?;
        #[cfg(target_arch = "x86_64")]
        let fast = crate::gcm_vaes::VaesGcm::new(raw).map(Box::new);
        Ok(AeadCrypt {
            inner: Inner::Ring(
                Box::new(ra::LessSafeKey::new(key)),
                #[cfg(target_arch = "x86_64")]
                fast,
            ),
        })
    }

    /// The same cipher without the AVX-512 fast path (`ring` for AES-128 and
    /// AES-256): what tests and benchmarks compare the fast path against.
    #[doc(hidden)]
    pub fn without_simd(mut self) -> Self {
        #[cfg(target_arch = "x86_64")]
        if let Inner::Ring(_, fast) = &mut self.inner {
            *fast = None;
        }
        self
    }

    /// The pure-Rust RustCrypto implementation, the reference for tests.
    #[doc(hidden)]
    pub fn aes_gcm_reference(key: &[u8]) -> Result<Self, CryptError> {
        let err = |_| CryptError::KeyLength { len: key.len() };
        let inner = match key.len() {
            16 => Inner::Aes128(Box::new(
                aes_gcm::Aes128Gcm::new_from_slice(key).map_err(err)?,
            )),
            24 => Inner::Aes192(Box::new(Aes192Gcm::new_from_slice(key).map_err(err)?)),
            32 => Inner::Aes256(Box::new(
                aes_gcm::Aes256Gcm::new_from_slice(key).map_err(err)?,
            )),
            len => return Err(CryptError::KeyLength { len }),
        };
        Ok(AeadCrypt { inner })
    }

    /// Encrypts `data` in place and returns the tag.
    pub fn seal_in_place(&self, nonce: &[u8; GCM_NONCE_LEN], data: &mut [u8]) -> [u8; GCM_TAG_LEN] {
        let mut tag = [0u8; GCM_TAG_LEN];
        match &self.inner {
            #[cfg(target_arch = "x86_64")]
            Inner::Ring(_, Some(f)) if data.len() <= crate::gcm_vaes::MAX_LEN => {
                tag = f.seal(nonce, data);
            }
            Inner::Ring(k, ..) => {
                // ring fails only for inputs beyond GCM's 64 GiB limit.
                let t = k
                    .seal_in_place_separate_tag(
                        ra::Nonce::assume_unique_for_key(*nonce),
                        ra::Aad::empty(),
                        data,
                    )
                    .expect("datagram within GCM limits");
                tag.copy_from_slice(t.as_ref());
            }
            Inner::Aes128(c) => tag = rc_seal(&**c, nonce, data),
            Inner::Aes192(c) => tag = rc_seal(&**c, nonce, data),
            Inner::Aes256(c) => tag = rc_seal(&**c, nonce, data),
        }
        tag
    }

    /// Verifies `tag` and decrypts `data` in place; on failure `data` holds
    /// unspecified bytes and [`CryptError::Auth`] is returned.
    pub fn open_in_place(
        &self,
        nonce: &[u8; GCM_NONCE_LEN],
        data: &mut [u8],
        tag: &[u8; GCM_TAG_LEN],
    ) -> Result<(), CryptError> {
        match &self.inner {
            #[cfg(target_arch = "x86_64")]
            Inner::Ring(_, Some(f)) if data.len() <= crate::gcm_vaes::MAX_LEN => {
                if f.open(nonce, data, tag) {
                    Ok(())
                } else {
                    Err(CryptError::Auth)
                }
            }
            Inner::Ring(k, ..) => k
                .open_in_place_separate_tag(
                    ra::Nonce::assume_unique_for_key(*nonce),
                    ra::Aad::empty(),
                    ra::Tag::from(*tag),
                    data,
                    0..,
                )
                .map(|_| ())
                .map_err(|_| CryptError::Auth),
            Inner::Aes128(c) => rc_open(&**c, nonce, data, tag),
            Inner::Aes192(c) => rc_open(&**c, nonce, data, tag),
            Inner::Aes256(c) => rc_open(&**c, nonce, data, tag),
        }
    }
}

fn rc_seal<A: AeadInPlace<NonceSize = aes_gcm::aead::consts::U12>>(
    c: &A,
    nonce: &[u8; GCM_NONCE_LEN],
    data: &mut [u8],
) -> [u8; GCM_TAG_LEN] {
    let t = c
        .encrypt_in_place_detached(nonce.into(), &[], data)
        .expect("datagram within GCM limits");
    let mut tag = [0u8; GCM_TAG_LEN];
    tag.copy_from_slice(&t);
    tag
}

fn rc_open<A: AeadInPlace<NonceSize = aes_gcm::aead::consts::U12>>(
    c: &A,
    nonce: &[u8; GCM_NONCE_LEN],
    data: &mut [u8],
    tag: &[u8; GCM_TAG_LEN],
) -> Result<(), CryptError> {
    c.decrypt_in_place_detached(
        nonce.into(),
        &[],
        data,
        aes_gcm::aead::generic_array::GenericArray::from_slice(tag),
    )
    .map_err(|_| CryptError::Auth)
}

impl core::fmt::Debug for AeadCrypt {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let backend = match &self.inner {
            #[cfg(target_arch = "x86_64")]
            Inner::Ring(_, Some(_)) => "vaes-avx512",
            Inner::Ring(..) => "ring",
            _ => "rustcrypto",
        };
        f.debug_struct("AeadCrypt")
            .field("backend", &backend)
            .finish_non_exhaustive()
    }
}
