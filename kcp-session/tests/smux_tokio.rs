//! The tokio smux driver (`smux::tokio`): many streams both ways over an
//! in-memory duplex (v1 and v2) and over real KCP pairs (AES + FEC, with
//! and without snappy), interop with the std driver, cancellation,
//! keepalive in paused virtual time, hostile input, FIN and shutdown
//! semantics, and what dropping handles or the runtime does.
#![cfg(feature = "tokio")]

mod net_common;

use std::future::{Future, poll_fn};
use std::io::{self, Read, Write};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use kcp_crypto::CryptName;
use kcp_session::smux::net::{SmuxSession, SmuxStream};
use kcp_session::smux::tokio::{AsyncSmuxSession, AsyncSmuxStream, OwnedReadHalf, OwnedWriteHalf};
use kcp_session::smux::{FrameError, Keepalive, MuxConfig, MuxError, Role, Version};
use kcp_session::{CryptConfig, SessionConfig, net, tokio as kt};
use net_common::Rng;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, DuplexStream, ReadBuf};
use tokio::time::{Instant, timeout};

/// Hang guard (virtual time in the paused tests).
const GUARD: Duration = Duration::from_secs(60);
/// The v2 NOP frame.
const NOP: [u8; 8] = [2, 3, 0, 0, 0, 0, 0, 0];

fn v1() -> MuxConfig {
    MuxConfig::smux_default()
}

fn v2() -> MuxConfig {
    MuxConfig::kcptun()
}

fn duplex_sessions(cfg: MuxConfig) -> (AsyncSmuxSession, AsyncSmuxSession) {
    let (a, b) = tokio::io::duplex(64 * 1024);
    (
        AsyncSmuxSession::client(a, cfg.clone()).unwrap(),
        AsyncSmuxSession::server(b, cfg).unwrap(),
    )
}

/// Writes `size` seeded bytes in writes of varying sizes.
async fn send_seeded<W: AsyncWrite + Unpin>(w: &mut W, seed: u64, size: usize) {
    let mut data = Rng::new(seed);
    let mut sizes = Rng::new(seed ^ 0x5a5a);
    let mut buf = vec![0u8; 20_000];
    let mut left = size;
    while left > 0 {
        let n = (1 + sizes.below(20_000) as usize).min(left);
        data.fill(&mut buf[..n]);
        w.write_all(&buf[..n]).await.unwrap();
        left -= n;
    }
}

/// Reads exactly `size` bytes and checks them against the seeded stream.
async fn expect_seeded<R: AsyncRead + Unpin>(r: &mut R, seed: u64, size: usize) {
    let mut exp = Rng::new(seed);
    let mut buf = vec![0u8; 16 * 1024];
    let mut want = vec![0u8; 16 * 1024];
    let mut got = 0;
    while got < size {
        let k = (size - got).min(buf.len());
        let n = r.read(&mut buf[..k]).await.unwrap();
        assert!(n > 0, "early EOF at {got} of {size}");
        exp.fill(&mut want[..n]);
        assert!(buf[..n] == want[..n], "bytes differ at {got}");
        got += n;
    }
}

/// The seed of the bytes sent on stream `id` by the client (`from_client`)
/// or the server.
fn seed(base: u64, id: u32, from_client: bool) -> u64 {
    base ^ (u64::from(id) << 20) ^ u64::from(from_client)
}

/// Ends a stream once both directions are done: on even pairs of ids the
/// client closes first, on odd ones the server; the other end reads the
/// FIN as the end, then drops its handle (its own FIN).
async fn finish(mut rd: OwnedReadHalf, mut wr: OwnedWriteHalf, client: bool) {
    let client_first = (rd.id().0 / 2).is_multiple_of(2);
    if client == client_first {
        wr.shutdown().await.unwrap(); // FIN
        // Reads end after this side's shutdown.
        assert_eq!(rd.read(&mut [0u8; 8]).await.unwrap(), 0);
    } else {
        // The peer's FIN.
        assert_eq!(rd.read(&mut [0u8; 8]).await.unwrap(), 0);
        assert_eq!(
            wr.write(b"late").await.unwrap_err().kind(),
            io::ErrorKind::BrokenPipe
        );
    }
}

