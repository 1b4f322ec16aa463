//! Arbitrary bytes into an smux session (either role, v1 or v2), in
//! pieces, with the application accepting, reading, writing and closing
//! streams in between: never a panic, typed errors only, memory bounded.
#![no_main]

use kcp_session::Timestamp;
use kcp_session::smux::{Mux, MuxConfig, MuxError, Role, StreamId, Version};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let [mode, rest @ ..] = data else { return };
    let mut cfg = MuxConfig::kcptun();
    cfg.version = if mode & 1 == 0 { Version::V1 } else { Version::V2 };
    cfg.max_receive_buffer = 1 << 16;
    cfg.max_stream_buffer = 1 << 15;
    cfg.max_streams = 16;
    cfg.accept_backlog = 4;
    let role = if mode & 2 == 0 { Role::Server } else { Role::Client };
    let mut now = Timestamp::from_millis(u32::MAX - 20_000);
    let mut mux = Mux::new(role, cfg, now).unwrap();
    let mut streams: Vec<StreamId> = Vec::new();
    let mut buf = [0u8; 4096];
    // Records: [op, len, bytes...]: op's low bits pick what the
    // application does after the bytes are offered.
    let mut rest = rest;
    while let [op, len, tail @ ..] = rest {
        let n = (*len as usize).min(tail.len());
        let (chunk, tail) = tail.split_at(n);
        rest = tail;
        match mux.handle_input(chunk) {
            Ok(used) => assert!(used <= chunk.len()),
            Err(MuxError::Protocol(_)) => {}
            Err(e) => assert!(!mux.is_alive(), "{e}"),
        }
        while let Some(id) = mux.accept_stream() {
            streams.push(id);
        }
        let pick = streams.get(usize::from(*op >> 3) % streams.len().max(1)).copied();
        match (op & 7, pick) {
            (0, Some(id)) => {
                let _ = mux.recv(id, &mut buf);
            }
            (1, Some(id)) => {
                let _ = mux.send(id, &chunk[..chunk.len().min(3000)]);
            }
            (2, Some(id)) => {
                let _ = mux.close_stream(id);
            }
            (3, _) => {
                if let Ok(id) = mux.open_stream() {
                    streams.push(id);
                }
            }
            (4, _) => {
                now = now.add_millis(u32::from(*len) * 100);
                mux.handle_timeout(now);
            }
            _ => {}
        }
        while let Some(out) = mux.poll_output() {
            let n = out.len();
            mux.advance_output(n);
        }
        while mux.poll_event().is_some() {}
        assert!(mux.stream_count() <= 16);
        assert!(mux.buffered_bytes() <= (1 << 16) + 65_535 + 16 * 65_536 + 2 * 65_536);
    }
});
