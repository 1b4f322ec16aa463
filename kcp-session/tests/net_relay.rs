//! Echo and bulk transfer through a seeded lossy relay (drop, duplicate,
//! reorder) for every {null, aes, aes-128-gcm, salsa20} × {no FEC, 10/3},
//! byte-exact, on 127.0.0.1; plus the portable I/O path against the
//! batched one.

mod net_common;

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use kcp_crypto::CryptName;
use kcp_session::net::{IoMode, KcpListener, KcpStream, NetConfig};
use kcp_session::{CryptConfig, SessionConfig};
use net_common::{Impair, Relay, Rng};

const BULK: usize = 512 * 1024;

fn config(crypt: CryptName, fec: bool, mode: IoMode) -> NetConfig {
    let mut s = SessionConfig::fast3()
        .with_window(256, 256)
        .with_crypt(CryptConfig::from_passphrase(crypt, "relay test"));
    s.stream = true;
    if fec {
        s = s.with_fec(10, 3);
    }
    NetConfig::from(s)
        .with_io_mode(mode)
        .with_linger(Duration::from_secs(3))
}

fn run(crypt: CryptName, fec: bool, mode: IoMode, seed: u64) {
    let t0 = Instant::now();
    let cfg = config(crypt, fec, mode);
    let listener = KcpListener::bind("127.0.0.1:0", cfg.clone()).unwrap();
    let relay = Relay::start(
        listener.local_addr(),
        seed,
        Impair {
            drop: 5,
            dup: 2,
            reorder: 5,
            replay: 0,
        },
    );
    // Server: echo everything until the client has all of it back.
    let server = std::thread::spawn(move || {
        let (s, _) = listener.accept_timeout(Duration::from_secs(10)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.set_write_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut buf = vec![0u8; 8192];
        let mut total = 0;
        while total < 5 + BULK {
            let n = (&s).read(&mut buf).unwrap();
            assert!(n > 0, "eof after {total}");
            (&s).write_all(&buf[..n]).unwrap();
            total += n;
        }
        let st = s.stats();
        s.close().unwrap();
        st
    });

    let c = KcpStream::connect(relay.addr(), cfg).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    c.set_write_timeout(Some(Duration::from_secs(10))).unwrap();
    // Echo.
    (&c).write_all(b"hello").unwrap();
    let mut five = [0u8; 5];
    (&c).read_exact(&mut five).unwrap();
    assert_eq!(&five, b"hello");
    // Bulk both ways at once.
    let data = Rng::new(seed).bytes(BULK);
    let writer = {
        let c = c.try_clone().unwrap();
        let data = data.clone();
        std::thread::spawn(move || {
            for chunk in data.chunks(7000) {
                (&c).write_all(chunk).unwrap();
            }
        })
    };
    let mut got = vec![0u8; BULK];
    (&c).read_exact(&mut got).unwrap();
    writer.join().unwrap();
    assert!(got == data, "bulk echo differs");
    let sst = server.join().unwrap();
    let cst = c.stats();
    assert_eq!(cst.bytes_received as usize, 5 + BULK);
    assert_eq!(sst.bytes_received as usize, 5 + BULK);
    if fec {
        assert!(cst.fec_parity_shards + sst.fec_parity_shards > 0);
    }
    c.close().unwrap();
    eprintln!(
        "{crypt:?} fec={fec} {mode:?}: {:?}, relay dropped {} dup {} reordered {}, client retrans {} fec recovered {}",
        t0.elapsed(),
        relay
            .stats
            .dropped
            .load(std::sync::atomic::Ordering::Relaxed),
        relay
            .stats
            .duplicated
            .load(std::sync::atomic::Ordering::Relaxed),
        relay
            .stats
            .reordered
            .load(std::sync::atomic::Ordering::Relaxed),
        cst.retrans_segs,
        cst.fec_recovered + sst.fec_recovered,
    );
}

macro_rules! combos {
    ($($name:ident: $crypt:expr, $fec:expr, $mode:expr, $seed:expr;)*) => {
        $( #[test] fn $name() { run($crypt, $fec, $mode, $seed); } )*
    };
}

combos! {
    null_plain: CryptName::Null, false, IoMode::Batched, 1;
    null_fec: CryptName::Null, true, IoMode::Batched, 2;
    aes_plain: CryptName::Aes, false, IoMode::Batched, 3;
    aes_fec: CryptName::Aes, true, IoMode::Batched, 4;
    gcm_plain: CryptName::Aes128Gcm, false, IoMode::Batched, 5;
    gcm_fec: CryptName::Aes128Gcm, true, IoMode::Batched, 6;
    salsa20_plain: CryptName::Salsa20, false, IoMode::Batched, 7;
    salsa20_fec: CryptName::Salsa20, true, IoMode::Batched, 8;
    portable_aes_fec: CryptName::Aes, true, IoMode::Portable, 9;
    portable_null_plain: CryptName::Null, false, IoMode::Portable, 10;
}

/// A batched-I/O client against a portable-I/O listener (and so the two
/// paths' framing against each other), without a relay.
#[test]
fn portable_listener_batched_client() {
    let cfg = config(CryptName::Salsa20, true, IoMode::Portable);
    let listener = KcpListener::bind("127.0.0.1:0", cfg.clone()).unwrap();
    let addr = listener.local_addr();
    let c = KcpStream::connect(addr, cfg.with_io_mode(IoMode::Batched)).unwrap();
    let data = Rng::new(99).bytes(64 * 1024);
    (&c).write_all(&data).unwrap();
    let (s, _) = listener.accept_timeout(Duration::from_secs(5)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut got = vec![0; data.len()];
    (&s).read_exact(&mut got).unwrap();
    assert!(got == data);
    assert!(listener.stats().io.datagrams_in > 0);
    let io = c.io_stats();
    assert!(io.datagrams_out > 40);
    // Linux loopback has UDP GSO: full-size runs leave in fewer syscalls.
    #[cfg(target_os = "linux")]
    assert!(io.send_calls < io.datagrams_out, "{io:?}");
}
