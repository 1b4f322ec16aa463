//! kcptun tunnel throughput over loopback: TCP writers → tunnel client
//! (TCP listener, smux over a KCP session) → tunnel server (KCP listener,
//! a TCP connection per stream) → a TCP sink that checks every byte.
//!
//! ```text
//! cargo run --release -p kcp-benches --example tunnel_speed -- [flags] [filter]
//!   --payload mixed|random   what the writers send (default mixed: half
//!                            random 1-8 KiB runs, half repeated short words)
//!   --wnd N                  both sides' KCP windows N/N (default: kcptun's,
//!                            client 128/512, server 1024/1024)
//!   --mode fast|fast2|fast3|normal   (default fast, as kcptun)
//!   --quick                  1 × 8 MiB and 32 × 256 KiB (a smoke run)
//!   --rounds N               every case N times, interleaved (default 3);
//!                            the summary gives median, min and max
//!   filter                   run only the cases whose label contains it
//! ```
//!
//! The tunnel is the `kcptun` example's own code (`tunnel.rs`, included
//! below), run in this process on threads exactly as the example's `main`
//! runs it, with kcptun's defaults on each side (`SessionConfig::kcptun_client`
//! / `kcptun_server`: mode fast, AES (`--crypt aes`) with the default key,
//! FEC 10/3, MTU 1350, stream mode, 4 MiB socket buffers; smux
//! `MuxConfig::kcptun()`: 8 KiB frames, 4 MiB session buffer, 2 MiB v2
//! windows, keepalive 10 s). Cases: smux v2 and v1 × compression on and
//! off (`--nocomp`) × 1 TCP connection carrying 64 MiB or 32 parallel
//! connections carrying 4 MiB each, all over one KCP session (`--conn 1`).
//! MB/s = payload bytes / 10^6 / seconds from the first connect until the
//! sink has every byte; "wire" is what the client's smux session wrote
//! into KCP (after compression) per payload byte. Every row ends with the
//! 1-minute load average read right after it.

#[path = "../../kcp-session/examples/kcptun/tunnel.rs"]
mod tunnel;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use kcp_session::net::{KcpListener, NetConfig};
use kcp_session::smux::{MuxConfig, Version};
use kcp_session::{Mode, SessionConfig};
use tunnel::{Client, Options, Server};

/// A stalled case fails its row instead of hanging the run.
const CASE_TIMEOUT: Duration = Duration::from_secs(180);

fn load1() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".into())
}

/// xorshift64*, for payloads.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn fill(&mut self, out: &mut Vec<u8>, n: usize) {
        for _ in 0..n.div_ceil(8) {
            out.extend_from_slice(&self.next().to_le_bytes());
        }
    }
}

fn payload(kind: &str, n: usize) -> Vec<u8> {
    let mut rng = Rng(0x6b63_7074_756e_0001);
    let mut v = Vec::with_capacity(n + 8192);
    match kind {
        "random" => rng.fill(&mut v, n),
        _ => {
            // Alternating runs: random bytes (snappy stores them), then a
            // short random word repeated (snappy shrinks it to almost
            // nothing).
            let mut odd = false;
            while v.len() < n {
                let run = 1024 + (rng.next() % 7168) as usize;
                if odd {
                    let len = 1 + (rng.next() % 16) as usize;
                    let mut word = Vec::new();
                    rng.fill(&mut word, len);
                    word.truncate(len);
                    v.extend(word.iter().cycle().take(run));
                } else {
                    rng.fill(&mut v, run);
                }
                odd = !odd;
            }
        }
    }
    v.truncate(n);
    v
}

#[derive(Clone)]
struct Settings {
    mode: Mode,
    wnd: Option<u32>,
}

