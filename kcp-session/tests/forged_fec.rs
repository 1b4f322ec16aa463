//! The issue 16 reproducer through the whole receive path: forged FEC
//! shards into a server `Endpoint` (null crypt, FEC 10/3) re-tune an
//! accepted session's decoder; the old decoder then overflowed computing
//! its newest group. Replayed with the `session_datagram` fuzz target's
//! framing and its invariants.

use kcp_session::{Endpoint, EndpointConfig, SessionConfig, Timestamp};

/// Mode byte 0 (FEC 10/3, no crypt), then records `[from, len, bytes]`:
/// one shard carrying a KCP PUSH opens a session, then 43 shards from
/// seqid `0x7fff_ff00 / 13 * 13 + 1` whose pattern re-tunes it.
const ISSUE_16_SESSION_DATAGRAM: &str = "\
    000024fefeff7ff1001e000100000051002000000000000000000000000000040000006f70656e000cfffeff7ff20006\
    0000000000000c00ffff7ff200060000000000000c01ffff7ff200060000000000000c02ffff7ff20006000000000000\
    0c03ffff7ff200060000000000000c04ffff7ff200060000000000000c05ffff7ff200060000000000000c06ffff7ff2\
    00060000000000000c07ffff7ff200060000000000000c08ffff7ff200060000000000000c09ffff7ff1000600000000\
    00000c0affff7ff100060000000000000c0bffff7ff100060000000000000c0cffff7ff100060000000000000c0dffff\
    7ff100060000000000000c0effff7ff100060000000000000c0fffff7ff100060000000000000c10ffff7ff100060000\
    000000000c11ffff7ff100060000000000000c12ffff7ff100060000000000000c13ffff7ff100060000000000000c14\
    ffff7ff100060000000000000c15ffff7ff100060000000000000c16ffff7ff100060000000000000c17ffff7ff10006\
    0000000000000c18ffff7ff100060000000000000c19ffff7ff100060000000000000c1affff7ff10006000000000000\
    0c1bffff7ff100060000000000000c1cffff7ff100060000000000000c1dffff7ff200060000000000000c1effff7ff2\
    00060000000000000c1fffff7ff200060000000000000c20ffff7ff200060000000000000c21ffff7ff2000600000000\
    00000c22ffff7ff200060000000000000c23ffff7ff200060000000000000c24ffff7ff200060000000000000c25ffff\
    7ff200060000000000000c26ffff7ff200060000000000000c27ffff7ff100060000000000000c28ffff7ff100060000\
    000000000c29ffff7ff100060000000000";

#[test]
fn forged_shards_through_the_endpoint_are_accounted_for() {
    let input = hex::decode(ISSUE_16_SESSION_DATAGRAM).unwrap();
    let (&mode, mut rest) = input.split_first().unwrap();
    assert_eq!(mode, 0);
    let mut cfg = EndpointConfig::new(SessionConfig::fast3().with_fec(10, 3));
    cfg.accept_backlog = 8;
    cfg.max_sessions = 64;
    let mut ep = Endpoint::<u8>::new(cfg).unwrap();
    let mut now = Timestamp::from_millis(u32::MAX - 1000);
    let mut out = vec![0u8; 1500];
    let mut fed = 0u64;
    while let [from, len, tail @ ..] = rest {
        let n = (*len as usize).min(tail.len());
        let mut datagram = tail[..n].to_vec();
        rest = &tail[n..];
        if from & 1 == 1 {
            now = now.add_millis(u32::from(*from));
            ep.handle_timeout(now);
        }
        ep.handle_datagram(now, *from, &mut datagram);
        fed += 1;
        while ep.poll_transmit(now, &mut out).is_some() {}
        let st = ep.stats();
        assert_eq!(st.received, fed);
        assert_eq!(st.delivered + st.total_dropped(), st.received);
    }
    assert_eq!(fed, 44);
    // The forged session was opened and every shard reached it.
    let (h, addr) = ep.accept().expect("the opening shard made a session");
    assert_eq!(addr, 0);
    assert_eq!(ep.stats().delivered, 44);
    let conn = ep.connection_mut(h).unwrap();
    // The forged pattern (20 data seqids, then 10 parity) re-tuned it.
    assert_eq!(conn.fec_decoder_layout(), Some((20, 10)));
    let mut msg = [0u8; 16];
    assert_eq!(conn.recv(&mut msg), Ok(4));
    assert_eq!(&msg[..4], b"open");
    ep.handle_timeout(now.add_millis(100));
    while ep.poll_transmit(now, &mut out).is_some() {}
}
