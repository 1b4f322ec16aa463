//! The smux state machine on its own: random interleavings of opens,
//! writes, reads and closes on both ends of an in-memory pipe that moves
//! bytes in random pieces (every stream's bytes arrive exactly once, in
//! order; v2 windows hold; memory stays bounded), and hostile input.

use std::collections::HashMap;

use kcp_session::Timestamp;
use kcp_session::smux::{Mux, MuxConfig, MuxError, Role, StreamError, StreamId, Version};
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum Op {
    Open {
        client: bool,
    },
    Send {
        client: bool,
        stream: usize,
        len: usize,
    },
    Recv {
        client: bool,
        stream: usize,
        buf: usize,
    },
    Close {
        client: bool,
        stream: usize,
    },
    Move {
        c2s: usize,
        s2c: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        1 => any::<bool>().prop_map(|client| Op::Open { client }),
        6 => (any::<bool>(), 0..8usize, 1..40_000usize)
            .prop_map(|(client, stream, len)| Op::Send { client, stream, len }),
        6 => (any::<bool>(), 0..8usize, 1..20_000usize)
            .prop_map(|(client, stream, buf)| Op::Recv { client, stream, buf }),
        1 => (any::<bool>(), 0..8usize).prop_map(|(client, stream)| Op::Close { client, stream }),
        6 => (0..100_000usize, 0..100_000usize).prop_map(|(c2s, s2c)| Op::Move { c2s, s2c }),
    ]
}

/// One direction of one stream: what was accepted for sending, and what
/// the other end read.
#[derive(Default)]
struct Flow {
    sent: Vec<u8>,
    read: Vec<u8>,
    eof: bool,
}

struct World {
    client: Mux,
    server: Mux,
    c2s: Vec<u8>,
    s2c: Vec<u8>,
    /// Streams known to both ends, by id, in opening order.
    ids: Vec<StreamId>,
    /// (id, sent by client) -> flow.
    flows: HashMap<(u32, bool), Flow>,
    closed: HashMap<(u32, bool), bool>,
    next_byte: u8,
    cfg: MuxConfig,
}

impl World {
    fn new(cfg: MuxConfig) -> World {
        let now = Timestamp::from_millis(0);
        World {
            client: Mux::new(Role::Client, cfg.clone(), now).unwrap(),
            server: Mux::new(Role::Server, cfg.clone(), now).unwrap(),
            c2s: Vec::new(),
            s2c: Vec::new(),
            ids: Vec::new(),
            flows: HashMap::new(),
            closed: HashMap::new(),
            next_byte: 0,
            cfg,
        }
    }

    fn mux(&mut self, client: bool) -> &mut Mux {
        if client {
            &mut self.client
        } else {
            &mut self.server
        }
    }

    /// Moves at most `c2s` and `s2c` bytes, in whatever pieces the muxes
    /// take them.
    fn move_bytes(&mut self, c2s: usize, s2c: usize) {
        for client in [true, false] {
            let budget = if client { c2s } else { s2c };
            let mut moved = 0;
            while moved < budget {
                let mux = self.mux(client);
                let Some(out) = mux.poll_output() else { break };
                let n = out.len().min(budget - moved);
                let bytes = out[..n].to_vec();
                mux.advance_output(n);
                moved += n;
                if client {
                    self.c2s.extend(bytes);
                } else {
                    self.s2c.extend(bytes);
                }
            }
            let (pipe, peer) = if client {
                (&mut self.c2s, &mut self.server)
            } else {
                (&mut self.s2c, &mut self.client)
            };
            if !pipe.is_empty() {
                let n = peer.handle_input(pipe).expect("honest input");
                pipe.drain(..n);
            }
        }
        while let Some(id) = self.server.accept_stream() {
            self.ids.push(id);
        }
        while let Some(id) = self.client.accept_stream() {
            self.ids.push(id);
        }
    }

