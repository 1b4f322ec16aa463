//! Cancellation safety: `read`, `write`, `recv_msg`, `send_msg` and
//! `accept` futures dropped while pending (through `tokio::time::timeout`
//! and `select!`) lose and duplicate nothing — the next call sees every
//! byte, message and peer exactly once.
#![cfg(feature = "tokio")]

mod net_common;

use std::time::Duration;

use kcp_session::SessionConfig;
use kcp_session::tokio::{KcpListener, KcpStream};
use net_common::Rng;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::oneshot;
use tokio::time::timeout;

const GUARD: Duration = Duration::from_secs(30);
const SHORT: Duration = Duration::from_millis(2);

fn cfg() -> SessionConfig {
    let mut s = SessionConfig::fast3().with_window(32, 32);
    s.stream = true;
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelled_reads_lose_nothing() {
    timeout(GUARD, async {
        let l = KcpListener::bind("127.0.0.1:0", cfg()).await.unwrap();
        let mut c = KcpStream::connect(l.local_addr(), cfg()).await.unwrap();
        let data = Rng::new(5).bytes(2 << 20);
        let (go_tx, go_rx) = oneshot::channel::<()>();
        let d2 = data.clone();
        let client = tokio::spawn(async move {
            c.write_all(b"start").await.unwrap();
            go_rx.await.unwrap();
            for chunk in d2.chunks(3000) {
                c.write_all(chunk).await.unwrap();
                tokio::task::yield_now().await;
            }
            c.shutdown().await.unwrap();
            c
        });
        let (mut s, _) = l.accept().await.unwrap();
        let mut start = [0u8; 5];
        s.read_exact(&mut start).await.unwrap();
        let mut buf = vec![0u8; 5000];
        // Nothing can arrive before `go`: this read is dropped pending.
        assert!(timeout(SHORT, s.read(&mut buf)).await.is_err());
        go_tx.send(()).unwrap();
        let mut got = Vec::with_capacity(data.len());
        let (mut cancelled, mut reads) = (1, 0);
        while got.len() < data.len() {
            // Alternate the two ways of dropping a pending read.
            let r = if reads % 2 == 0 {
                timeout(SHORT, s.read(&mut buf)).await.ok()
            } else {
                tokio::select! {
                    r = s.read(&mut buf) => Some(r),
                    _ = tokio::time::sleep(SHORT) => None,
                }
            };
            reads += 1;
            match r {
                Some(r) => {
                    let n = r.unwrap();
                    assert!(n > 0);
                    got.extend_from_slice(&buf[..n]);
                }
                None => cancelled += 1,
            }
        }
        assert!(
            got == data,
            "{} of {} bytes, differs",
            got.len(),
            data.len()
        );
        eprintln!("{reads} reads, {cancelled} dropped while pending");
        drop(client.await.unwrap());
    })
    .await
    .expect("hang guard");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelled_writes_queue_nothing() {
    timeout(GUARD, async {
        let l = KcpListener::bind("127.0.0.1:0", cfg()).await.unwrap();
        let mut c = KcpStream::connect(l.local_addr(), cfg()).await.unwrap();
        c.write_all(b"hi").await.unwrap();
        let (mut s, _) = l.accept().await.unwrap();
        // The server does not read yet: its receive window (32) fills, the
        // client's send window closes, and writes wait.
        let mut rng = Rng::new(6);
        let mut sent: Vec<u8> = b"hi".to_vec();
        let mut cancelled = 0;
        while cancelled < 3 {
            let len = 1 + rng.below(4000) as usize;
            let chunk = rng.bytes(len);
            match timeout(Duration::from_millis(20), c.write(&chunk)).await {
                Ok(r) => sent.extend_from_slice(&chunk[..r.unwrap()]),
                Err(_) => cancelled += 1,
            }
        }
        // Now read everything while writes go on, some dropped pending.
        let total = sent.len() + (1 << 20);
        let reader = tokio::spawn(async move {
            let mut got = Vec::new();
            let mut buf = vec![0u8; 8192];
            while got.len() < total {
                let n = s.read(&mut buf).await.unwrap();
                assert!(n > 0);
                got.extend_from_slice(&buf[..n]);
            }
            (s, got)
        });
        while sent.len() < total {
            let len = 1 + rng.below(6000) as usize;
            let want = (total - sent.len()).min(len);
            let chunk = rng.bytes(want);
            tokio::select! {
                r = c.write(&chunk) => sent.extend_from_slice(&chunk[..r.unwrap()]),
                _ = tokio::time::sleep(SHORT) => cancelled += 1,
            }
        }
        let (_s, got) = reader.await.unwrap();
        assert_eq!(got.len(), sent.len());
        assert!(got == sent, "stream differs from what writes reported");
        eprintln!("{cancelled} writes dropped while pending");
    })
    .await
    .expect("hang guard");
}

#[tokio::test]
async fn cancelled_messages_lose_nothing() {
    timeout(GUARD, async {
        let mut mcfg = cfg();
        mcfg.stream = false;
        let l = KcpListener::bind("127.0.0.1:0", mcfg.clone())
            .await
            .unwrap();
        let mut c = KcpStream::connect(l.local_addr(), mcfg).await.unwrap();
        c.send_msg(b"first").await.unwrap();
        let (mut s, _) = l.accept().await.unwrap();
        assert_eq!(&s.recv_msg().await.unwrap()[..], b"first");
        // Nothing sent yet: dropped pending.
        assert!(timeout(SHORT, s.recv_msg()).await.is_err());
        let msgs: Vec<Vec<u8>> = (0..2000u32)
            .map(|i| {
                let mut m = i.to_le_bytes().to_vec();
                m.extend(Rng::new(u64::from(i)).bytes((i as usize * 7) % 1000));
                m
            })
            .collect();
        let m2 = msgs.clone();
        let sender = tokio::spawn(async move {
            let mut cancelled = 0;
            let mut i = 0;
            while i < m2.len() {
                tokio::select! {
                    r = c.send_msg(&m2[i]) => { r.unwrap(); i += 1; }
                    _ = tokio::task::yield_now() => cancelled += 1,
                }
            }
            (c, cancelled)
        });
        let mut got = Vec::new();
        let mut cancelled = 1;
        while got.len() < msgs.len() {
            tokio::select! {
                r = s.recv_msg() => got.push(r.unwrap().to_vec()),
                _ = tokio::task::yield_now() => cancelled += 1,
            }
        }
        let (_c, sc) = sender.await.unwrap();
        assert!(got == msgs, "messages differ");
        eprintln!("recv_msg dropped {cancelled} times, send_msg {sc} times");
    })
    .await
    .expect("hang guard");
}

#[tokio::test]
async fn cancelled_accepts_lose_no_peer() {
    timeout(GUARD, async {
        let l = KcpListener::bind("127.0.0.1:0", cfg()).await.unwrap();
        // No peer yet: dropped pending.
        assert!(timeout(SHORT, l.accept()).await.is_err());
        let mut clients = Vec::new();
        for i in 0..5u8 {
            let mut c = KcpStream::connect(l.local_addr(), cfg()).await.unwrap();
            c.write_all(&[i; 3]).await.unwrap();
            clients.push(c);
        }
        let mut accepted = Vec::new();
        let mut cancelled = 1;
        while accepted.len() < clients.len() {
            match timeout(Duration::from_micros(200), l.accept()).await {
                Ok(r) => accepted.push(r.unwrap().0),
                Err(_) => cancelled += 1,
            }
        }
        let mut seen = Vec::new();
        for s in &mut accepted {
            let mut b = [0u8; 3];
            s.read_exact(&mut b).await.unwrap();
            seen.push(b[0]);
        }
        seen.sort();
        assert_eq!(seen, [0, 1, 2, 3, 4]);
        // None left over, none duplicated.
        assert!(
            timeout(Duration::from_millis(50), l.accept())
                .await
                .is_err()
        );
        let st = l.stats();
        assert_eq!((st.endpoint.sessions_created, st.backlog), (5, 0));
        eprintln!("{cancelled} accepts dropped while pending");
    })
    .await
    .expect("hang guard");
}