/// `streams` streams opened by `client`, each carrying `size` bytes both
/// ways at once, checked byte for byte, then closed by one end or the
/// other.
async fn exchange(
    client: &AsyncSmuxSession,
    server: &AsyncSmuxSession,
    streams: usize,
    size: usize,
    base: u64,
) {
    let srv = {
        let server = server.clone();
        tokio::spawn(async move {
            let mut tasks = Vec::new();
            for _ in 0..streams {
                let st = server.accept_stream().await.unwrap();
                tasks.push(tokio::spawn(async move {
                    let id = st.id().0;
                    assert_eq!(id % 2, 1, "client ids are odd");
                    let (mut rd, mut wr) = st.into_split();
                    let w = tokio::spawn(async move {
                        send_seeded(&mut wr, seed(base, id, false), size).await;
                        wr
                    });
                    expect_seeded(&mut rd, seed(base, id, true), size).await;
                    finish(rd, w.await.unwrap(), false).await;
                }));
            }
            for t in tasks {
                t.await.unwrap();
            }
        })
    };
    let mut tasks = Vec::new();
    for _ in 0..streams {
        let c = client.clone();
        tasks.push(tokio::spawn(async move {
            let st = c.open_stream().await.unwrap();
            let id = st.id().0;
            let (mut rd, mut wr) = st.into_split();
            let w = tokio::spawn(async move {
                send_seeded(&mut wr, seed(base, id, true), size).await;
                wr
            });
            expect_seeded(&mut rd, seed(base, id, false), size).await;
            finish(rd, w.await.unwrap(), true).await;
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    srv.await.unwrap();
    let total = (streams * size) as u64;
    let (cs, ss) = (client.stats(), server.stats());
    // (Over KCP, one more byte went through the first stream.)
    assert!(cs.mux.bytes_out >= total && cs.mux.bytes_out <= total + 1);
    assert_eq!(cs.mux.bytes_in, total);
    assert_eq!(ss.mux.bytes_in, cs.mux.bytes_out);
    assert!(cs.transport_out > 0 && ss.transport_in > 0);
    assert!(client.is_alive() && server.is_alive());
}

/// Closes both ends of a duplex pair.
async fn close_both(client: AsyncSmuxSession, server: AsyncSmuxSession) {
    client.close().await.unwrap();
    assert!(!client.is_alive());
    assert_eq!(
        client.error().unwrap().kind(),
        io::ErrorKind::ConnectionAborted
    );
    // The server's transport ended: it is already dead.
    server.close().await.unwrap();
    assert!(!server.is_alive());
}

async fn duplex_64_streams(base: u64) {
    for (i, cfg) in [v1(), v2()].into_iter().enumerate() {
        let (c, s) = duplex_sessions(cfg);
        timeout(GUARD, async {
            exchange(&c, &s, 64, 256 * 1024, base + i as u64).await;
            close_both(c, s).await;
        })
        .await
        .expect("hang guard");
    }
}

#[tokio::test]
async fn duplex_64_streams_both_ways_current_thread() {
    duplex_64_streams(1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplex_64_streams_both_ways_multi_thread() {
    duplex_64_streams(100).await;
}

// ---------------------------------------------------------------- KCP

fn kcp_cfg(crypt: CryptName) -> SessionConfig {
    let mut s = SessionConfig::fast3()
        .with_window(512, 512)
        .with_fec(10, 3)
        .with_crypt(CryptConfig::from_passphrase(crypt, "smux over tokio"));
    s.stream = true;
    s
}

/// An smux client and server over a tokio KCP pair on loopback.
async fn kcp_sessions(cfg: MuxConfig, compress: bool) -> (AsyncSmuxSession, AsyncSmuxSession) {
    let kc = kcp_cfg(CryptName::Aes);
    let listener = kt::KcpListener::bind("127.0.0.1:0", kc.clone())
        .await
        .unwrap();
    let c = kt::KcpStream::connect(listener.local_addr(), kc)
        .await
        .unwrap();
    let client = AsyncSmuxSession::new(Role::Client, c, cfg.clone(), compress).unwrap();
    // The listener sees the session once the client's first bytes (the
    // SYN) arrive.
    let mut first = client.open_stream().await.unwrap();
    let (s, _) = listener.accept().await.unwrap();
    let server = AsyncSmuxSession::new(Role::Server, s, cfg, compress).unwrap();
    let mut a = server.accept_stream().await.unwrap();
    first.write_all(b"x").await.unwrap();
    let mut b = [0u8; 1];
    a.read_exact(&mut b).await.unwrap();
    first.shutdown().await.unwrap();
    assert_eq!(a.read(&mut b).await.unwrap(), 0);
    (client, server)
}

/// Closes a KCP pair. KCP has no FIN: an end whose peer's KCP is gone
/// waits, in `close`, for acknowledgements until its linger or
/// `CLOSE_FLUSH` runs out. So the client closes while the server still
/// answers, and the server closes in the background (dropped).
async fn close_kcp(client: AsyncSmuxSession, server: AsyncSmuxSession) {
    client.close().await.unwrap();
    assert!(!client.is_alive());
    drop(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kcp_aes_fec_plain() {
    timeout(GUARD, async {
        let (c, s) = kcp_sessions(v2(), false).await;
        exchange(&c, &s, 8, 256 * 1024, 7).await;
        close_kcp(c, s).await;
    })
    .await
    .expect("hang guard");
}

#[cfg(feature = "snappy")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kcp_aes_fec_snappy() {
    timeout(GUARD, async {
        let (c, s) = kcp_sessions(v2(), true).await;
        exchange(&c, &s, 8, 256 * 1024, 8).await;
        close_kcp(c, s).await;
    })
    .await
    .expect("hang guard");
}

#[cfg(feature = "snappy")]
#[tokio::test]
async fn kcp_snappy_v1_current_thread() {
    timeout(GUARD, async {
        let (c, s) = kcp_sessions(v1(), true).await;
        exchange(&c, &s, 4, 128 * 1024, 9).await;
        close_kcp(c, s).await;
    })
    .await
    .expect("hang guard");
}

// ------------------------------------------------------------ interop

const INTEROP_STREAMS: usize = 8;
const INTEROP_SIZE: usize = 128 * 1024;

/// A std stream: writes seeded bytes on a second thread while reading the
/// echo on this one.
fn std_echo_through(st: SmuxStream, seed: u64) {
    let w = st.try_clone().unwrap();
    let writer = std::thread::spawn(move || {
        let mut data = Rng::new(seed);
        let mut buf = vec![0u8; 10_000];
        let mut left = INTEROP_SIZE;
        while left > 0 {
            let n = left.min(buf.len());
            data.fill(&mut buf[..n]);
            (&w).write_all(&buf[..n]).unwrap();
            left -= n;
        }
    });
    let mut got = vec![0u8; INTEROP_SIZE];
    (&st).read_exact(&mut got).unwrap();
    writer.join().unwrap();
    assert!(got == Rng::new(seed).bytes(INTEROP_SIZE), "echo differs");
    st.close().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn std_client_tokio_server() {
    let compress = cfg!(feature = "snappy");
    let kc = kcp_cfg(CryptName::Aes);
    let listener = kt::KcpListener::bind("127.0.0.1:0", kc.clone())
        .await
        .unwrap();
    let addr = listener.local_addr();
    // KCP has no FIN: an end that closes while its peer's KCP is gone
    // waits for acknowledgements until its linger runs out. So the tokio
    // end (whose close waits for them) closes first, then tells the std
    // end to close.
    let (closed_tx, closed_rx) = std::sync::mpsc::channel::<()>();
    // The std client runs on threads of its own.
    let client = std::thread::spawn(move || {
        let c = net::KcpStream::connect(addr, kc).unwrap();
        let session = SmuxSession::client(c, v2(), compress).unwrap();
        std::thread::scope(|s| {
            for i in 0..INTEROP_STREAMS {
                let st = session.open_stream().unwrap();
                s.spawn(move || std_echo_through(st, 40 + i as u64));
            }
        });
        closed_rx.recv().unwrap();
        session.close().unwrap();
    });
    timeout(GUARD, async {
        let (k, _) = listener.accept().await.unwrap();
        let server = AsyncSmuxSession::new(Role::Server, k, v2(), compress).unwrap();
        let mut echoes = Vec::new();
        for _ in 0..INTEROP_STREAMS {
            let st = server.accept_stream().await.unwrap();
            echoes.push(tokio::spawn(async move {
                let (mut r, mut w) = st.into_split();
                // Until the client's FIN.
                tokio::io::copy(&mut r, &mut w).await.unwrap()
            }));
        }
        for e in echoes {
            assert_eq!(e.await.unwrap(), INTEROP_SIZE as u64);
        }
        // KCP has no FIN: close this end rather than wait for keepalive.
        server.close().await.unwrap();
        closed_tx.send(()).unwrap();
    })
    .await
    .expect("hang guard");
    tokio::task::spawn_blocking(move || client.join().unwrap())
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokio_client_std_server() {
    let kc = kcp_cfg(CryptName::Aes);
    let listener = net::KcpListener::bind("127.0.0.1:0", kc.clone()).unwrap();
    let addr = listener.local_addr();
    // The tokio end closes first (see std_client_tokio_server).
    let (closed_tx, closed_rx) = std::sync::mpsc::channel::<()>();
    // The std server echoes every stream on a thread of its own.
    let server = std::thread::spawn(move || {
        let (k, _) = listener.accept_timeout(Duration::from_secs(20)).unwrap();
        let session = SmuxSession::server(k, v1(), false).unwrap();
        std::thread::scope(|s| {
            for _ in 0..INTEROP_STREAMS {
                let mut st = session.accept_stream().unwrap();
                s.spawn(move || {
                    let mut buf = vec![0u8; 16 * 1024];
                    loop {
                        match st.read(&mut buf) {
                            Ok(0) => break,
                            Ok(n) => st.write_all(&buf[..n]).unwrap(),
                            Err(e) => panic!("echo read: {e}"),
                        }
                    }
                });
            }
        });
        closed_rx.recv().unwrap();
        session.close().unwrap();
    });
    timeout(GUARD, async {
        let k = kt::KcpStream::connect(addr, kc).await.unwrap();
        let client = AsyncSmuxSession::client(k, v1()).unwrap();
        let mut tasks = Vec::new();
        for i in 0..INTEROP_STREAMS {
            let st = client.open_stream().await.unwrap();
            tasks.push(tokio::spawn(async move {
                let (mut rd, mut wr) = st.into_split();
                let s = 60 + i as u64;
                let w = tokio::spawn(async move {
                    send_seeded(&mut wr, s, INTEROP_SIZE).await;
                    wr
                });
                expect_seeded(&mut rd, s, INTEROP_SIZE).await;
                w.await.unwrap().shutdown().await.unwrap();
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        client.close().await.unwrap();
        closed_tx.send(()).unwrap();
    })
    .await
    .expect("hang guard");
    tokio::task::spawn_blocking(move || server.join().unwrap())
        .await
        .unwrap();
}

// ------------------------------------------------------- cancellation

/// Polls `f` once.
async fn poll_once<F: Future + Unpin>(f: &mut F) -> Poll<F::Output> {
    poll_fn(|cx| Poll::Ready(Pin::new(&mut *f).poll(cx))).await
}

/// An open stream pair plus a second pair used as a barrier: once a byte
/// sent on `c` after something on `a` arrives at `d`, the frames sent on
/// `a` before it have reached the server's mux.
async fn pairs(
    client: &AsyncSmuxSession,
    server: &AsyncSmuxSession,
) -> (
    AsyncSmuxStream,
    AsyncSmuxStream,
    AsyncSmuxStream,
    AsyncSmuxStream,
) {
    let a = client.open_stream().await.unwrap();
    let b = server.accept_stream().await.unwrap();
    let c = client.open_stream().await.unwrap();
    let d = server.accept_stream().await.unwrap();
    assert_eq!((a.id(), c.id()), (b.id(), d.id()));
    (a, b, c, d)
}

async fn barrier(c: &mut AsyncSmuxStream, d: &mut AsyncSmuxStream) {
    c.write_all(b"m").await.unwrap();
    let mut m = [0u8; 1];
    d.read_exact(&mut m).await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn cancelled_reads_lose_and_duplicate_nothing() {
    timeout(GUARD, async {
        let (client, server) = duplex_sessions(v2());
        let (mut a, mut b, mut c, mut d) = pairs(&client, &server).await;
        let part1 = Rng::new(11).bytes(3000);
        let part2 = Rng::new(12).bytes(5000);
        let mut buf = vec![0u8; 16 * 1024];

        // A read that times out (nothing sent) took nothing.
        assert!(
            timeout(Duration::from_secs(1), b.read(&mut buf))
                .await
                .is_err()
        );
        // A read polled once (pending), then dropped before anything
        // arrives.
        {
            let mut fut = Box::pin(b.read(&mut buf));
            assert!(poll_once(&mut fut).await.is_pending());
        }
        // A read polled once (pending), woken by data, then dropped
        // without being polled again.
        {
            let mut fut = Box::pin(b.read(&mut buf));
            assert!(poll_once(&mut fut).await.is_pending());
            a.write_all(&part1).await.unwrap();
            barrier(&mut c, &mut d).await;
        }
        a.write_all(&part2).await.unwrap();
        // A fresh read sees every byte once, then the end.
        a.shutdown().await.unwrap();
        let mut got = Vec::new();
        b.read_to_end(&mut got).await.unwrap();
        let mut want = part1.clone();
        want.extend_from_slice(&part2);
        assert!(got == want, "{} bytes, want {}", got.len(), want.len());
        client.close().await.unwrap();
        server.close().await.unwrap();
    })
    .await
    .expect("hang guard");
}

#[tokio::test(start_paused = true)]
async fn cancelled_writes_and_accepts_lose_and_duplicate_nothing() {
    timeout(GUARD, async {
        let mut cfg = v2();
        cfg.stream_send_buffer = 4096;
        let (client, server) = duplex_sessions(cfg);

        // An accept that times out took nothing; the next one gets the
        // stream.
        assert!(
            timeout(Duration::from_secs(1), server.accept_stream())
                .await
                .is_err()
        );
        let mut a = client.open_stream().await.unwrap();
        let mut b = server.accept_stream().await.unwrap();
        assert_eq!(a.id(), b.id());

        // Write until the peer's window (nobody reads) stops the writer:
        // the timed-out write queued nothing, so writing the same bytes
        // again duplicates nothing.
        let data = Rng::new(21).bytes(1 << 20);
        let mut off = 0;
        let mut cancelled = 0;
        while cancelled < 3 {
            match timeout(Duration::from_secs(1), a.write(&data[off..])).await {
                Ok(n) => off += n.unwrap(),
                Err(_) => cancelled += 1,
            }
        }
        assert!(off < data.len(), "the writer was never stopped");
        let writer = tokio::spawn(async move {
            a.write_all(&data[off..]).await.unwrap();
            a.shutdown().await.unwrap();
            (a, data)
        });
        let mut got = Vec::new();
        b.read_to_end(&mut got).await.unwrap();
        let (_a, data) = writer.await.unwrap();
        assert!(got == data, "{} bytes, want {}", got.len(), data.len());
        client.close().await.unwrap();
        server.close().await.unwrap();
    })
    .await
    .expect("hang guard");
}

// ---------------------------------------------------------- keepalive

/// A v2 SYN for stream 3.
const SYN3: [u8; 8] = [2, 0, 0, 0, 3, 0, 0, 0];

fn mux_error(e: &io::Error) -> Option<MuxError> {
    e.get_ref()?.downcast_ref::<MuxError>().copied()
}

#[tokio::test(start_paused = true)]
async fn keepalive_timeout_fails_pending_read_and_accept() {
    timeout(Duration::from_secs(600), async {
        let (mut raw, t) = tokio::io::duplex(64 * 1024);
        let server = AsyncSmuxSession::server(t, v2()).unwrap();
        raw.write_all(&SYN3).await.unwrap();
        let mut st = server.accept_stream().await.unwrap();
        let t0 = Instant::now();
        // The peer never sends anything again.
        let read = tokio::spawn(async move { st.read(&mut [0u8; 8]).await });
        let s2 = server.clone();
        let accept = tokio::spawn(async move { s2.accept_stream().await.map(|s| s.id()) });
        let e = read.await.unwrap().unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::ConnectionAborted);
        assert_eq!(mux_error(&e), Some(MuxError::KeepaliveTimeout));
        let e = accept.await.unwrap().unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::ConnectionAborted);
        // Between one and two 30 s periods of silence (virtual time).
        let dead_after = t0.elapsed();
        assert!(
            dead_after >= Duration::from_secs(30) && dead_after <= Duration::from_secs(61),
            "{dead_after:?}"
        );
        assert!(!server.is_alive());
        assert_eq!(
            mux_error(&server.error().unwrap()),
            Some(MuxError::KeepaliveTimeout)
        );
        // It sent a NOP every 10 s meanwhile, then shut the transport.
        let mut got = Vec::new();
        raw.read_to_end(&mut got).await.unwrap();
        assert!(got.len() >= 3 * 8 && got.len().is_multiple_of(8));
        assert!(got.chunks(8).all(|f| f == NOP), "NOPs only");
        assert_eq!(server.stats().mux.nops_out as usize, got.len() / 8);
        server.close().await.unwrap();
    })
    .await
    .expect("hang guard");
}

#[tokio::test(start_paused = true)]
async fn keepalive_keeps_an_idle_pair_alive() {
    let mut cfg = v1();
    cfg.keepalive = Some(Keepalive {
        interval_ms: 1000,
        timeout_ms: 3000,
    });
    let (client, server) = duplex_sessions(cfg);
    let mut a = client.open_stream().await.unwrap();
    let mut b = server.accept_stream().await.unwrap();
    // Ten idle minutes of virtual time: the NOPs keep both ends alive.
    tokio::time::sleep(Duration::from_secs(600)).await;
    assert!(client.is_alive() && server.is_alive());
    let nops = client.stats().mux.nops_out;
    assert!((590..=600).contains(&nops), "{nops} NOPs");
    a.write_all(b"still here").await.unwrap();
    let mut buf = [0u8; 10];
    b.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"still here");
    client.close().await.unwrap();
    server.close().await.unwrap();
}

// ------------------------------------------------------ hostile input

/// A server session over a duplex whose other end the test holds.
fn raw_server(cfg: MuxConfig, compress: bool) -> (DuplexStream, AsyncSmuxSession) {
    let (raw, t) = tokio::io::duplex(64 * 1024);
    (
        raw,
        AsyncSmuxSession::new(Role::Server, t, cfg, compress).unwrap(),
    )
}

#[tokio::test]
async fn bad_version_ends_the_session_with_a_typed_error() {
    let (mut raw, server) = raw_server(v2(), false);
    raw.write_all(&[1, 0, 0, 0, 3, 0, 0, 0]).await.unwrap();
    let e = server.accept_stream().await.unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::ConnectionReset);
    assert_eq!(
        mux_error(&e),
        Some(MuxError::Protocol(FrameError::BadVersion {
            got: 1,
            expected: Version::V2
        }))
    );
    assert!(e.to_string().contains("invalid protocol"), "{e}");
    // The transport is shut down: the raw peer reads its end.
    let mut rest = Vec::new();
    raw.read_to_end(&mut rest).await.unwrap();
    assert!(rest.is_empty());
    assert!(!server.is_alive());
    server.close().await.unwrap();

    // UPD on v1, and an unknown command.
    for (cfg, frame, want) in [
        (v1(), [1u8, 4, 8, 0, 3, 0, 0, 0], FrameError::UpdOnV1),
        (
            v2(),
            [2u8, 9, 0, 0, 0, 0, 0, 0],
            FrameError::UnknownCommand(9),
        ),
    ] {
        let (mut raw, server) = raw_server(cfg, false);
        raw.write_all(&frame).await.unwrap();
        let e = server.accept_stream().await.unwrap_err();
        assert_eq!(mux_error(&e), Some(MuxError::Protocol(want)));
    }
}

#[tokio::test]
async fn random_garbage_never_panics() {
    timeout(GUARD, async {
        for i in 0..300u64 {
            let mut rng = Rng::new(1000 + i);
            let len = 1 + rng.below(4096) as usize;
            let mut junk = rng.bytes(len);
            let forced = i % 2 == 0;
            if forced {
                // Not a version byte: certainly a protocol error.
                junk[0] = 0xa0 | (junk[0] & 0x0f);
            }
            let cfg = if i % 3 == 0 { v1() } else { v2() };
            let (mut raw, server) = raw_server(cfg, false);
            // The duplex may be closed under us: write errors are fine.
            let _ = raw.write_all(&junk).await;
            if !forced {
                // Arbitrary bytes may look like frames: end the transport.
                drop(raw);
            }
            // Accept (and drop) whatever streams the junk opened, until
            // the session dies.
            let e = loop {
                match server.accept_stream().await {
                    Ok(st) => drop(st),
                    Err(e) => break e,
                }
            };
            assert_eq!(e.kind(), io::ErrorKind::ConnectionReset, "{e}");
            if forced {
                assert!(matches!(mux_error(&e), Some(MuxError::Protocol(_))), "{e}");
            }
            server.close().await.unwrap();
        }
    })
    .await
    .expect("hang guard");
}

#[cfg(feature = "snappy")]
#[tokio::test]
async fn garbage_to_a_compressed_session_is_a_typed_snappy_error() {
    use kcp_session::smux::snappy::SnappyError;
    // Plain frames where snappy chunks belong.
    let (mut raw, server) = raw_server(v2(), true);
    raw.write_all(&SYN3).await.unwrap();
    let e = server.accept_stream().await.unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::ConnectionReset);
    let inner = e.get_ref().and_then(|i| i.downcast_ref::<SnappyError>());
    assert_eq!(inner, Some(&SnappyError::MissingStreamIdentifier));
    server.close().await.unwrap();

    // A compressed client and a plain server: version byte 0xff.
    let (a, b) = tokio::io::duplex(64 * 1024);
    let client = AsyncSmuxSession::new(Role::Client, a, v2(), true).unwrap();
    let server = AsyncSmuxSession::server(b, v2()).unwrap();
    let _st = client.open_stream().await.unwrap();
    let e = server.accept_stream().await.unwrap_err();
    assert!(
        matches!(
            mux_error(&e),
            Some(MuxError::Protocol(FrameError::BadVersion { got: 0xff, .. }))
        ),
        "{e}"
    );
    client.close().await.unwrap();
    server.close().await.unwrap();

    // Random junk after a valid stream identifier.
    for i in 0..100u64 {
        let mut rng = Rng::new(5000 + i);
        let mut junk = kcp_session::smux::snappy::STREAM_IDENTIFIER.to_vec();
        let n = 1 + rng.below(2048) as usize;
        junk.extend(rng.bytes(n));
        let (mut raw, server) = raw_server(v2(), true);
        let _ = raw.write_all(&junk).await;
        drop(raw);
        let e = loop {
            match server.accept_stream().await {
                Ok(st) => drop(st),
                Err(e) => break e,
            }
        };
        assert_eq!(e.kind(), io::ErrorKind::ConnectionReset, "{e}");
        server.close().await.unwrap();
    }
}

// ------------------------------------------------- FIN and shutdown

#[tokio::test]
async fn shutdown_fin_semantics() {
    let (client, server) = duplex_sessions(v2());
    let mut a = client.open_stream().await.unwrap();
    assert_eq!(a.id().0, 3, "client ids are odd from 3");
    a.write_all(b"hello").await.unwrap();
    a.write_all(b" world").await.unwrap();
    let mut b = server.accept_stream().await.unwrap();
    assert_eq!(b.id(), a.id());
    a.shutdown().await.unwrap();
    a.shutdown().await.unwrap(); // again: nothing
    // After shutdown: writes fail, reads end.
    assert_eq!(
        a.write(b"x").await.unwrap_err().kind(),
        io::ErrorKind::BrokenPipe
    );
    assert_eq!(a.read(&mut [0u8; 4]).await.unwrap(), 0);
    // The peer reads everything sent before the FIN, then the end.
    let mut got = Vec::new();
    b.read_to_end(&mut got).await.unwrap();
    assert_eq!(got, b"hello world");
    assert_eq!(b.read(&mut [0u8; 4]).await.unwrap(), 0);
    assert!(b.is_finished());
    // No half-close: the peer cannot write after our FIN.
    assert_eq!(
        b.write(b"late").await.unwrap_err().kind(),
        io::ErrorKind::BrokenPipe
    );
    drop(b);

    // A read pending on one half ends when the other half shuts down.
    let c = client.open_stream().await.unwrap();
    let (mut r, mut w) = c.into_split();
    let reader = tokio::spawn(async move { r.read(&mut [0u8; 8]).await.unwrap() });
    let mut d = server.accept_stream().await.unwrap();
    w.shutdown().await.unwrap();
    assert_eq!(reader.await.unwrap(), 0);
    assert_eq!(d.read(&mut [0u8; 8]).await.unwrap(), 0);

    // Closing the session: its streams abort, the peer's reset.
    let mut e = client.open_stream().await.unwrap();
    let mut f = server.accept_stream().await.unwrap();
    let pending = tokio::spawn(async move {
        let r = f.read(&mut [0u8; 8]).await;
        (f, r)
    });
    client.close().await.unwrap();
    client.close().await.unwrap(); // twice is fine
    for err in [
        e.write(b"x").await.unwrap_err(),
        e.read(&mut [0u8; 8]).await.unwrap_err(),
        client.accept_stream().await.unwrap_err(),
        client.open_stream().await.unwrap_err(),
    ] {
        assert_eq!(err.kind(), io::ErrorKind::ConnectionAborted);
    }
    let (_f, r) = pending.await.unwrap();
    assert_eq!(r.unwrap_err().kind(), io::ErrorKind::ConnectionReset);
    assert_eq!(
        server.accept_stream().await.unwrap_err().kind(),
        io::ErrorKind::ConnectionReset
    );
    server.close().await.unwrap();
}

#[tokio::test]
async fn buffered_data_is_read_before_the_transport_error() {
    let (client, server) = duplex_sessions(v2());
    let (mut a, mut b, mut c, mut d) = pairs(&client, &server).await;
    b.write_all(b"unread").await.unwrap();
    // Once `m` arrives on the second stream, `unread` is buffered at the
    // client.
    barrier(&mut d, &mut c).await;
    // The server goes away: the client's transport ends.
    server.close().await.unwrap();
    let mut got = [0u8; 6];
    a.read_exact(&mut got).await.unwrap();
    assert_eq!(&got, b"unread");
    assert_eq!(
        a.read(&mut got).await.unwrap_err().kind(),
        io::ErrorKind::ConnectionReset
    );
    assert_eq!(
        a.write(b"x").await.unwrap_err().kind(),
        io::ErrorKind::ConnectionReset
    );
    assert!(!client.is_alive());
    assert_eq!(
        client.open_stream().await.unwrap_err().kind(),
        io::ErrorKind::ConnectionReset
    );
    client.close().await.unwrap();
}

// ------------------------------------------------------- backpressure

#[tokio::test(start_paused = true)]
async fn receive_budget_stops_reading_the_transport() {
    timeout(GUARD, async {
        for version in [Version::V1, Version::V2] {
            let mut cfg = v2();
            cfg.version = version;
            cfg.keepalive = None;
            cfg.max_receive_buffer = 64 * 1024;
            cfg.max_stream_buffer = 32 * 1024;
            let (client, server) = duplex_sessions(cfg);
            let a = client.open_stream().await.unwrap();
            let mut b = server.accept_stream().await.unwrap();
            let (_ar, mut aw) = a.into_split();
            let data = Rng::new(31).bytes(4 << 20);
            // Write until nothing moves for a (virtual) second: every task
            // is then waiting.
            let mut off = 0;
            while let Ok(n) = timeout(Duration::from_secs(1), aw.write(&data[off..])).await {
                off += n.unwrap();
            }
            assert!(off < data.len(), "{version:?}: never stopped");
            let st = server.stats();
            // The server mux holds at most its budget plus one frame, and
            // read at most one more read's worth from the transport.
            assert!(
                st.mux.bytes_in <= 64 * 1024 + 8192,
                "{version:?}: {}",
                st.mux.bytes_in
            );
            assert!(
                st.transport_in <= st.mux.bytes_in + 2 * 64 * 1024,
                "{version:?}: {} read",
                st.transport_in
            );
            let writer = tokio::spawn(async move {
                aw.write_all(&data[off..]).await.unwrap();
                aw.shutdown().await.unwrap();
                data
            });
            let mut got = Vec::new();
            b.read_to_end(&mut got).await.unwrap();
            assert!(got == writer.await.unwrap(), "{version:?}: bytes differ");
            client.close().await.unwrap();
            server.close().await.unwrap();
        }
    })
    .await
    .expect("hang guard");
}

// -------------------------------------------------- drops and runtime

/// A transport that reports its drop.
struct Counted<T>(T, Option<tokio::sync::oneshot::Sender<()>>);

impl<T> Drop for Counted<T> {
    fn drop(&mut self) {
        if let Some(tx) = self.1.take() {
            let _ = tx.send(());
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Counted<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Counted<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_every_handle_ends_the_driver() {
    timeout(GUARD, async {
        let (a, b) = tokio::io::duplex(64 * 1024);
        let (ca, cb) = (
            tokio::sync::oneshot::channel(),
            tokio::sync::oneshot::channel(),
        );
        let client = AsyncSmuxSession::client(Counted(a, Some(ca.0)), v2()).unwrap();
        let server = AsyncSmuxSession::server(Counted(b, Some(cb.0)), v2()).unwrap();
        let mut s = client.open_stream().await.unwrap();
        s.write_all(b"last words").await.unwrap();
        let mut t = server.accept_stream().await.unwrap();
        // Drop the client's handles without a close: its data and FIN
        // still go out before the driver shuts the transport down, then
        // it ends and drops the transport.
        let c2 = client.clone();
        drop(client);
        drop(s);
        assert!(c2.is_alive(), "a clone keeps the session");
        drop(c2);
        let mut got = Vec::new();
        t.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"last words");
        ca.1.await.unwrap();
        // The server sees the transport end; dropping its handles ends
        // its driver too.
        assert_eq!(
            server.accept_stream().await.unwrap_err().kind(),
            io::ErrorKind::ConnectionReset
        );
        drop(t);
        drop(server);
        cb.1.await.unwrap();
    })
    .await
    .expect("hang guard");
}

#[test]
fn runtime_shutdown_leaves_handles_failing_with_not_connected() {
    for multi in [false, true] {
        let rt = if multi {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap()
        } else {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
        };
        // One session (its peer is raw bytes held here), so that only its
        // own driver goes away with the runtime.
        let (mut raw, t) = tokio::io::duplex(64 * 1024);
        let (client, mut a) = rt.block_on(async {
            let client = AsyncSmuxSession::client(t, v2()).unwrap();
            let mut a = client.open_stream().await.unwrap();
            a.write_all(b"hi").await.unwrap();
            // SYN, then PSH "hi".
            let mut wire = [0u8; 18];
            raw.read_exact(&mut wire).await.unwrap();
            assert_eq!(&wire[..8], &SYN3);
            assert_eq!(&wire[16..], b"hi");
            // An UPD-free PSH back, buffered at the client.
            raw.write_all(&[2, 2, 2, 0, 3, 0, 0, 0, b'o', b'k'])
                .await
                .unwrap();
            let mut ok = [0u8; 2];
            a.read_exact(&mut ok).await.unwrap();
            assert_eq!(&ok, b"ok");
            (client, a)
        });
        drop(rt);
        let rt2 = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt2.block_on(async {
            assert!(!client.is_alive());
            assert_eq!(client.error().unwrap().kind(), io::ErrorKind::NotConnected);
            for e in [
                a.write(b"x").await.unwrap_err(),
                a.read(&mut [0u8; 2]).await.unwrap_err(),
                client.open_stream().await.unwrap_err(),
                client.accept_stream().await.unwrap_err(),
            ] {
                assert_eq!(e.kind(), io::ErrorKind::NotConnected);
            }
            a.shutdown().await.unwrap();
            client.close().await.unwrap();
            // The driver dropped the transport with it.
            let mut rest = Vec::new();
            raw.read_to_end(&mut rest).await.unwrap();
            assert!(rest.is_empty() || rest.len() % 8 == 0);
        });
        drop((a, client));
    }
}

#[tokio::test]
async fn invalid_config_and_runtime_errors() {
    let (a, _b) = tokio::io::duplex(1024);
    let mut cfg = v2();
    cfg.max_frame_size = 0;
    assert_eq!(
        AsyncSmuxSession::client(a, cfg).unwrap_err().kind(),
        io::ErrorKind::InvalidInput
    );
    #[cfg(not(feature = "snappy"))]
    {
        let (a, _b) = tokio::io::duplex(1024);
        assert_eq!(
            AsyncSmuxSession::new(Role::Client, a, v2(), true)
                .unwrap_err()
                .kind(),
            io::ErrorKind::Unsupported
        );
    }
    // Outside a runtime: an error, no panic.
    let e = std::thread::spawn(|| {
        let (a, _b) = tokio::io::duplex(1024);
        AsyncSmuxSession::client(a, v2()).map(drop)
    })
    .join()
    .unwrap();
    assert!(e.is_err());
}