fn options(s: &Settings, server: bool, version: Version, compress: bool) -> Options {
    let base = if server {
        SessionConfig::kcptun_server()
    } else {
        SessionConfig::kcptun_client()
    };
    // kcptun's settings with the mode's nodelay values.
    let mut kcp = base.nodelay(s.mode.nodelay());
    if let Some(w) = s.wnd {
        kcp = kcp.with_window(w, w);
    }
    let mut smux = MuxConfig::kcptun();
    smux.version = version;
    Options {
        net: NetConfig::from(kcp),
        smux,
        compress,
        conn: 1,
        quiet: true,
    }
}

struct Outcome {
    secs: f64,
    wire_out: u64,
}

/// One case: a fresh tunnel pair and sink; `conns` writers of `data`.
fn run_case(
    s: &Settings,
    version: Version,
    compress: bool,
    conns: usize,
    data: &Arc<Vec<u8>>,
) -> Result<Outcome, String> {
    // The sink: checks and counts; reports each connection once complete.
    let sink = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    let sink_addr = sink.local_addr().unwrap();
    let (done_tx, done_rx) = mpsc::channel::<Result<(), String>>();
    let expect = data.clone();
    let sink_thread = std::thread::spawn(move || {
        let mut readers = Vec::new();
        for _ in 0..conns {
            let Ok((mut c, _)) = sink.accept() else { break };
            let (tx, expect) = (done_tx.clone(), expect.clone());
            readers.push(std::thread::spawn(move || {
                let mut buf = vec![0u8; 256 * 1024];
                let mut got = 0usize;
                let mut reported = false;
                loop {
                    let n = match c.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => n,
                    };
                    if got + n > expect.len() || buf[..n] != expect[got..got + n] {
                        let _ = tx.send(Err(format!("bytes differ at offset {got}")));
                        return;
                    }
                    got += n;
                    if got == expect.len() && !reported {
                        reported = true;
                        let _ = tx.send(Ok(()));
                    }
                }
                if !reported {
                    let _ = tx.send(Err(format!("connection ended after {got} bytes")));
                }
            }));
        }
        for r in readers {
            let _ = r.join();
        }
    });

    let kl = KcpListener::bind("127.0.0.1:0", options(s, true, version, compress).net)
        .map_err(|e| e.to_string())?;
    let server_addr = kl.local_addr();
    let srv = Server::new(
        kl,
        &sink_addr.to_string(),
        options(s, true, version, compress),
    );
    let server_stop = srv.stopper();
    let server_thread = std::thread::spawn(move || srv.run());
    let tl = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    let client_addr: SocketAddr = tl.local_addr().unwrap();
    let cli = Client::new(
        tl,
        &server_addr.to_string(),
        options(s, false, version, compress),
    );
    let client_stop = cli.stopper().map_err(|e| e.to_string())?;
    let counters = cli.counters();
    let client_thread = std::thread::spawn(move || cli.run());

    let start = Instant::now();
    let writers: Vec<_> = (0..conns)
        .map(|_| {
            let data = data.clone();
            std::thread::spawn(move || -> std::io::Result<TcpStream> {
                let mut c = TcpStream::connect(client_addr)?;
                c.set_nodelay(true)?;
                c.write_all(&data)?;
                Ok(c)
            })
        })
        .collect();
    let mut result = Ok(());
    for _ in 0..conns {
        let left = CASE_TIMEOUT.saturating_sub(start.elapsed());
        match done_rx.recv_timeout(left) {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                result = Err(e);
                break;
            }
            Err(_) => {
                result = Err(format!("timed out after {} s", CASE_TIMEOUT.as_secs()));
                break;
            }
        }
    }
    let secs = start.elapsed().as_secs_f64();
    // Close the writers' connections: the relays end, the sink sees EOF.
    let streams: Vec<_> = writers.into_iter().map(|w| w.join()).collect();
    drop(streams);
    client_stop.stop();
    let _ = client_thread.join();
    server_stop.stop();
    let _ = server_thread.join();
    let _ = sink_thread.join();
    result?;
    Ok(Outcome {
        secs,
        wire_out: counters.transport_out.load(Ordering::Relaxed),
    })
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut kind = "mixed".to_string();
    let mut settings = Settings {
        mode: Mode::Fast,
        wnd: None,
    };
    let mut quick = false;
    let mut rounds = 3usize;
    let mut filter = String::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--payload" => kind = it.next().expect("--payload mixed|random").clone(),
            "--wnd" => {
                settings.wnd = Some(it.next().and_then(|v| v.parse().ok()).expect("--wnd N"))
            }
            "--rounds" => rounds = it.next().and_then(|v| v.parse().ok()).expect("--rounds N"),
            "--mode" => {
                settings.mode = match it.next().map(String::as_str) {
                    Some("normal") => Mode::Normal,
                    Some("fast") => Mode::Fast,
                    Some("fast2") => Mode::Fast2,
                    Some("fast3") => Mode::Fast3,
                    m => panic!("--mode {m:?}: normal, fast, fast2 or fast3"),
                }
            }
            "--quick" => quick = true,
            f => filter = f.to_string(),
        }
    }
    let shapes: [(usize, usize); 2] = if quick {
        [(1, 8 << 20), (32, 256 << 10)]
    } else {
        [(1, 64 << 20), (32, 4 << 20)]
    };
    let wnd = settings
        .wnd
        .map_or("client 128/512, server 1024/1024".to_string(), |w| {
            format!("{w}/{w} both")
        });
    println!(
        "kcptun tunnel over loopback: mode {:?}, windows {wnd}, aes, FEC 10/3, MTU 1350, \
         payload {kind}, {rounds} rounds",
        settings.mode
    );
    let mut cases = Vec::new();
    for (conns, size) in shapes {
        for compress in [true, false] {
            for (vname, version) in [("v2", Version::V2), ("v1", Version::V1)] {
                let label = format!(
                    "{vname} comp {} {conns} x {} MiB",
                    if compress { "on " } else { "off" },
                    size as f64 / (1 << 20) as f64
                );
                if label.contains(&filter) {
                    cases.push((label, version, compress, conns, size));
                }
            }
        }
    }
    let payloads: Vec<(usize, Arc<Vec<u8>>)> = shapes
        .iter()
        .map(|&(_, size)| (size, Arc::new(payload(&kind, size))))
        .collect();
    // Every round runs every case, so load changes hit all cases alike.
    let mut results: Vec<Vec<(f64, f64)>> = vec![Vec::new(); cases.len()];
    for round in 1..=rounds {
        println!("round {round}:");
        for (i, (label, version, compress, conns, size)) in cases.iter().enumerate() {
            let data = &payloads.iter().find(|p| p.0 == *size).unwrap().1;
            let total = (conns * size) as f64;
            match run_case(&settings, *version, *compress, *conns, data) {
                Ok(o) => {
                    let mbs = total / 1e6 / o.secs;
                    let wire = o.wire_out as f64 / total;
                    results[i].push((mbs, wire));
                    println!(
                        "  {label:<26} {:>7.2} s {:>8.1} MB/s  wire {wire:.3}  load {}",
                        o.secs,
                        mbs,
                        load1()
                    );
                }
                Err(e) => println!("  {label:<26} FAILED: {e} (load {})", load1()),
            }
        }
    }
    println!("summary (MB/s over {rounds} rounds):");
    println!(
        "  {:<26} {:>8} {:>8} {:>8} {:>7}",
        "case", "median", "min", "max", "wire"
    );
    for ((label, ..), r) in cases.iter().zip(&results) {
        if r.is_empty() {
            println!("  {label:<26} no successful round");
            continue;
        }
        let mut v: Vec<f64> = r.iter().map(|x| x.0).collect();
        v.sort_by(f64::total_cmp);
        println!(
            "  {label:<26} {:>8.1} {:>8.1} {:>8.1} {:>7.3}",
            v[v.len() / 2],
            v[0],
            v[v.len() - 1],
            r[0].1
        );
    }
}
