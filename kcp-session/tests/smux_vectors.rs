//! The smux state machine against `testdata/kcp-go/smux-vectors.json`,
//! recorded from real smux v1.5.52 (kcptun's vendored copy): each side's
//! byte stream for the recorded application logic must be identical, and
//! the receiver edge cases must end as smux's did.

use kcp_session::Timestamp;
use kcp_session::smux::{
    FrameError, Keepalive, Mux, MuxConfig, MuxError, Role, StreamError, StreamId, Version,
};
use serde_json::Value;

fn vectors() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../testdata/kcp-go/smux-vectors.json"
    );
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read testdata/kcp-go/smux-vectors.json: {e}"));
    serde_json::from_str(&text).unwrap()
}

fn concat_hex(list: &Value) -> Vec<u8> {
    list.as_array()
        .unwrap()
        .iter()
        .flat_map(|h| hex::decode(h.as_str().unwrap()).unwrap())
        .collect()
}

/// `cfg` from a vector's `config` object.
fn config(v: &Value) -> MuxConfig {
    let version = match v["Version"].as_u64().unwrap() {
        1 => Version::V1,
        _ => Version::V2,
    };
    let mut cfg = MuxConfig::smux_default();
    cfg.version = version;
    if v["KeepAliveDisabled"].as_bool() == Some(true) {
        cfg.keepalive = None;
    }
    if let Some(f) = v["MaxFrameSize"].as_u64() {
        cfg.max_frame_size = f as u16;
    }
    if let Some(b) = v["MaxReceiveBuffer"].as_u64() {
        cfg.max_receive_buffer = b as u32;
    }
    if let Some(b) = v["MaxStreamBuffer"].as_u64() {
        cfg.max_stream_buffer = b as u32;
    }
    cfg
}

/// Two sessions joined by an in-memory pipe that records each direction.
struct Pair {
    client: Mux,
    server: Mux,
    c2s: Vec<u8>,
    s2c: Vec<u8>,
    /// Bytes written but not yet consumed by the receiver.
    c2s_pending: Vec<u8>,
    s2c_pending: Vec<u8>,
}

impl Pair {
    fn new(cfg: MuxConfig) -> Pair {
        let now = Timestamp::from_millis(0);
        Pair {
            client: Mux::new(Role::Client, cfg.clone(), now).unwrap(),
            server: Mux::new(Role::Server, cfg, now).unwrap(),
            c2s: Vec::new(),
            s2c: Vec::new(),
            c2s_pending: Vec::new(),
            s2c_pending: Vec::new(),
        }
    }

    /// Moves bytes both ways until neither side has anything to say.
    fn pump(&mut self) {
        loop {
            let mut moved = false;
            while let Some(out) = self.client.poll_output() {
                let n = out.len();
                self.c2s.extend_from_slice(out);
                self.c2s_pending.extend_from_slice(out);
                self.client.advance_output(n);
                moved = true;
            }
            while let Some(out) = self.server.poll_output() {
                let n = out.len();
                self.s2c.extend_from_slice(out);
                self.s2c_pending.extend_from_slice(out);
                self.server.advance_output(n);
                moved = true;
            }
            if !self.c2s_pending.is_empty() {
                let n = self.server.handle_input(&self.c2s_pending).unwrap();
                moved |= n > 0;
                self.c2s_pending.drain(..n);
            }
            if !self.s2c_pending.is_empty() {
                let n = self.client.handle_input(&self.s2c_pending).unwrap();
                moved |= n > 0;
                self.s2c_pending.drain(..n);
            }
            if !moved {
                return;
            }
        }
    }
}

/// Reads everything `id` has now, one smux `Read` (one frame) at a time,
/// with a 65536-byte buffer as the recorded programs did.
fn read_frames(mux: &mut Mux, id: StreamId) -> (Vec<Vec<u8>>, bool) {
    let mut buf = vec![0u8; 65536];
    let mut reads = Vec::new();
    loop {
        match mux.recv(id, &mut buf) {
            Ok(0) => return (reads, true),
            Ok(n) => reads.push(buf[..n].to_vec()),
            Err(StreamError::Blocked) => return (reads, false),
            Err(e) => panic!("read: {e}"),
        }
    }
}

