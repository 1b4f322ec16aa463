//! What the replay filter costs, measured in one run:
//!
//! * `lookup`: `ReplayFilter::check_and_insert` on fresh 16-byte nonces, ns
//!   per call, for a filter that fits in cache (2^10) and for the endpoint's
//!   default (2^18: 8 MiB, so most lookups miss the cache), both at fill.
//! * `endpoint`: the sans-IO receive path alone: `Endpoint::handle_datagram`
//!   on recorded AES datagrams of a bulk transfer (each with a fresh nonce,
//!   as on the wire) after a warm-up pass of another transfer, filter on
//!   vs off; ns per datagram and the difference.
//! * `sink`: kcp-go's `sink_speed` shape through the std adapter on
//!   loopback with `aes` (the `null` cipher has no nonce, so nothing to
//!   filter): 256 MiB one way, MB/s, filter on vs off, alternating, median
//!   of 5 each.
//!
//! `cargo run --release -p kcp-benches --example replay_cost -- [all|lookup|endpoint|sink]`

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use kcp_session::net::{KcpListener, KcpStream, NetConfig};
use kcp_session::replay::{ReplayConfig, ReplayFilter, ReplayKey};
use kcp_session::{
    Connection, CryptConfig, CryptName, Endpoint, EndpointConfig, SessionConfig, Timestamp,
};

fn nonce(i: u64) -> [u8; 16] {
    let a = i.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    let b = (i ^ 0x5555).wrapping_mul(0xc2b2_ae3d_27d4_eb4f);
    let mut n = [0u8; 16];
    n[..8].copy_from_slice(&a.to_le_bytes());
    n[8..].copy_from_slice(&b.to_le_bytes());
    n
}

fn lookup() {
    // Capacity 0 first: the hash and this loop alone, as a baseline.
    for cap in [0usize, 1 << 10, 1 << 16, 1 << 18] {
        let mut f = ReplayFilter::new(cap, ReplayKey::process());
        let nonces: Vec<[u8; 16]> = (0..(1u64 << 22)).map(nonce).collect();
        // Fill both tables first.
        for n in &nonces[..2 * cap] {
            f.check_and_insert(n);
        }
        let rest = &nonces[2 * cap..];
        let half = rest.len() / 2;
        let mut hits = 0u64;
        // Back to back, each lookup waiting for its own memory access.
        let t0 = Instant::now();
        for n in &rest[..half] {
            hits += u64::from(f.check_and_insert(std::hint::black_box(n)));
        }
        let cold = t0.elapsed().as_nanos() as f64 / half as f64;
        // As the endpoint does it: the fingerprint (and its cache line)
        // taken ahead, here 8 nonces ahead of the lookup.
        let ahead = 8;
        let mut fps: Vec<_> = rest[half..half + ahead]
            .iter()
            .map(|n| f.fingerprint_of(n))
            .collect();
        let t0 = Instant::now();
        for (i, n) in rest[half + ahead..].iter().enumerate() {
            let fp = fps[i % ahead];
            fps[i % ahead] = f.fingerprint_of(std::hint::black_box(n));
            hits += u64::from(f.check_and_insert_fingerprint(fp));
        }
        let warm = t0.elapsed().as_nanos() as f64 / (rest.len() - half - ahead) as f64;
        println!(
            "lookup: capacity {cap:>7} ({:>5} KiB): {cold:.1} ns per check_and_insert back to back, \
             {warm:.1} ns with the fingerprint taken ahead; {hits} false positives",
            f.memory_bytes() >> 10
        );
    }
}

fn session_cfg(crypt: CryptName) -> SessionConfig {
    let mut s = SessionConfig::fast3()
        .with_window(1024, 1024)
        .with_mtu(1400)
        .with_crypt(CryptConfig::new(crypt, [7; 32]));
    s.stream = true;
    s
}

/// Datagrams of a 64 MiB transfer from one client, recorded.
fn record(cfg: &SessionConfig) -> Vec<Vec<u8>> {
    let now = Timestamp::from_millis(0);
    let mut c = Connection::connect(9, cfg, now).unwrap();
    let mut ep: Endpoint<u32> = Endpoint::new(EndpointConfig::new(cfg.clone())).unwrap();
    let chunk = vec![0x5au8; 1 << 16];
    let mut out = Vec::new();
    let mut buf = vec![0u8; 1500];
    let mut rbuf = vec![0u8; 1 << 16];
    let mut t = now;
    let mut sent = 0usize;
    while out.len() < 48_000 {
        while sent < 64 << 20 && c.is_writable() {
            sent += c.send(&chunk).unwrap();
        }
        c.handle_timeout(t);
        while let Some(n) = c.poll_transmit(t, &mut buf) {
            out.push(buf[..n].to_vec());
            ep.handle_datagram(t, 1, &mut buf[..n]);
        }
        while let Some((h, _)) = ep.accept() {
            let _ = h;
        }
        while let Some((h, _)) = ep.poll_event() {
            if let Some(conn) = ep.connection_mut(h) {
                while conn.recv(&mut rbuf).is_ok() {}
            }
        }
        ep.handle_timeout(t);
        while let Some((_, n)) = ep.poll_transmit(t, &mut buf) {
            c.handle_datagram(t, &mut buf[..n]);
        }
        t = t.add_millis(1);
    }
    out
}

