//! smux state machine costs (`kcp_session::smux`), no transport:
//! - `smux_roundtrip`: one write on a client stream → `poll_output` → the
//!   server's `handle_input` → `recv` until every byte is read, with the
//!   server's output (v2 UPDs) fed back to the client; kcptun's settings
//!   (8 KiB frames, 4 MiB session buffer, 2 MiB v2 windows), v1 and v2,
//!   writes of 64 B (one small frame) and 32 KiB (four full frames, as
//!   kcptun's 32 KiB relay reads produce). Bytes counted once.
//! - `smux_frame`: the 8-byte header alone, `Header::parse` and
//!   `Header::emit`.

use criterion::{BenchmarkId, Criterion, Throughput, black_box, criterion_group, criterion_main};
use kcp_session::Timestamp;
use kcp_session::smux::{
    Cmd, HEADER_LEN, Header, Mux, MuxConfig, Role, StreamError, StreamId, Version,
};

/// A client and a server mux with one stream open between them.
struct Pair {
    client: Mux,
    server: Mux,
    id: StreamId,
    buf: Vec<u8>,
}

/// Moves everything `from` has to send into `to`.
fn move_bytes(from: &mut Mux, to: &mut Mux) {
    while let Some(out) = from.poll_output() {
        let n = to.handle_input(out).expect("own frames");
        from.advance_output(n);
        if n == 0 {
            break;
        }
    }
}

impl Pair {
    fn new(version: Version) -> Pair {
        let mut cfg = MuxConfig::kcptun();
        cfg.version = version;
        cfg.keepalive = None;
        let now = Timestamp::from_millis(0);
        let mut client = Mux::new(Role::Client, cfg.clone(), now).unwrap();
        let mut server = Mux::new(Role::Server, cfg, now).unwrap();
        let id = client.open_stream().unwrap();
        move_bytes(&mut client, &mut server);
        assert_eq!(server.accept_stream(), Some(id));
        Pair {
            client,
            server,
            id,
            buf: vec![0; 64 * 1024],
        }
    }

    /// One write of `data`, carried across and read in full.
    fn round(&mut self, data: &[u8]) {
        let mut sent = 0;
        let mut read = 0;
        while read < data.len() {
            if sent < data.len() {
                match self.client.send(self.id, &data[sent..]) {
                    Ok(n) => sent += n,
                    Err(StreamError::Blocked) => {}
                    Err(e) => panic!("send: {e}"),
                }
            }
            move_bytes(&mut self.client, &mut self.server);
            while let Ok(n) = self.server.recv(self.id, &mut self.buf) {
                read += n;
            }
            move_bytes(&mut self.server, &mut self.client);
        }
        debug_assert_eq!(read, data.len());
    }
}

fn roundtrip(c: &mut Criterion) {
    let mut g = c.benchmark_group("smux_roundtrip");
    for size in [64usize, 32 * 1024] {
        let data = vec![0x5Au8; size];
        g.throughput(Throughput::Bytes(size as u64));
        for (name, version) in [("v1", Version::V1), ("v2", Version::V2)] {
            let mut pair = Pair::new(version);
            g.bench_with_input(BenchmarkId::new(name, size), &data, |b, data| {
                b.iter(|| pair.round(black_box(data)))
            });
        }
    }
    g.finish();
}

fn frame(c: &mut Criterion) {
    let mut g = c.benchmark_group("smux_frame");
    g.throughput(Throughput::Elements(1));
    let h = Header {
        version: Version::V2,
        cmd: Cmd::Psh,
        length: 8192,
        sid: 3,
    };
    let mut wire = [0u8; HEADER_LEN];
    h.emit(&mut wire);
    g.bench_function("parse", |b| {
        b.iter(|| Header::parse(black_box(&wire), Version::V2))
    });
    let mut out = [0u8; HEADER_LEN];
    g.bench_function("emit", |b| {
        b.iter(|| {
            black_box(&h).emit(&mut out);
            black_box(&out);
        })
    });
    g.finish();
}

criterion_group!(benches, roundtrip, frame);
criterion_main!(benches);