/// Sends all of `data` as one smux `Write` would: repeated `send` calls
/// on the remainder, pumping while the stream is blocked.
fn write_all(p: &mut Pair, client: bool, id: StreamId, data: &[u8]) {
    let mut at = 0;
    while at < data.len() {
        let mux = if client { &mut p.client } else { &mut p.server };
        match mux.send(id, &data[at..]) {
            Ok(n) => at += n,
            Err(StreamError::Blocked) => {}
            Err(e) => panic!("write: {e}"),
        }
        p.pump();
        if client {
            // The recorded server reads as data arrives.
            let _ = read_frames(&mut p.server, id);
            p.pump();
        }
    }
}

/// a_v1_echo / a_v2_echo: two streams, "hello" echoed, 20000 bytes in one
/// write echoed by a server that writes back each read, then FINs.
fn echo_case(name: &str) {
    let all = vectors();
    let v = &all[name];
    let mut p = Pair::new(config(&v["config"]));
    let s3 = p.client.open_stream().unwrap();
    let s5 = p.client.open_stream().unwrap();
    assert_eq!((s3, s5), (StreamId(3), StreamId(5)));
    p.client.send(s3, b"hello").unwrap();
    p.pump();
    let accepted: Vec<StreamId> = std::iter::from_fn(|| p.server.accept_stream()).collect();
    assert_eq!(accepted, [StreamId(3), StreamId(5)]);

    let server_echo = |p: &mut Pair| -> bool {
        let (reads, eof) = read_frames(&mut p.server, StreamId(3));
        for r in reads {
            assert_eq!(p.server.send(StreamId(3), &r), Ok(r.len()));
        }
        if eof {
            p.server.close_stream(StreamId(3)).unwrap();
        }
        p.pump();
        eof
    };
    server_echo(&mut p);
    let (reads, _) = read_frames(&mut p.client, s3);
    assert_eq!(reads.concat(), b"hello");
    p.pump();

    let big: Vec<u8> = (0..20000).map(|i| (i % 251) as u8).collect();
    assert_eq!(p.client.send(s3, &big), Ok(20000));
    p.pump();
    server_echo(&mut p);
    let mut echoed = Vec::new();
    while echoed.len() < big.len() {
        let (reads, eof) = read_frames(&mut p.client, s3);
        assert!(!eof);
        echoed.extend(reads.concat());
        p.pump();
    }
    assert_eq!(echoed, big);
    p.client.close_stream(s3).unwrap();
    p.pump();
    assert!(server_echo(&mut p), "the server sees EOF after the FIN");
    p.pump();
    p.client.close();

    assert_eq!(p.c2s, concat_hex(&v["client_writes_hex"]), "{name}: client");
    assert_eq!(p.s2c, concat_hex(&v["server_writes_hex"]), "{name}: server");
}

#[test]
fn v1_echo_bytes_match_smux() {
    echo_case("a_v1_echo");
}

#[test]
fn v2_echo_bytes_match_smux() {
    echo_case("a_v2_echo");
}

fn lcg(n: usize) -> Vec<u8> {
    let mut x: u32 = 1;
    (0..n)
        .map(|_| {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            (x >> 16) as u8
        })
        .collect()
}

/// b_v2_flow_control: 200000 bytes in one write; the reader's UPDs after
/// its first read and every 32768 bytes; FINs both ways.
#[test]
fn v2_flow_control_bytes_match_smux() {
    let all = vectors();
    let v = &all["b_v2_flow_control"];
    let mut cfg = MuxConfig::smux_default();
    cfg.version = Version::V2;
    cfg.keepalive = None;
    cfg.max_frame_size = 8192;
    cfg.max_stream_buffer = 65536;
    let mut p = Pair::new(cfg);
    let id = p.client.open_stream().unwrap();
    let data = lcg(200_000);
    p.pump();
    assert_eq!(p.server.accept_stream(), Some(id));
    write_all(&mut p, true, id, &data);
    p.client.close_stream(id).unwrap();
    p.pump();
    let (_, eof) = read_frames(&mut p.server, StreamId(3));
    assert!(eof);
    p.server.close_stream(StreamId(3)).unwrap();
    p.pump();
    assert_eq!(p.c2s, concat_hex(&v["client_writes_hex"]), "client");
    assert_eq!(p.s2c, concat_hex(&v["server_writes_hex"]), "server");
    assert_eq!(p.server.stats().bytes_in, 200_000);
}