    fn apply(&mut self, op: Op) {
        match op {
            Op::Open { client } => {
                if let Ok(id) = self.mux(client).open_stream() {
                    self.ids.push(id);
                }
            }
            Op::Send {
                client,
                stream,
                len,
            } => {
                let Some(&id) = self.ids.get(stream) else {
                    return;
                };
                let start = self.next_byte;
                let data: Vec<u8> = (0..len).map(|i| start.wrapping_add(i as u8)).collect();
                match self.mux(client).send(id, &data) {
                    Ok(n) => {
                        self.next_byte = start.wrapping_add(n as u8);
                        self.flows
                            .entry((id.0, client))
                            .or_default()
                            .sent
                            .extend_from_slice(&data[..n]);
                    }
                    Err(
                        StreamError::Blocked
                        | StreamError::Closed
                        | StreamError::Finished
                        | StreamError::Unknown,
                    ) => {}
                    Err(e) => panic!("send: {e}"),
                }
            }
            Op::Recv {
                client,
                stream,
                buf,
            } => {
                let Some(&id) = self.ids.get(stream) else {
                    return;
                };
                let mut b = vec![0u8; buf];
                // Data sent by the other end.
                let key = (id.0, !client);
                match self.mux(client).recv(id, &mut b) {
                    Ok(0) => self.flows.entry(key).or_default().eof = true,
                    Ok(n) => {
                        let f = self.flows.entry(key).or_default();
                        assert!(!f.eof, "data after the end");
                        f.read.extend_from_slice(&b[..n]);
                    }
                    Err(StreamError::Blocked | StreamError::Closed | StreamError::Unknown) => {}
                    Err(e) => panic!("recv: {e}"),
                }
            }
            Op::Close { client, stream } => {
                let Some(&id) = self.ids.get(stream) else {
                    return;
                };
                if self.mux(client).close_stream(id).is_ok() {
                    self.closed.insert((id.0, client), true);
                }
            }
            Op::Move { c2s, s2c } => self.move_bytes(c2s, s2c),
        }
    }

    fn check_invariants(&self) {
        for (client, mux) in [(true, &self.client), (false, &self.server)] {
            assert!(mux.is_alive(), "{:?}", mux.error());
            // Unread data: the session budget plus one frame; unsent data:
            // each stream's send buffer; plus one output batch.
            let bound = self.cfg.max_receive_buffer as usize
                + 65_535
                + mux.stream_count() * self.cfg.stream_send_buffer as usize
                + 64 * 1024
                + usize::from(self.cfg.max_frame_size)
                + 8;
            assert!(mux.buffered_bytes() <= bound, "client {client}");
            if self.cfg.version == Version::V2 {
                // A writer never has more in flight than the window it
                // was last told (or smux's first guess, 262144).
                let window = self.cfg.max_stream_buffer.max(262_144) as usize;
                for id in &self.ids {
                    assert!(mux.readable_bytes(*id) <= window);
                }
            }
        }
        for f in self.flows.values() {
            assert!(f.read.len() <= f.sent.len());
            let bad = f.read.iter().zip(&f.sent).position(|(a, b)| a != b);
            assert_eq!(bad, None, "bytes in order, exactly once: first difference");
        }
    }

    /// Reads everything left on streams neither side closed, until quiet.
    fn drain(&mut self) {
        for _ in 0..10_000 {
            self.move_bytes(usize::MAX, usize::MAX);
            let mut progressed = false;
            for i in 0..self.ids.len() {
                for client in [true, false] {
                    let before = self
                        .flows
                        .get(&(self.ids[i].0, !client))
                        .map_or(0, |f| f.read.len());
                    self.apply(Op::Recv {
                        client,
                        stream: i,
                        buf: 65536,
                    });
                    let after = self
                        .flows
                        .get(&(self.ids[i].0, !client))
                        .map_or(0, |f| f.read.len());
                    progressed |= after > before;
                }
            }
            let idle = self.client.poll_output().is_none() && self.server.poll_output().is_none();
            if !progressed && idle && self.c2s.is_empty() && self.s2c.is_empty() {
                return;
            }
        }
        panic!("no quiescence");
    }
}

