//! Arbitrary datagrams from arbitrary addresses into a server `Endpoint`
//! (null crypt with FEC, and AES without), with time advancing: never a
//! panic, sessions stay within the configured bound, and every datagram is
//! accounted for as delivered or dropped for a reason.
#![no_main]

use kcp_session::{CryptConfig, CryptName, Endpoint, EndpointConfig, SessionConfig, Timestamp};
use libfuzzer_sys::fuzz_target;

const MAX_SESSIONS: usize = 64;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, mut rest)) = data.split_first() else {
        return;
    };
    let session = if mode & 1 == 0 {
        SessionConfig::fast3().with_fec(10, 3)
    } else {
        SessionConfig::fast3().with_crypt(CryptConfig::new(CryptName::Aes128, [7u8; 32]))
    };
    let mut cfg = EndpointConfig::new(session);
    cfg.accept_backlog = 8;
    cfg.max_sessions = MAX_SESSIONS;
    let Ok(mut ep) = Endpoint::<u8>::new(cfg) else {
        return;
    };
    let mut now = Timestamp::from_millis(u32::MAX - 1000);
    let mut out = vec![0u8; 1500];
    let mut fed = 0u64;
    // Records: [from, len, bytes...]; an odd `from` also advances time.
    while let [from, len, tail @ ..] = rest {
        let n = (*len as usize).min(tail.len());
        let mut datagram = tail[..n].to_vec();
        rest = &tail[n..];
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
    }
});
