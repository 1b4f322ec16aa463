//! 1000 concurrent client streams (1000 sockets, 1000 driver tasks)
//! against one listener (one driver task for all its sessions), each
//! echoing its own data, on a 2-worker runtime: no thread per session.
#![cfg(feature = "tokio")]

mod net_common;

use std::time::{Duration, Instant};

use kcp_session::SessionConfig;
use kcp_session::tokio::{KcpListener, KcpStream, NetConfig};
use net_common::{Rng, thread_count};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::timeout;

const N: usize = 1000;

fn msg(i: usize) -> Vec<u8> {
    let mut rng = Rng::new(i as u64 + 1000);
    let len = 16 + rng.below(2000) as usize;
    let mut m = (len as u32).to_le_bytes().to_vec();
    m.extend(rng.bytes(len));
    m
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousand_streams_one_listener() {
    let t0 = Instant::now();
    let mut s = SessionConfig::fast3();
    s.stream = true;
    s.read_buffer = 4 << 20;
    let cfg = NetConfig::from(s.clone())
        .with_accept_backlog(N)
        .with_linger(Duration::from_secs(2));
    let listener = KcpListener::bind("127.0.0.1:0", cfg).await.unwrap();
    let addr = listener.local_addr();
    let base = thread_count();
    timeout(Duration::from_secs(40), async move {
        // Server: accept, echo each stream in its own task.
        let server = tokio::spawn(async move {
            let mut echoes = Vec::new();
            for _ in 0..N {
                let (mut st, _) = listener.accept().await.unwrap();
                echoes.push(tokio::spawn(async move {
                    let mut len = [0u8; 4];
                    st.read_exact(&mut len).await.unwrap();
                    let mut body = vec![0u8; u32::from_le_bytes(len) as usize];
                    st.read_exact(&mut body).await.unwrap();
                    st.write_all(&len).await.unwrap();
                    st.write_all(&body).await.unwrap();
                    st
                }));
            }
            let mut kept = Vec::new();
            for e in echoes {
                kept.push(e.await.unwrap());
            }
            (listener, kept)
        });
        let mut clients = Vec::with_capacity(N);
        for i in 0..N {
            let s = s.clone();
            clients.push(tokio::spawn(async move {
                let mut c = KcpStream::connect(addr, s).await.unwrap();
                let want = msg(i);
                c.write_all(&want).await.unwrap();
                let mut got = vec![0u8; want.len()];
                c.read_exact(&mut got).await.unwrap();
                assert!(got == want, "stream {i}");
                c
            }));
        }
        let at_spawned = thread_count();
        let mut convs = std::collections::HashSet::new();
        let mut streams = Vec::new();
        for c in clients {
            let c = c.await.unwrap();
            convs.insert(c.conv());
            streams.push(c);
        }
        let (listener, kept) = server.await.unwrap();
        assert_eq!(kept.len(), N);
        assert_eq!(convs.len(), N, "random convs collide");
        let st = listener.stats();
        assert_eq!(st.endpoint.sessions_created as usize, N);
        assert_eq!(st.sessions, N);
        let at_end = thread_count();
        eprintln!(
            "{N} streams echoed in {:?}; threads: base {base}, all spawned {at_spawned}, end {at_end}; listener {:?}",
            t0.elapsed(),
            st.io
        );
        // The runtime's two workers do everything: no thread per session.
        assert!(at_end <= base + 1, "{base} -> {at_end}");
    })
    .await
    .expect("hang guard");
}
