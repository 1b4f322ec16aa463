//! The tokio adapter against the std adapter, both ways, on loopback:
//! same wire format, same session semantics.
#![cfg(feature = "tokio")]

mod net_common;

use std::io::{Read, Write};
use std::time::Duration;

use kcp_crypto::CryptName;
use kcp_session::{CryptConfig, SessionConfig, net, tokio as kt};
use net_common::Rng;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::timeout;

const SIZE: usize = 1 << 20;
const GUARD: Duration = Duration::from_secs(30);

fn cfg(crypt: CryptName) -> SessionConfig {
    let mut s = SessionConfig::fast3()
        .with_window(256, 256)
        .with_fec(10, 3)
        .with_crypt(CryptConfig::from_passphrase(crypt, "interop"));
    s.stream = true;
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokio_client_std_server() {
    let cfg = cfg(CryptName::Aes);
    let listener = net::KcpListener::bind("127.0.0.1:0", cfg.clone()).unwrap();
    let addr = listener.local_addr();
    // The std server echoes on its own thread.
    let server = std::thread::spawn(move || {
        let (s, _) = listener.accept_timeout(Duration::from_secs(10)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut buf = vec![0u8; 16 * 1024];
        let mut total = 0;
        while total < SIZE {
            let n = (&s).read(&mut buf).unwrap();
            assert!(n > 0);
            (&s).write_all(&buf[..n]).unwrap();
            total += n;
        }
        s.close().unwrap();
    });
    timeout(GUARD, async {
        let c = kt::KcpStream::connect(addr, cfg).await.unwrap();
        let data = Rng::new(1).bytes(SIZE);
        let (mut rd, mut wr) = c.into_split();
        let d2 = data.clone();
        let w = tokio::spawn(async move { wr.write_all(&d2).await.map(|()| wr) });
        let mut got = vec![0u8; SIZE];
        rd.read_exact(&mut got).await.unwrap();
        assert!(got == data);
        w.await.unwrap().unwrap().shutdown().await.unwrap();
    })
    .await
    .expect("hang guard");
    tokio::task::spawn_blocking(move || server.join().unwrap())
        .await
        .unwrap();
}

#[tokio::test]
async fn std_client_tokio_server() {
    let cfg = cfg(CryptName::Salsa20);
    let listener = kt::KcpListener::bind("127.0.0.1:0", cfg.clone())
        .await
        .unwrap();
    let addr = listener.local_addr();
    // The std client runs on its own thread; this current-thread runtime
    // runs the tokio server.
    let client = std::thread::spawn(move || {
        let c = net::KcpStream::connect(addr, cfg).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let data = Rng::new(2).bytes(SIZE);
        let w = {
            let c = c.try_clone().unwrap();
            let data = data.clone();
            std::thread::spawn(move || (&c).write_all(&data).unwrap())
        };
        let mut got = vec![0u8; SIZE];
        (&c).read_exact(&mut got).unwrap();
        w.join().unwrap();
        assert!(got == data);
        c.close().unwrap();
    });
    timeout(GUARD, async {
        let (mut s, _) = listener.accept().await.unwrap();
        let mut buf = vec![0u8; 16 * 1024];
        let mut total = 0;
        while total < SIZE {
            let n = s.read(&mut buf).await.unwrap();
            assert!(n > 0);
            s.write_all(&buf[..n]).await.unwrap();
            total += n;
        }
        s.shutdown().await.unwrap();
        assert_eq!(listener.stats().endpoint.sessions_created, 1);
    })
    .await
    .expect("hang guard");
    tokio::task::spawn_blocking(move || client.join().unwrap())
        .await
        .unwrap();
}