fn config(version: Version, stream_buffer: u32) -> MuxConfig {
    let mut cfg = MuxConfig::kcptun();
    cfg.version = version;
    cfg.keepalive = None;
    cfg.max_stream_buffer = stream_buffer;
    cfg.max_receive_buffer = 1 << 20;
    cfg.stream_send_buffer = 50_000;
    cfg
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn random_interleavings_deliver_every_byte_once_in_order(
        v2 in any::<bool>(),
        stream_buffer in prop_oneof![Just(65_536u32), Just(8_192), Just(1 << 20)],
        ops in proptest::collection::vec(op(), 1..120),
    ) {
        let version = if v2 { Version::V2 } else { Version::V1 };
        let mut w = World::new(config(version, stream_buffer));
        for op in ops {
            w.apply(op);
            w.check_invariants();
        }
        w.drain();
        w.check_invariants();
        // Every stream no one closed got all its bytes across.
        for (&(id, from_client), f) in &w.flows {
            let closed = w.closed.contains_key(&(id, true)) || w.closed.contains_key(&(id, false));
            if !closed {
                prop_assert_eq!(f.read.len(), f.sent.len(), "stream {} from client {}", id, from_client);
            }
        }
    }

    #[test]
    fn random_bytes_are_a_typed_error_or_accepted(
        v2 in any::<bool>(),
        input in proptest::collection::vec(any::<u8>(), 0..4096),
        split in 0..4096usize,
    ) {
        let version = if v2 { Version::V2 } else { Version::V1 };
        let mut mux = Mux::new(Role::Server, config(version, 65_536), Timestamp::from_millis(0)).unwrap();
        let (a, b) = input.split_at(split.min(input.len()));
        for part in [a, b] {
            match mux.handle_input(part) {
                Ok(n) => prop_assert!(n <= part.len()),
                Err(MuxError::Protocol(_)) => break,
                Err(e) => prop_assert!(false, "unexpected {e}"),
            }
        }
        while mux.accept_stream().is_some() {}
        while mux.poll_output().is_some() {
            let n = mux.poll_output().unwrap().len();
            mux.advance_output(n);
        }
        prop_assert!(mux.stream_count() <= mux.config().max_streams);
    }
}

fn frame(ver: u8, cmd: u8, len: u16, sid: u32, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![ver, cmd];
    f.extend_from_slice(&len.to_le_bytes());
    f.extend_from_slice(&sid.to_le_bytes());
    f.extend_from_slice(payload);
    f
}

#[test]
fn hostile_frames_change_nothing_they_should_not() {
    let cfg = config(Version::V2, 65_536);
    let mut mux = Mux::new(Role::Server, cfg, Timestamp::from_millis(0)).unwrap();
    let mut input = Vec::new();
    input.extend(frame(2, 0, 0, 3, &[])); // SYN 3
    input.extend(frame(2, 0, 0, 3, &[])); // SYN 3 again: ignored
    input.extend(frame(2, 2, 3, 9, b"zzz")); // PSH to an unknown stream: dropped
    input.extend(frame(2, 4, 8, 9, &[1, 0, 0, 0, 2, 0, 0, 0])); // UPD unknown
    input.extend(frame(2, 1, 0, 11, &[])); // FIN unknown
    input.extend(frame(2, 2, 2, 3, b"ok"));
    input.extend(frame(2, 1, 0, 3, &[])); // FIN 3
    input.extend(frame(2, 1, 0, 3, &[])); // FIN 3 twice
    input.extend(frame(2, 2, 2, 3, b"no")); // PSH after FIN: dropped
    assert_eq!(mux.handle_input(&input), Ok(input.len()));
    let id = mux.accept_stream().unwrap();
    assert_eq!(mux.accept_stream(), None);
    let mut buf = [0u8; 8];
    assert_eq!(mux.recv(id, &mut buf), Ok(2));
    assert_eq!(&buf[..2], b"ok");
    assert_eq!(mux.recv(id, &mut buf), Ok(0), "end of stream");
    assert_eq!(mux.send(id, b"late"), Err(StreamError::Finished));
    let st = mux.stats();
    assert_eq!(st.duplicate_syns, 1);
    assert_eq!(st.dropped_bytes, 5);
    assert_eq!(st.unknown_stream_frames, 2);
    assert_eq!(st.bytes_in, 2);
}

