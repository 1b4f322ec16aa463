//! Arbitrary datagrams from arbitrary addresses into a server `Endpoint`
//! with its default replay filter and strict opening rule, time advancing:
//! never a panic, sessions stay within the configured bound, and every
//! datagram is accounted for as delivered or dropped for a reason.
//!
//! Modes (first byte, low two bits): null crypt with FEC; AES on raw bytes
//! (which almost never authenticate); AES on plaintexts this target seals
//! itself with a nonce picked by one fuzzer byte out of 16, so replays,
//! openings and refused openings are all reachable; AES-GCM the same way.
#![no_main]

use kcp_crypto::Crypt;
use kcp_session::{CryptConfig, CryptName, Endpoint, EndpointConfig, SessionConfig, Timestamp};
use libfuzzer_sys::fuzz_target;

const MAX_SESSIONS: usize = 64;
const KEY: [u8; 32] = [7u8; 32];

fuzz_target!(|data: &[u8]| {
    let Some((&mode, mut rest)) = data.split_first() else {
        return;
    };
    let crypt = match mode & 3 {
        0 => None,
        1 | 2 => Some(CryptName::Aes128),
        _ => Some(CryptName::Aes128Gcm),
    };
    let session = match crypt {
        None => SessionConfig::fast3().with_fec(10, 3),
        Some(name) => SessionConfig::fast3().with_crypt(CryptConfig::new(name, KEY)),
    };
    // Modes 2 and 3 seal each record's plaintext.
    let sealer = match (mode & 3, crypt) {
        (2 | 3, Some(name)) => Crypt::new(name, &KEY).ok(),
        _ => None,
    };
    let mut cfg = EndpointConfig::new(session);
    cfg.accept_backlog = 8;
    cfg.max_sessions = MAX_SESSIONS;
    // A small short horizon so that rotations happen too.
    cfg.replay.recent = 32;
    let Ok(mut ep) = Endpoint::<u8>::new(cfg) else {
        return;
    };
    let mut now = Timestamp::from_millis(u32::MAX - 1000);
    let mut out = vec![0u8; 1500];
    let mut fed = 0u64;
    // Records: [from, len, bytes...]; an odd `from` also advances time.
    while let [from, len, tail @ ..] = rest {
        let n = (*len as usize).min(tail.len());
        let record = &tail[..n];
        rest = &tail[n..];
        let mut datagram = match &sealer {
            Some(c) => {
                let Some((&pick, plain)) = record.split_first() else {
                    continue;
                };
                let mut nonce = [0u8; 16];
                nonce[0] = pick & 15;
                let nonce = &nonce[..c.nonce_len()];
                let h = c.header_len();
                let mut buf = vec![0u8; h + plain.len() + c.tail_len()];
                buf[h..h + plain.len()].copy_from_slice(plain);
                let Ok(len) = c.seal_with_nonce(&mut buf, plain.len(), nonce) else {
                    continue;
                };
                buf.truncate(len);
                buf
            }
            None => record.to_vec(),
        };
        if from & 1 == 1 {
            now = now.add_millis(u32::from(*from));
            ep.handle_timeout(now);
        }
        let _ = ep.handle_datagram(now, *from, &mut datagram);
        fed += 1;
        if from & 2 == 2 {
            while ep.accept().is_some() {}
        }
        while ep.poll_transmit(now, &mut out).is_some() {}
        assert!(ep.len() <= MAX_SESSIONS);
        let st = ep.stats();
        assert_eq!(st.received, fed);
        assert_eq!(st.delivered + st.total_dropped(), st.received);
        // Only 16 distinct nonces exist and the filter remembers 32, so
        // at most 16 sealed datagrams ever get past it: a repeated nonce
        // is never delivered and never opens a session.
        if sealer.is_some() {
            assert!(st.delivered <= 16, "{st:?}");
            assert!(st.sessions_created <= 16, "{st:?}");
        }
    }
});
