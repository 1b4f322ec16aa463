//! Backpressure: a stream whose reader stops fills its own receive window
//! and stalls its own writer only; another session on the same listener
//! keeps moving data, and the stalled one resumes, byte-exact, once read.
#![cfg(feature = "tokio")]

mod net_common;

use std::time::Duration;

use kcp_session::SessionConfig;
use kcp_session::tokio::{KcpListener, KcpStream};
use net_common::Rng;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::timeout;

fn cfg() -> SessionConfig {
    let mut s = SessionConfig::fast3().with_window(64, 64);
    s.stream = true;
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_receive_queue_stalls_only_its_own_session() {
    timeout(Duration::from_secs(30), async {
        let l = KcpListener::bind("127.0.0.1:0", cfg()).await.unwrap();
        let slow_data = Rng::new(1).bytes(2 << 20);
        let mut slow = KcpStream::connect(l.local_addr(), cfg()).await.unwrap();
        slow.write_all(b"slow").await.unwrap();
        let (mut slow_srv, _) = l.accept().await.unwrap();
        let mut tag = [0u8; 4];
        slow_srv.read_exact(&mut tag).await.unwrap();
        // The slow session's writer: it stalls once the server's receive
        // queue (64 segments) and its own send window are full.
        let d = slow_data.clone();
        let slow_writer = tokio::spawn(async move {
            slow.write_all(&d).await.unwrap();
            slow
        });
        // Wait until it is stalled: a write on it is pending.
        loop {
            let st = slow_srv.stats();
            if st.ring_buffer_rcv_queue >= 64 {
                break;
            }
            tokio::task::yield_now().await;
        }
        assert!(!slow_writer.is_finished());
        // Meanwhile another session on the same listener moves 1 MiB both ways.
        let fast_data = Rng::new(2).bytes(1 << 20);
        let mut fast = KcpStream::connect(l.local_addr(), cfg()).await.unwrap();
        fast.write_all(b"fast").await.unwrap();
        let (mut fast_srv, _) = l.accept().await.unwrap();
        fast_srv.read_exact(&mut tag).await.unwrap();
        let echo = tokio::spawn(async move {
            let mut buf = vec![0u8; 16384];
            let mut n_total = 0;
            while n_total < 1 << 20 {
                let n = fast_srv.read(&mut buf).await.unwrap();
                fast_srv.write_all(&buf[..n]).await.unwrap();
                n_total += n;
            }
            fast_srv
        });
        let (mut frd, mut fwr) = fast.into_split();
        let d = fast_data.clone();
        let w = tokio::spawn(async move { fwr.write_all(&d).await.map(|()| fwr) });
        let mut got = vec![0u8; 1 << 20];
        frd.read_exact(&mut got).await.unwrap();
        assert!(got == fast_data);
        w.await.unwrap().unwrap();
        let _fast_srv = echo.await.unwrap();
        // The slow one is still stalled, and all of it arrives once read.
        assert!(!slow_writer.is_finished());
        let mut all = vec![0u8; slow_data.len()];
        slow_srv.read_exact(&mut all).await.unwrap();
        assert!(all == slow_data);
        slow_writer.await.unwrap();
    })
    .await
    .expect("hang guard");
}
