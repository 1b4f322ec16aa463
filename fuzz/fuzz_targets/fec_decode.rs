//! Arbitrary datagram sequences into an FEC decoder: must never panic, and
//! memory must stay bounded.
#![no_main]

use kcp_fec::{Decoded, Decoder, FecConfig};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Byte 0-1: the decoder's (data, parity) layout; then datagrams as
    // [len u16 LE][bytes]. A short tail is one last datagram.
    let [d, p, rest @ ..] = data else { return };
    let cfg = FecConfig::new(1 + (*d as usize % 32), 1 + (*p as usize % 16));
    let Ok(mut dec) = Decoder::new(&cfg) else {
        return;
    };
    let mut rest = rest;
    while !rest.is_empty() {
        let (pkt, tail) = match rest {
            [a, b, tail @ ..] => {
                let len = (u16::from_le_bytes([*a, *b]) as usize).min(tail.len());
                tail.split_at(len)
            }
            _ => (rest, &[][..]),
        };
        rest = tail;
        if let Ok(out) = dec.input(pkt) {
            if let Decoded::Data { kcp, .. } = &out {
                assert_eq!(kcp.len() + 8, pkt.len());
            }
            for r in out.recovered() {
                assert!(r.payload.len() + 2 <= r.shard.len());
            }
        }
        assert!(dec.group_count() <= 4);
        assert!(dec.storage_bytes() <= 5 * 256 * 1500);
    }
});
