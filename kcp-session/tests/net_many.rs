//! 1000 concurrent client streams (1000 sockets) against one listener,
//! each echoing its own data, with a fixed number of threads: the reactor
//! is one thread whatever the number of sessions. Alone in its binary so
//! that the thread count is this test's own.

mod net_common;

use std::io::{Read, Write};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use kcp_session::SessionConfig;
use kcp_session::net::{KcpListener, KcpStream, NetConfig};
use net_common::{Rng, thread_count};

const N: usize = 1000;

fn msg(i: usize) -> Vec<u8> {
    let mut rng = Rng::new(i as u64 + 1000);
    let len = 16 + rng.below(2000) as usize;
    let mut m = (len as u32).to_le_bytes().to_vec();
    m.extend(rng.bytes(len));
    m
}

#[test]
fn thousand_streams_fixed_threads() {
    let t0 = Instant::now();
    let mut s = SessionConfig::fast3();
    s.stream = true;
    let cfg = NetConfig::from(s.clone())
        .with_accept_backlog(N)
        .with_linger(Duration::from_secs(2));
    let listener = KcpListener::bind("127.0.0.1:0", cfg).unwrap();
    let addr = listener.local_addr();
    let base = thread_count();

    // Server: one thread accepts, one echoes every stream in turn.
    let (tx, rx) = mpsc::channel::<KcpStream>();
    let acceptor = std::thread::spawn(move || {
        for _ in 0..N {
            let (st, _) = listener.accept_timeout(Duration::from_secs(20)).unwrap();
            tx.send(st).unwrap();
        }
        listener
    });
    let echoer = std::thread::spawn(move || {
        let mut kept = Vec::new();
        for st in rx {
            st.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
            let mut len = [0u8; 4];
            (&st).read_exact(&mut len).unwrap();
            let mut body = vec![0u8; u32::from_le_bytes(len) as usize];
            (&st).read_exact(&mut body).unwrap();
            (&st).write_all(&len).unwrap();
            (&st).write_all(&body).unwrap();
            kept.push(st);
        }
        kept.len()
    });

    let mut streams = Vec::with_capacity(N);
    let mut at_100 = 0;
    for i in 0..N {
        let c = KcpStream::connect(addr, s.clone()).unwrap();
        (&c).write_all(&msg(i)).unwrap();
        streams.push(c);
        if i + 1 == 100 {
            at_100 = thread_count();
        }
    }
    let at_1000 = thread_count();
    let mut convs = std::collections::HashSet::new();
    for (i, c) in streams.iter().enumerate() {
        c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let want = msg(i);
        let mut got = vec![0u8; want.len()];
        (&*c).read_exact(&mut got).unwrap();
        assert!(got == want, "stream {i}");
        convs.insert(c.conv());
    }
    let echoed = echoer.join().unwrap();
    let listener = acceptor.join().unwrap();
    assert_eq!(echoed, N);
    assert_eq!(convs.len(), N, "random convs collide");
    let st = listener.stats();
    assert_eq!(st.endpoint.sessions_created as usize, N);
    eprintln!(
        "{N} streams echoed in {:?}; threads: base {base} (reactor + test), 100 streams {at_100}, 1000 streams {at_1000}; listener {:?}",
        t0.elapsed(),
        st.io
    );
    // The adapter added no thread per session: only the test's 2 server
    // threads (which may already have finished by the last count).
    assert!(at_1000 <= at_100, "thread count grew with sessions");
    assert!(at_100 <= base + 2, "{base} -> {at_100}");
    drop(streams);
}