/// c_keepalive: NOPs every interval from one interval after creation;
/// talking sessions stay alive; a session whose peer is silent dies at the
/// first timeout tick, after its third NOP.
#[test]
fn keepalive_matches_smux() {
    let all = vectors();
    for ver in ["v1", "v2"] {
        let v = &all["c_keepalive"][ver];
        let mut cfg = MuxConfig::smux_default();
        cfg.version = if ver == "v1" {
            Version::V1
        } else {
            Version::V2
        };
        cfg.keepalive = Some(Keepalive {
            interval_ms: v["config"]["KeepAliveInterval_ms"].as_u64().unwrap() as u32,
            timeout_ms: v["config"]["KeepAliveTimeout_ms"].as_u64().unwrap() as u32,
        });
        let nop = hex::decode(v["nop_frame_hex"].as_str().unwrap()).unwrap();

        let mut p = Pair::new(cfg.clone());
        for t in 1..=550 {
            let now = Timestamp::from_millis(t);
            p.client.handle_timeout(now);
            p.server.handle_timeout(now);
            p.pump();
        }
        assert!(p.client.is_alive() && p.server.is_alive(), "{ver}");
        assert_eq!(p.c2s, nop.repeat(5), "{ver}: client NOPs at 100..500 ms");
        assert_eq!(p.s2c, nop.repeat(5), "{ver}: server NOPs");

        let silent = &v["silent_peer"];
        let mut client = Mux::new(Role::Client, cfg, Timestamp::from_millis(0)).unwrap();
        let mut written = Vec::new();
        let mut died_at = None;
        let mut t = Timestamp::from_millis(0);
        while let Some(next) = client.poll_timeout() {
            t = next;
            client.handle_timeout(t);
            while let Some(out) = client.poll_output() {
                let n = out.len();
                written.extend_from_slice(out);
                client.advance_output(n);
            }
            if !client.is_alive() {
                died_at = Some(t.as_millis());
            }
        }
        assert_eq!(client.error(), Some(MuxError::KeepaliveTimeout));
        assert_eq!(
            died_at,
            silent["closed_after_ms"].as_u64().map(|x| x as u32)
        );
        assert_eq!(
            written,
            concat_hex(&Value::Array(
                silent["client_writes"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|w| w["hex"].clone())
                    .collect()
            ))
        );
        assert_eq!(t.as_millis(), 300);
    }
}

