//! Arbitrary datagram sequences into a KCP endpoint (both profiles), with
//! time advancing, sends, flushes and reads interleaved. The endpoint must
//! never panic and its queues must stay within the configured windows.
#![no_main]

use kcp_core::{Config, Kcp, Profile, Timestamp, MAX_ACKLIST};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let profile = if data[0] & 1 == 0 { Profile::KcpGo } else { Profile::Ikcp };
    let mut cfg = Config::with_profile(profile);
    if data[0] & 2 != 0 {
        cfg.set_nodelay(1, 10, 2, 1);
    }
    cfg.set_stream(data[0] & 4 != 0);
    cfg.set_ack_nodelay(data[0] & 8 != 0);
    let conv = 0x0102_0304;
    let mut now = Timestamp::from_millis(u32::from(data[1]).wrapping_mul(0x0101_0101));
    let mut kcp = Kcp::new(conv, cfg, now);
    let mut buf = vec![0u8; 1 << 18];
    // The rest is a sequence of records: [op, len, bytes...].
    let mut rest = &data[2..];
    while rest.len() >= 2 {
        let (op, len) = (rest[0], rest[1] as usize);
        let body = &rest[2..(2 + len).min(rest.len())];
        rest = &rest[(2 + len).min(rest.len())..];
        match op % 5 {
            0 | 1 => {
                // Datagram: optionally force our conv so parsing goes deep.
                let mut d = body.to_vec();
                if op & 0x80 != 0 && d.len() >= 4 {
                    d[..4].copy_from_slice(&conv.to_le_bytes());
                }
                let _ = kcp.input(&d, now);
            }
            2 => {
                let _ = kcp.send(body);
            }
            3 => {
                now = now.add_millis(u32::from(op));
                kcp.handle_timeout(now);
            }
            _ => {
                while kcp.recv(&mut buf).is_ok() {}
            }
        }
        while kcp.poll_transmit().is_some() {}
        let s = kcp.state();
        let c = kcp.config();
        assert!(s.rcv_buf <= c.rcv_wnd() as usize);
        assert!(s.rcv_queue <= c.rcv_wnd() as usize);
        assert!(s.snd_buf <= c.snd_wnd() as usize);
        assert!(s.acklist <= MAX_ACKLIST);
    }
});
