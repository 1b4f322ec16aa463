//! Header sizes and MTU accounting of a session (spec session.md §2.1).

use kcp_core::OVERHEAD;
use kcp_fec::{HEADER_SIZE, MTU_LIMIT};

use crate::{ConfigError, SessionConfig};

/// Where each layer's bytes sit in a datagram:
/// `[crypt header][FEC header][KCP ...][AEAD tag]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    /// Crypt header: 20 (non-AEAD), 12 (AES-GCM) or 0 (`null`).
    pub crypt_header: usize,
    /// FEC header: 8 when this session sends FEC frames, else 0.
    pub fec_header: usize,
    /// AEAD tag after the payload: 16 for AES-GCM, else 0.
    pub tail: usize,
    /// Largest datagram: `min(1500, mtu)`.
    pub datagram: usize,
    /// KCP's mtu: `datagram - crypt_header - fec_header - tail`.
    pub kcp_mtu: usize,
}

impl Layout {
    /// The layout `cfg` yields, or why it cannot work.
    ///
    /// ```
    /// use kcp_session::{CryptConfig, Layout, SessionConfig};
    /// use kcp_crypto::CryptName;
    /// let key = [7u8; 32];
    /// let gcm = SessionConfig::default()
    ///     .with_crypt(CryptConfig::new(CryptName::Aes128Gcm, key))
    ///     .with_fec(10, 3);
    /// assert_eq!(Layout::new(&gcm).unwrap().kcp_mtu, 1364); // 1400 - 12 - 8 - 16
    /// ```
    pub fn new(cfg: &SessionConfig) -> Result<Layout, ConfigError> {
        let crypt_header = cfg.crypt.name.header_len();
        let tail = cfg.crypt.name.overhead() - crypt_header;
        let fec_header = if cfg.fec_enabled() { HEADER_SIZE } else { 0 };
        let datagram = cfg.mtu.min(MTU_LIMIT);
        let overhead = crypt_header + fec_header + tail;
        match datagram.checked_sub(overhead) {
            Some(kcp_mtu) if kcp_mtu > OVERHEAD => Ok(Layout {
                crypt_header,
                fec_header,
                tail,
                datagram,
                kcp_mtu,
            }),
            _ => Err(ConfigError::Mtu {
                mtu: cfg.mtu,
                overhead,
            }),
        }
    }

    /// Bytes in front of the KCP segments.
    pub fn head(&self) -> usize {
        self.crypt_header + self.fec_header
    }

    /// KCP's maximum segment payload.
    pub fn mss(&self) -> usize {
        self.kcp_mtu - OVERHEAD
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::CryptConfig;
    use kcp_crypto::CryptName;

    /// The table of spec §2.1.
    #[test]
    fn mtu_table() {
        let k = [1u8; 32];
        let cases = [
            (CryptName::Null, false, 1400, 1376),
            (CryptName::Null, true, 1392, 1368),
            (CryptName::Aes, false, 1380, 1356),
            (CryptName::Aes, true, 1372, 1348),
            (CryptName::Aes128Gcm, false, 1372, 1348),
            (CryptName::Aes128Gcm, true, 1364, 1340),
        ];
        for (name, fec, mtu, mss) in cases {
            let mut c = SessionConfig::default().with_crypt(CryptConfig::new(name, k));
            if fec {
                c = c.with_fec(10, 3);
            }
            let l = Layout::new(&c).unwrap();
            assert_eq!((l.kcp_mtu, l.mss()), (mtu, mss), "{name:?} fec={fec}");
        }
        let kcptun = Layout::new(&SessionConfig::kcptun_client()).unwrap();
        assert_eq!((kcptun.kcp_mtu, kcptun.mss()), (1322, 1298));
        assert!(Layout::new(&SessionConfig::default().with_mtu(24)).is_err());
        assert_eq!(
            Layout::new(&SessionConfig::default().with_mtu(9000))
                .unwrap()
                .kcp_mtu,
            1500
        );
    }
}
