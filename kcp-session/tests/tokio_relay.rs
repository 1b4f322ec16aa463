//! The tokio adapter: echo and 4 MiB echoed back (both ways at once) for
//! every {null, aes, aes-128-gcm, salsa20} × {no FEC, 10/3}, directly
//! over loopback and through a seeded lossy relay (drop, duplicate,
//! reorder), byte-exact; on current-thread and multi-thread runtimes.
#![cfg(feature = "tokio")]

mod net_common;

use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use kcp_crypto::CryptName;
use kcp_session::tokio::{IoMode, KcpListener, KcpStream, NetConfig};
use kcp_session::{CryptConfig, SessionConfig};
use net_common::{Impair, Relay, Rng};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::timeout;

const BULK: usize = 4 << 20;
/// A hang guard only: runs take a few seconds.
const GUARD: Duration = Duration::from_secs(50);

fn config(crypt: CryptName, fec: bool, mode: IoMode) -> NetConfig {
    let mut s = SessionConfig::fast3()
        .with_window(512, 512)
        .with_crypt(CryptConfig::from_passphrase(crypt, "tokio relay test"));
    s.stream = true;
    s.read_buffer = 4 << 20;
    s.write_buffer = 4 << 20;
    if fec {
        s = s.with_fec(10, 3);
    }
    NetConfig::from(s)
        .with_linger(Duration::from_secs(3))
        .with_io_mode(mode)
}

async fn run(crypt: CryptName, fec: bool, lossy: bool, seed: u64) {
    run_mode(crypt, fec, lossy, seed, IoMode::Batched).await
}

async fn run_mode(crypt: CryptName, fec: bool, lossy: bool, seed: u64, mode: IoMode) {
    let t0 = Instant::now();
    let cfg = config(crypt, fec, mode);
    let listener = KcpListener::bind("127.0.0.1:0", cfg.clone()).await.unwrap();
    let relay = lossy.then(|| {
        Relay::start(
            listener.local_addr(),
            seed,
            Impair {
                drop: 3,
                dup: 2,
                reorder: 3,
                replay: 0,
            },
        )
    });
    let target = relay.as_ref().map_or(listener.local_addr(), |r| r.addr());
    // Server: echo everything until the client has all of it back.
    let server = tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        let mut buf = vec![0u8; 32 * 1024];
        let mut total = 0;
        while total < 5 + BULK {
            let n = s.read(&mut buf).await.unwrap();
            assert!(n > 0, "eof after {total}");
            s.write_all(&buf[..n]).await.unwrap();
            total += n;
        }
        let st = s.stats();
        // Counted before the close: once released, late datagrams from the
        // same address (duplicates, retransmissions) may open a new session.
        let lst = listener.stats();
        s.close().await.unwrap();
        (st, lst)
    });

    let mut c = KcpStream::connect(target, cfg).await.unwrap();
    c.write_all(b"hello").await.unwrap();
    let mut five = [0u8; 5];
    c.read_exact(&mut five).await.unwrap();
    assert_eq!(&five, b"hello");
    // Bulk both ways at once: a writer task and this reader.
    let data = Rng::new(seed).bytes(BULK);
    let (mut rd, mut wr) = c.into_split();
    let writer = {
        let data = data.clone();
        tokio::spawn(async move {
            for chunk in data.chunks(7000) {
                wr.write_all(chunk).await.unwrap();
            }
            wr
        })
    };
    let mut got = vec![0u8; BULK];
    rd.read_exact(&mut got).await.unwrap();
    let mut wr = writer.await.unwrap();
    assert!(got == data, "bulk echo differs");
    // Everything written was acknowledged.
    wr.shutdown().await.unwrap();
    let (sst, lst) = server.await.unwrap();
    let cst = rd.stats();
    assert_eq!(cst.bytes_received as usize, 5 + BULK);
    assert_eq!(sst.bytes_received as usize, 5 + BULK);
    assert_eq!(lst.endpoint.sessions_created, 1);
    if fec {
        assert!(cst.fec_parity_shards + sst.fec_parity_shards > 0);
    }
    let relay_line = relay.map(|r| {
        format!(
            ", relay dropped {} dup {} reordered {}",
            r.stats.dropped.load(Relaxed),
            r.stats.duplicated.load(Relaxed),
            r.stats.reordered.load(Relaxed)
        )
    });
    eprintln!(
        "{crypt:?} fec={fec} lossy={lossy} {mode:?}: {:?}{}, client retrans {} fec recovered {}",
        t0.elapsed(),
        relay_line.unwrap_or_default(),
        cst.retrans_segs,
        cst.fec_recovered + sst.fec_recovered,
    );
}

macro_rules! combos {
    ($($name:ident: $flavor:tt, $crypt:expr, $fec:expr, $lossy:expr, $seed:expr;)*) => {
        $(
            combos!(@test $flavor $name, $crypt, $fec, $lossy, $seed);
        )*
    };
    (@test current $name:ident, $crypt:expr, $fec:expr, $lossy:expr, $seed:expr) => {
        #[tokio::test]
        async fn $name() {
            timeout(GUARD, run($crypt, $fec, $lossy, $seed)).await.expect("hang guard");
        }
    };
    (@test multi $name:ident, $crypt:expr, $fec:expr, $lossy:expr, $seed:expr) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            timeout(GUARD, run($crypt, $fec, $lossy, $seed)).await.expect("hang guard");
        }
    };
}

combos! {
    null_plain: current, CryptName::Null, false, false, 1;
    null_fec: multi, CryptName::Null, true, false, 2;
    aes_plain: multi, CryptName::Aes, false, false, 3;
    aes_fec: current, CryptName::Aes, true, false, 4;
    gcm_plain: current, CryptName::Aes128Gcm, false, false, 5;
    gcm_fec: multi, CryptName::Aes128Gcm, true, false, 6;
    salsa20_plain: multi, CryptName::Salsa20, false, false, 7;
    salsa20_fec: current, CryptName::Salsa20, true, false, 8;
    lossy_null_plain: multi, CryptName::Null, false, true, 11;
    lossy_null_fec: current, CryptName::Null, true, true, 12;
    lossy_aes_plain: current, CryptName::Aes, false, true, 13;
    lossy_aes_fec: multi, CryptName::Aes, true, true, 14;
    lossy_gcm_plain: multi, CryptName::Aes128Gcm, false, true, 15;
    lossy_gcm_fec: current, CryptName::Aes128Gcm, true, true, 16;
    lossy_salsa20_plain: current, CryptName::Salsa20, false, true, 17;
    lossy_salsa20_fec: multi, CryptName::Salsa20, true, true, 18;
}

/// The portable I/O path (one `recv_from`/`send_to` per datagram) on the
/// tokio socket, through the lossy relay.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn portable_lossy_aes_fec() {
    timeout(
        GUARD,
        run_mode(CryptName::Aes, true, true, 21, IoMode::Portable),
    )
    .await
    .expect("hang guard");
}

#[tokio::test]
async fn portable_plain_null() {
    timeout(
        GUARD,
        run_mode(CryptName::Null, false, false, 22, IoMode::Portable),
    )
    .await
    .expect("hang guard");
}
