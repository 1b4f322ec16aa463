//! What a listener reads from a decrypted datagram before any session
//! lookup (spec session.md §6).

use kcp_core::OVERHEAD;
use kcp_core::segment::segments;
use kcp_fec::{HEADER_SIZE, PacketKind, packet_kind};

/// The demux view of one decrypted datagram (at least 12 bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Peek {
    /// Parity, or an FEC data shard too short to hold a KCP header: can
    /// only go to an existing session.
    NoConv,
    /// Raw KCP shorter than one header: dropped.
    Malformed,
    /// A conv (and the first segment's `sn`; 0 for OOB).
    Conv {
        conv: u32,
        sn: u32,
        /// Everything after the FEC header parses as KCP segments of this
        /// conv (or it is an OOB packet): may open a session.
        well_formed: bool,
    },
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

fn kcp_well_formed(kcp: &[u8], conv: u32) -> bool {
    segments(kcp).all(|s| s.is_ok_and(|(h, _)| h.conv == conv))
}

pub(crate) fn peek(plain: &[u8]) -> Peek {
    match packet_kind(plain) {
        Some(PacketKind::Data) if plain.len() >= HEADER_SIZE + OVERHEAD => {
            let kcp = &plain[HEADER_SIZE..];
            let conv = u32_at(kcp, 0);
            Peek::Conv {
                conv,
                sn: u32_at(kcp, 12),
                well_formed: kcp_well_formed(kcp, conv),
            }
        }
        Some(PacketKind::Data | PacketKind::Parity) => Peek::NoConv,
        Some(PacketKind::Oob) if plain.len() >= HEADER_SIZE + 4 => Peek::Conv {
            conv: u32_at(plain, HEADER_SIZE),
            sn: 0,
            well_formed: true,
        },
        _ if plain.len() >= OVERHEAD => {
            let conv = u32_at(plain, 0);
            Peek::Conv {
                conv,
                sn: u32_at(plain, 12),
                well_formed: kcp_well_formed(plain, conv),
            }
        }
        _ => Peek::Malformed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kcp_core::segment::Header;

    fn push(conv: u32, sn: u32) -> Vec<u8> {
        let mut d = vec![0u8; OVERHEAD + 3];
        let h = Header {
            conv,
            cmd: 81,
            sn,
            len: 3,
            ..Header::default()
        };
        h.encode((&mut d[..OVERHEAD]).try_into().unwrap());
        d
    }

    #[test]
    fn reads_conv_at_the_right_offset() {
        let raw = push(0xAABBCCDD, 5);
        assert_eq!(
            peek(&raw),
            Peek::Conv {
                conv: 0xAABBCCDD,
                sn: 5,
                well_formed: true
            }
        );
        let mut fec = vec![0, 0, 0, 0, 0xF1, 0, 0, 0];
        fec.extend_from_slice(&push(9, 0));
        assert_eq!(
            peek(&fec),
            Peek::Conv {
                conv: 9,
                sn: 0,
                well_formed: true
            }
        );
        fec[4] = 0xF2;
        assert_eq!(peek(&fec), Peek::NoConv);
        let short = [0, 0, 0, 0, 0xF1, 0, 0, 0, 1, 2, 3, 4];
        assert_eq!(peek(&short), Peek::NoConv);
        let oob = [0xFF, 0xFF, 0xFF, 0xFF, 0xF3, 0, 6, 0, 7, 0, 0, 0];
        assert_eq!(
            peek(&oob),
            Peek::Conv {
                conv: 7,
                sn: 0,
                well_formed: true
            }
        );
        assert_eq!(peek(&[0x51; 12]), Peek::Malformed);
        let mut bad = push(1, 0);
        bad[4] = 99; // unknown command
        assert!(matches!(
            peek(&bad),
            Peek::Conv {
                well_formed: false,
                ..
            }
        ));
    }
}