/// f_receiver_edge_cases: raw bytes into a server session; the first
/// accept, then reads until an error, as smux reported them.
#[test]
fn receiver_edge_cases_match_smux() {
    let all = vectors();
    let cases = all["f_receiver_edge_cases"]["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 9);
    for c in cases {
        let name = c["name"].as_str().unwrap();
        let mut cfg = MuxConfig::smux_default();
        cfg.keepalive = None;
        cfg.version = match c["session_version"].as_u64().unwrap() {
            1 => Version::V1,
            _ => Version::V2,
        };
        let mut mux = Mux::new(Role::Server, cfg, Timestamp::from_millis(0)).unwrap();
        let input = hex::decode(c["input_hex"].as_str().unwrap()).unwrap();
        let fed = mux.handle_input(&input);
        let mut got = String::new();
        match mux.accept_stream() {
            None => {
                let e = fed.expect_err(name);
                assert!(matches!(e, MuxError::Protocol(_)), "{name}: {e}");
                got.push_str("AcceptStream error: invalid protocol");
            }
            Some(id) => {
                got.push_str(&format!("accepted sid {}; ", id.0));
                let mut buf = [0u8; 64];
                loop {
                    let (data, err) = match mux.recv(id, &mut buf) {
                        Ok(0) => (String::new(), "EOF"),
                        Ok(n) => (String::from_utf8_lossy(&buf[..n]).into_owned(), "<nil>"),
                        Err(StreamError::Blocked) => (String::new(), "timeout"),
                        Err(StreamError::Session(MuxError::Protocol(_))) => {
                            (String::new(), "invalid protocol")
                        }
                        Err(e) => panic!("{name}: {e}"),
                    };
                    got.push_str(&format!("Read -> {data:?} err={err};"));
                    if err != "<nil>" {
                        break;
                    }
                    got.push(' ');
                }
            }
        }
        assert_eq!(got, c["result"].as_str().unwrap(), "{name}");
    }
}

#[test]
fn protocol_errors_are_typed() {
    let mut cfg = MuxConfig::smux_default();
    cfg.keepalive = None;
    let mut mux = Mux::new(Role::Server, cfg, Timestamp::from_millis(0)).unwrap();
    assert_eq!(
        mux.handle_input(&[1, 4, 8, 0, 3, 0, 0, 0]),
        Err(MuxError::Protocol(FrameError::UpdOnV1))
    );
    // Input stops for good.
    assert_eq!(
        mux.handle_input(&[1, 3, 0, 0, 0, 0, 0, 0]),
        Err(MuxError::Protocol(FrameError::UpdOnV1))
    );
}

/// e_kcptun_stack_nocomp: the whole kcptun exchange without compression:
/// an 18-byte request, a 5000-byte reply, FINs, with kcptun's smux
/// settings on both ends.
#[test]
fn kcptun_stack_without_compression_matches() {
    let all = vectors();
    let v = &all["e_kcptun_stack_nocomp"];
    let mut cfg = MuxConfig::kcptun();
    cfg.keepalive = None;
    let mut p = Pair::new(cfg);
    let id = p.client.open_stream().unwrap();
    let request = b"GET / HTTP/1.0\r\n\r\n";
    p.client.send(id, request).unwrap();
    p.pump();
    let sid = p.server.accept_stream().unwrap();
    let (reads, _) = read_frames(&mut p.server, sid);
    assert_eq!(reads.concat(), request);
    p.pump();
    let reply: Vec<u8> = (0..5000).map(|i| (i % 251) as u8).collect();
    p.server.send(sid, &reply).unwrap();
    p.server.close_stream(sid).unwrap();
    p.pump();
    let (reads, eof) = read_frames(&mut p.client, id);
    assert_eq!(reads.concat(), reply);
    assert!(eof);
    p.client.close_stream(id).unwrap();
    p.pump();
    let c2s = hex::decode(v["client_to_server_stream_hex"].as_str().unwrap()).unwrap();
    let s2c = hex::decode(v["server_to_client_stream_hex"].as_str().unwrap()).unwrap();
    assert_eq!(p.c2s, c2s, "client to server");
    assert_eq!(p.s2c, s2c, "server to client");
}

/// d_snappy_framing and e_kcptun_stack_comp: kcptun's compression layer.
#[cfg(feature = "snappy")]
mod snappy {
    use super::*;
    use kcp_session::smux::snappy::{SnappyDecoder, SnappyEncoder};

    fn input_of(case: &Value) -> Vec<u8> {
        if let Some(h) = case["input_hex"].as_str() {
            return hex::decode(h).unwrap();
        }
        let n = case["input_len"].as_u64().unwrap() as usize;
        match case["name"].as_str().unwrap() {
            "pattern20000" => (0..n).map(|i| (i % 251) as u8).collect(),
            "zeros100000" => vec![0; n],
            "lcg70000" => lcg(n),
            "uncompressed_too_long" => {
                // Stream identifier, then header 01 05 00 01 (65541), a zero
                // CRC, 65537 zero bytes.
                let mut v = hex::decode("ff060000734e61507059").unwrap();
                v.extend_from_slice(&[0x01, 0x05, 0x00, 0x01, 0, 0, 0, 0]);
                v.extend(std::iter::repeat_n(0u8, 65_537));
                v
            }
            other => panic!("no generator for {other}"),
        }
    }

    /// Every recorded decode case ends as golang/snappy's reader did:
    /// the same output, or the same class of error.
    #[test]
    fn decodes_like_golang_snappy() {
        let all = vectors();
        let cases = all["d_snappy_framing"]["decode_cases"].as_array().unwrap();
        assert_eq!(cases.len(), 13);
        for c in cases {
            let name = c["name"].as_str().unwrap();
            let input = input_of(c);
            let mut dec = SnappyDecoder::new();
            let mut out = Vec::new();
            let result = dec.decode(&input, &mut out).and_then(|_| dec.finish());
            match c["error"].as_str().unwrap() {
                "" => {
                    assert_eq!(result, Ok(()), "{name}");
                    assert_eq!(
                        hex::encode(&out),
                        c["output_hex"].as_str().unwrap(),
                        "{name}"
                    );
                }
                err => {
                    let e = result.expect_err(name);
                    let class = if e.is_unsupported() {
                        "snappy: unsupported input"
                    } else {
                        "snappy: corrupt input"
                    };
                    assert_eq!(class, err, "{name}: {e}");
                }
            }
        }
    }

    /// Each kcptun `CompStream.Write` is one flush: our encoder's bytes for
    /// the recorded inputs (fresh streams, and all in one stream) equal
    /// golang/snappy's, chunk types and compressed blocks included.
    #[test]
    fn encodes_like_golang_snappy() {
        let all = vectors();
        let d = &all["d_snappy_framing"];
        let mut one = SnappyEncoder::new();
        let mut one_out = Vec::new();
        for (fresh, seq) in d["fresh"]
            .as_array()
            .unwrap()
            .iter()
            .zip(d["sequence_one_stream"].as_array().unwrap())
        {
            let name = fresh["name"].as_str().unwrap();
            let input = input_of(fresh);
            let mut out = Vec::new();
            SnappyEncoder::new().encode(&input, &mut out);
            assert_eq!(
                out,
                concat_hex(&fresh["underlying_writes_hex"]),
                "fresh {name}"
            );
            let at = one_out.len();
            one.encode(&input, &mut one_out);
            assert_eq!(
                one_out[at..],
                concat_hex(&seq["underlying_writes_hex"]),
                "sequence {name}"
            );
            let mut dec = SnappyDecoder::new();
            let mut back = Vec::new();
            dec.decode(&out, &mut back).unwrap();
            assert_eq!(back, input, "{name} round trip");
        }
    }

    /// e_kcptun_stack_comp: the whole kcptun exchange with compression,
    /// each smux frame one snappy chunk: decoded layer by layer, and
    /// re-encoded by our stack byte for byte.
    #[test]
    fn kcptun_stack_with_compression_matches() {
        let all = vectors();
        let v = &all["e_kcptun_stack_comp"];
        for (stream, plain) in [
            (
                "client_to_server_stream_hex",
                "client_to_server_decompressed_hex",
            ),
            (
                "server_to_client_stream_hex",
                "server_to_client_decompressed_hex",
            ),
        ] {
            let wire = hex::decode(v[stream].as_str().unwrap()).unwrap();
            let mut dec = SnappyDecoder::new();
            let mut out = Vec::new();
            assert_eq!(dec.decode(&wire, &mut out), Ok(wire.len()));
            dec.finish().unwrap();
            assert_eq!(hex::encode(&out), v[plain].as_str().unwrap(), "{stream}");
        }

        // Our client and server, each frame written through its own
        // encoder flush (as kcptun's CompStream without WriteBuffers).
        let mut cfg = MuxConfig::kcptun();
        cfg.keepalive = None;
        let now = Timestamp::from_millis(0);
        let mut client = Mux::new(Role::Client, cfg.clone(), now).unwrap();
        let mut server = Mux::new(Role::Server, cfg, now).unwrap();
        let (mut cenc, mut senc) = (SnappyEncoder::new(), SnappyEncoder::new());
        let (mut cdec, mut sdec) = (SnappyDecoder::new(), SnappyDecoder::new());
        let (mut c2s, mut s2c) = (Vec::new(), Vec::new());
        let pump = |from: &mut Mux,
                    enc: &mut SnappyEncoder,
                    wire: &mut Vec<u8>,
                    dec: &mut SnappyDecoder,
                    to: &mut Mux| {
            let mut frames = Vec::new();
            while let Some(out) = from.poll_output() {
                frames.extend_from_slice(out);
                let n = out.len();
                from.advance_output(n);
            }
            // One chunk per smux frame, as kcptun's CompStream writes them.
            let start = wire.len();
            assert_eq!(enc.encode_frames(&frames, Version::V2, wire), frames.len());
            let mut plain = Vec::new();
            dec.decode(&wire[start..], &mut plain).unwrap();
            assert_eq!(plain, frames);
            assert_eq!(to.handle_input(&plain), Ok(plain.len()));
        };
        let id = client.open_stream().unwrap();
        client.send(id, b"GET / HTTP/1.0\r\n\r\n").unwrap();
        pump(&mut client, &mut cenc, &mut c2s, &mut sdec, &mut server);
        let sid = server.accept_stream().unwrap();
        let mut buf = vec![0u8; 65536];
        assert_eq!(server.recv(sid, &mut buf), Ok(18));
        pump(&mut server, &mut senc, &mut s2c, &mut cdec, &mut client);
        let reply: Vec<u8> = (0..5000).map(|i| (i % 251) as u8).collect();
        server.send(sid, &reply).unwrap();
        server.close_stream(sid).unwrap();
        pump(&mut server, &mut senc, &mut s2c, &mut cdec, &mut client);
        assert_eq!(client.recv(id, &mut buf), Ok(5000));
        assert_eq!(&buf[..5000], &reply[..]);
        assert_eq!(client.recv(id, &mut buf), Ok(0));
        client.close_stream(id).unwrap();
        pump(&mut client, &mut cenc, &mut c2s, &mut sdec, &mut server);
        assert_eq!(
            hex::encode(&c2s),
            v["client_to_server_stream_hex"].as_str().unwrap()
        );
        assert_eq!(
            hex::encode(&s2c),
            v["server_to_client_stream_hex"].as_str().unwrap()
        );
    }
}