/// ns per datagram for `Endpoint::handle_datagram` over `dgrams`.
fn endpoint_pass(
    cfg: &SessionConfig,
    replay: ReplayConfig,
    warm: &[Vec<u8>],
    dgrams: &[Vec<u8>],
) -> f64 {
    let mut ec = EndpointConfig::new(cfg.clone());
    ec.replay = replay;
    let mut ep: Endpoint<u32> = Endpoint::new(ec).unwrap();
    let mut scratch = vec![0u8; 1500];
    let mut rbuf = vec![0u8; 1 << 16];
    let t = Timestamp::from_millis(0);
    // Warm up: the filters' pages are touched (and the endpoint's other
    // state grown) by one pass of an unrelated transfer from another
    // address, as on a listener that has been up for a while.
    for d in warm {
        let b = &mut scratch[..d.len()];
        b.copy_from_slice(d);
        ep.handle_datagram(t, 2, b);
        if let Some(h) = ep.handle_of(&2)
            && let Some(c) = ep.connection_mut(h)
        {
            while c.recv(&mut rbuf).is_ok() {}
        }
    }
    let before = ep.stats().delivered;
    let t0 = Instant::now();
    for d in dgrams {
        let b = &mut scratch[..d.len()];
        b.copy_from_slice(d);
        ep.handle_datagram(t, 1, b);
        // Keep the session's queue drained, as a reader would.
        if let Some(h) = ep.handle_of(&1)
            && let Some(c) = ep.connection_mut(h)
        {
            while c.recv(&mut rbuf).is_ok() {}
        }
    }
    let ns = t0.elapsed().as_nanos() as f64 / dgrams.len() as f64;
    assert_eq!(
        ep.stats().delivered - before,
        dgrams.len() as u64,
        "every datagram delivered"
    );
    ns
}

fn endpoint() {
    for crypt in [CryptName::Aes, CryptName::Aes128Gcm] {
        let cfg = session_cfg(crypt);
        let warm = record(&cfg);
        let dgrams = record(&cfg);
        let (mut on, mut off) = (Vec::new(), Vec::new());
        for _ in 0..7 {
            on.push(endpoint_pass(&cfg, ReplayConfig::default(), &warm, &dgrams));
            off.push(endpoint_pass(
                &cfg,
                ReplayConfig::disabled(),
                &warm,
                &dgrams,
            ));
        }
        on.sort_by(f64::total_cmp);
        off.sort_by(f64::total_cmp);
        let (on, off) = (on[3], off[3]);
        println!(
            "endpoint {crypt:?}: handle_datagram {on:.0} ns with the filter, {off:.0} ns without \
             ({:+.1} ns, {:+.2}%), {} datagrams, median of 7",
            on - off,
            (on - off) / off * 100.0,
            dgrams.len()
        );
    }
}

const SINK: usize = 256 << 20;

/// `REPLAY_RECENT=n` sizes the listener's short-horizon filter (default:
/// the library's).
fn recent_capacity() -> usize {
    std::env::var("REPLAY_RECENT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(ReplayConfig::default().recent)
}

fn sink_once(replay: bool) -> std::io::Result<f64> {
    let mut s = session_cfg(CryptName::Aes);
    s.read_buffer = 4 << 20;
    s.write_buffer = 4 << 20;
    if !replay {
        s.replay_window = 0;
    }
    let mut n = NetConfig::from(s);
    n = n.with_replay(if replay {
        ReplayConfig {
            recent: recent_capacity(),
            ..ReplayConfig::default()
        }
    } else {
        ReplayConfig::disabled()
    });
    let l = KcpListener::bind("127.0.0.1:0", n.clone())?;
    let addr = l.local_addr();
    let reader = std::thread::spawn(move || -> std::io::Result<Instant> {
        let (s, _) = l.accept_timeout(Duration::from_secs(30))?;
        s.set_read_timeout(Some(Duration::from_secs(30)))?;
        let mut buf = vec![0u8; 1 << 16];
        let mut got = 0;
        while got < SINK {
            let k = (&s).read(&mut buf)?;
            if k == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            got += k;
        }
        Ok(Instant::now())
    });
    let c = KcpStream::connect(addr, n)?;
    let chunk = vec![0xa5u8; 1 << 16];
    let t0 = Instant::now();
    for _ in 0..SINK / chunk.len() {
        (&c).write_all(&chunk)?;
    }
    let t1 = reader.join().expect("reader")?;
    Ok(SINK as f64 / 1e6 / (t1 - t0).as_secs_f64())
}

fn sink() {
    let (mut on, mut off) = (Vec::new(), Vec::new());
    for _ in 0..5 {
        on.push(sink_once(true).expect("sink"));
        off.push(sink_once(false).expect("sink"));
    }
    on.sort_by(f64::total_cmp);
    off.sort_by(f64::total_cmp);
    println!(
        "sink aes 256 MiB: {:.1} MB/s with the filter (recent {}) ({:.1}-{:.1}), {:.1} MB/s without ({:.1}-{:.1}): {:+.1}%, median of 5 alternating",
        on[2],
        recent_capacity(),
        on[0],
        on[4],
        off[2],
        off[0],
        off[4],
        (on[2] - off[2]) / off[2] * 100.0
    );
}

fn main() {
    let which = std::env::args().nth(1).unwrap_or_else(|| "all".into());
    let all = which == "all";
    if all || which == "lookup" {
        lookup();
    }
    if all || which == "endpoint" {
        endpoint();
    }
    if all || which == "sink" {
        sink();
    }
}