#[test]
fn a_huge_psh_is_held_to_the_session_budget() {
    let mut cfg = config(Version::V1, 65_536);
    cfg.max_receive_buffer = 100_000;
    let mut mux = Mux::new(Role::Server, cfg, Timestamp::from_millis(0)).unwrap();
    let mut input = frame(1, 0, 0, 3, &[]);
    for _ in 0..10 {
        input.extend(frame(1, 2, 65_535, 3, &[7u8; 65_535]));
    }
    let n = mux.handle_input(&input).unwrap();
    // Two frames fit (the budget is checked before each header, as smux
    // does), then reading stops.
    assert_eq!(n, 8 + 2 * (8 + 65_535));
    assert_eq!(mux.handle_input(&input[n..]), Ok(0));
    let id = mux.accept_stream().unwrap();
    let mut buf = vec![0u8; 65_535];
    assert_eq!(mux.recv(id, &mut buf), Ok(65_535));
    // Tokens came back: the next frame goes in.
    assert_eq!(mux.handle_input(&input[n..]), Ok(8 + 65_535));
}

#[test]
fn syn_floods_are_bounded() {
    let mut cfg = config(Version::V2, 65_536);
    cfg.max_streams = 4;
    cfg.accept_backlog = 2;
    let mut mux = Mux::new(Role::Server, cfg, Timestamp::from_millis(0)).unwrap();
    let syns: Vec<u8> = (0..3000u32)
        .flat_map(|i| frame(2, 0, 0, 2 * i + 3, &[]))
        .collect();
    // The backlog stops reading at 2 waiting streams.
    let n = mux.handle_input(&syns).unwrap();
    assert_eq!(n, 16);
    let mut at = n;
    while at < syns.len() {
        while mux.accept_stream().is_some() {}
        at += mux.handle_input(&syns[at..]).unwrap();
    }
    assert_eq!(mux.stream_count(), 4);
    let st = mux.stats();
    assert_eq!(st.refused_syns + st.dropped_syns, 2996);
    assert_eq!(st.refused_syns, 1024);
    // Each refusal is a FIN for that id.
    let mut out = Vec::new();
    while let Some(b) = mux.poll_output() {
        out.extend_from_slice(b);
        let n = b.len();
        mux.advance_output(n);
    }
    assert_eq!(out.len(), 1024 * 8);
    assert_eq!(&out[..8], &frame(2, 1, 0, 11, &[])[..]);
}

#[test]
fn stream_ids_follow_smux_and_run_out() {
    let cfg = config(Version::V2, 65_536);
    let now = Timestamp::from_millis(0);
    let mut c = Mux::new(Role::Client, cfg.clone(), now).unwrap();
    let mut s = Mux::new(Role::Server, cfg, now).unwrap();
    assert_eq!(c.open_stream(), Ok(StreamId(3)));
    assert_eq!(c.open_stream(), Ok(StreamId(5)));
    assert_eq!(s.open_stream(), Ok(StreamId(2)));
    assert_eq!(s.open_stream(), Ok(StreamId(4)));
    // Ids that would wrap: go away, for good.
    let mut cfg = config(Version::V2, 65_536);
    cfg.max_streams = usize::MAX;
    let mut c = Mux::new(Role::Client, cfg, now).unwrap();
    let mut last = StreamId(0);
    for _ in 0..3 {
        last = c.open_stream().unwrap();
    }
    assert_eq!(last, StreamId(7));
    assert_eq!(c.close_stream(StreamId(99)), Err(StreamError::Unknown));
    assert_eq!(c.send(StreamId(99), b"x"), Err(StreamError::Unknown));
}

#[test]
fn a_peer_that_claims_too_much_consumed_fails_the_writer() {
    let cfg = config(Version::V2, 65_536);
    let mut c = Mux::new(Role::Client, cfg, Timestamp::from_millis(0)).unwrap();
    let id = c.open_stream().unwrap();
    assert_eq!(c.send(id, b"abc"), Ok(3));
    // UPD: consumed 10 > 3 sent.
    let upd = frame(2, 4, 8, id.0, &[10, 0, 0, 0, 0, 0, 1, 0]);
    assert_eq!(c.handle_input(&upd), Ok(16));
    assert_eq!(c.send(id, b"d"), Err(StreamError::Consumed));
}
