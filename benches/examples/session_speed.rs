//! kcp-go's session benchmarks through the blocking std adapter
//! (`kcp_session::net`), on loopback, with the raw UDP ceiling measured in
//! the same run, and an idle-sessions cost measurement.
//!
//! ```text
//! cargo run --release -p kcp-benches --example session_speed -- [which] [rounds]
//!   which: all (default) | udp | sink | echo | echo_sym | idle | idle:N[,N..]
//! ```
//!
//! * `echo`: kcp-go's `BenchmarkEchoSpeed{4K,64K,512K,1M}` (`sess_test.go`
//!   `speedclient` / `echo_tester`): one client thread writes `count`
//!   messages of `size` bytes while another reads `size × count` bytes
//!   back; the server echoes with a 512 KiB buffer. Salsa20 (both sides),
//!   client FEC 10/3 and server FEC 10/1 (kcp-go's `listenEcho` really
//!   passes 10, 1), stream mode, windows 1024/1024, nodelay 1,10,2,1,
//!   mtu 1400, ack_nodelay off, rate limit 200 MiB/s on both sessions,
//!   socket buffers 16 MiB client / 4 MiB server. MB/s = payload bytes
//!   written (counted once) / 10^6 / seconds, as `b.SetBytes(nbytes)`.
//!   `echo_sym` is the same with FEC 10/3 on the server too.
//! * `sink`: `BenchmarkSinkSpeed*` (`sinkclient` / `sink_tester`): the
//!   client writes `count × size` bytes, no crypt, no FEC, same KCP
//!   settings, no rate limit. kcp-go times the writer only (its `Write`
//!   returns once the data is queued in the send window), so up to one
//!   window may still be in flight when its clock stops: both the writer
//!   time (kcp-go's number) and the time until the server has read
//!   everything are reported. kcp-go's `BenchmarkSinkSpeed256K` actually
//!   writes 524288-byte messages; so does the `256K` row here.
//! * `udp`: 1400-byte datagrams over loopback, `send_to`/`recv_from` vs
//!   GSO send + `recvmmsg`/GRO receive (quinn-udp, as the crate does).
//! * `idle`: N sessions (1 000 and 10 000) from a client process (one
//!   socket per `KcpStream::connect`, as kcp-go's `DialWithOptions`) to a
//!   server process with one `KcpListener`; each does one 16-byte echo,
//!   then both processes sit idle; CPU (utime+stime, % of one core) and
//!   RSS are read from `/proc/self` over 10 s. Profiles 0,40,0,0 and
//!   1,10,2,1, no crypt, no FEC, default windows.
//!
//! Every row carries `/proc/loadavg` (1-minute) read right after it.

use std::io::{BufRead, BufReader, IoSliceMut, Read, Write};
use std::net::{SocketAddr, UdpSocket};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use kcp_crypto::CryptName;
use kcp_session::net::{KcpListener, KcpStream, NetConfig};
use kcp_session::{CryptConfig, SessionConfig};
use quinn_udp::{RecvMeta, Transmit, UdpSocketState};

/// kcp-go's numbers on this machine (benches/README.md, "kcp-go on this
/// machine").
const KCPGO_ECHO: [(usize, &str, f64); 4] = [
    (4096, "4K", 44.7),
    (65536, "64K", 40.5),
    (524288, "512K", 44.7),
    (1048576, "1M", 39.3),
];
const KCPGO_SINK: [(usize, &str, f64); 4] = [
    (4096, "4K", 178.0),
    (65536, "64K", 209.0),
    (524288, "256K*", 170.0),
    (1048576, "1M", 199.0),
];
/// Payload per measured run.
const ECHO_TOTAL: usize = 48 << 20;
const SINK_TOTAL: usize = 192 << 20;
/// Hard bound on one run (a stall fails the row instead of hanging).
const RUN_TIMEOUT: Duration = Duration::from_secs(15);

fn load1() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".into())
}

fn kcp_settings(s: SessionConfig) -> SessionConfig {
    // Diagnostic only: `SESSION_SPEED_INTERVAL=ms` replaces the 10 ms tick.
    let interval = std::env::var("SESSION_SPEED_INTERVAL")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    let mut s = s
        .nodelay((1, interval, 2, 1))
        .with_window(1024, 1024)
        .with_mtu(1400);
    s.stream = true;
    s.ack_nodelay = false;
    s
}

fn net(s: SessionConfig) -> NetConfig {
    NetConfig::from(s).with_linger(Duration::from_millis(500))
}

fn salsa() -> CryptConfig {
    CryptConfig::from_passphrase(CryptName::Salsa20, "testkey")
}

/// kcp-go's 200 MiB/s, or `SESSION_SPEED_RATE` (bytes/s, 0 = off) to see
/// what the limiter costs.
fn echo_rate_limit() -> u64 {
    std::env::var("SESSION_SPEED_RATE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200 * 1024 * 1024)
}

fn echo_cfgs(server_parity: usize) -> (NetConfig, NetConfig) {
    let mut c = kcp_settings(SessionConfig::default())
        .with_fec(10, 3)
        .with_crypt(salsa());
    c.rate_limit = echo_rate_limit();
    c.read_buffer = 16 << 20;
    c.write_buffer = 16 << 20;
    let mut s = kcp_settings(SessionConfig::default())
        .with_fec(10, server_parity)
        .with_crypt(salsa());
    s.rate_limit = echo_rate_limit();
    s.read_buffer = 4 << 20;
    s.write_buffer = 4 << 20;
    s.dscp = 46;
    (net(c), net(s))
}

fn sink_cfgs() -> (NetConfig, NetConfig) {
    let mut c = kcp_settings(SessionConfig::default());
    c.read_buffer = 16 << 20;
    c.write_buffer = 16 << 20;
    let mut s = kcp_settings(SessionConfig::default());
    s.read_buffer = 4 << 20;
    s.write_buffer = 4 << 20;
    s.dscp = 46;
    (net(c), net(s))
}

/// One echo run: MB/s as kcp-go reports it, plus retransmitted segments.
fn echo_once(size: usize, server_parity: usize) -> std::io::Result<(f64, u64)> {
    let count = (ECHO_TOTAL / size).max(1);
    let total = size * count;
    let (ccfg, scfg) = echo_cfgs(server_parity);
    let l = KcpListener::bind("127.0.0.1:0", scfg)?;
    let addr = l.local_addr();
    let server = std::thread::spawn(move || -> std::io::Result<()> {
        let (s, _) = l.accept_timeout(RUN_TIMEOUT)?;
        s.set_read_timeout(Some(RUN_TIMEOUT))?;
        s.set_write_timeout(Some(RUN_TIMEOUT))?;
        let mut buf = vec![0u8; 512 * 1024];
        let mut done = 0;
        while done < total {
            let n = (&s).read(&mut buf)?;
            if n == 0 {
                break;
            }
            (&s).write_all(&buf[..n])?;
            done += n;
        }
        // Keep the session until the client has read the echo back.
        let _ = s.close();
        Ok(())
    });
    let c = KcpStream::connect(addr, ccfg)?;
    c.set_read_timeout(Some(RUN_TIMEOUT))?;
    c.set_write_timeout(Some(RUN_TIMEOUT))?;
    let w = c.try_clone()?;
    let t0 = Instant::now();
    let writer = std::thread::spawn(move || -> std::io::Result<()> {
        let buf = vec![0u8; size];
        for _ in 0..count {
            (&w).write_all(&buf)?;
        }
        Ok(())
    });
    let mut buf = vec![0u8; size];
    let mut got = 0;
    while got < total {
        let n = (&c).read(&mut buf)?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        got += n;
    }
    let el = t0.elapsed().as_secs_f64();
    writer.join().expect("writer")?;
    let retrans = c.stats().retrans_segs;
    drop(c);
    server.join().expect("server")?;
    Ok((total as f64 / el / 1e6, retrans))
}

/// One sink run: (writer-side MB/s as kcp-go, delivered MB/s, retrans,
/// datagrams the receiver sent (ACKs), datagrams the sender sent, process
/// CPU in % of one core over the run).
#[allow(clippy::type_complexity)]
fn sink_once(size: usize) -> std::io::Result<(f64, f64, u64, u64, u64, f64)> {
    let count = (SINK_TOTAL / size).max(1);
    let total = size * count;
    let (ccfg, scfg) = sink_cfgs();
    let l = KcpListener::bind("127.0.0.1:0", scfg)?;
    let addr = l.local_addr();
    let c = KcpStream::connect(addr, ccfg)?;
    c.set_write_timeout(Some(RUN_TIMEOUT))?;
    let (ticks0, _, _) = proc_self();
    let t0 = Instant::now();
    let server = std::thread::spawn(move || -> std::io::Result<(Instant, u64)> {
        let (s, _) = l.accept_timeout(RUN_TIMEOUT)?;
        s.set_read_timeout(Some(RUN_TIMEOUT))?;
        let mut buf = vec![0u8; 16 << 20];
        let mut got = 0;
        while got < total {
            let n = (&s).read(&mut buf)?;
            if n == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            got += n;
        }
        let done = Instant::now();
        Ok((done, s.io_stats().datagrams_out))
    });
    let buf = vec![0u8; size];
    for _ in 0..count {
        (&c).write_all(&buf)?;
    }
    let tw = t0.elapsed().as_secs_f64();
    let (done, acks) = server.join().expect("server")?;
    let td = (done - t0).as_secs_f64();
    let (ticks1, _, _) = proc_self();
    let cpu = (ticks1 - ticks0) as f64 / CLK_TCK / t0.elapsed().as_secs_f64() * 100.0;
    let retrans = c.stats().retrans_segs;
    let sent = c.io_stats().datagrams_out;
    Ok((
        total as f64 / tw / 1e6,
        total as f64 / td / 1e6,
        retrans,
        acks,
        sent,
        cpu,
    ))
}

fn run_echo(rounds: usize, server_parity: usize) {
    println!(
        "\n## echo_speed (salsa20, FEC client 10/3 server 10/{server_parity}, stream, wnd 1024/1024, nodelay 1,10,2,1, mtu 1400, rate limit {} B/s), {} MiB per run, best of {rounds}",
        echo_rate_limit(),
        ECHO_TOTAL >> 20
    );
    println!("| size | best MB/s | all runs MB/s | kcp-go MB/s | ratio | retrans (best) | load1 |");
    println!("|---|---:|---|---:|---:|---:|---:|");
    for (size, name, kgo) in KCPGO_ECHO {
        let mut runs = Vec::new();
        let mut best = (0.0, 0);
        for _ in 0..rounds {
            match echo_once(size, server_parity) {
                Ok(r) => {
                    runs.push(format!("{:.1}", r.0));
                    if r.0 > best.0 {
                        best = r;
                    }
                }
                Err(e) => runs.push(format!("ERR {e}")),
            }
        }
        println!(
            "| {name} | {:.1} | {} | {kgo} | {:.2}× | {} | {} |",
            best.0,
            runs.join(" / "),
            best.0 / kgo,
            best.1,
            load1()
        );
    }
}

fn run_sink(rounds: usize) {
    println!(
        "\n## sink_speed (no crypt, no FEC, stream, wnd 1024/1024, nodelay 1,10,2,1, mtu 1400), {} MiB per run, best of {rounds}",
        SINK_TOTAL >> 20
    );
    println!(
        "| size | best MB/s (writer, as kcp-go) | best delivered MB/s | all runs: writer/delivered MB/s (process CPU % of one core; receiver datagrams out / sender datagrams out) | kcp-go MB/s | ratio (writer) | ratio (delivered) | retrans | load1 |"
    );
    println!("|---|---:|---:|---|---:|---:|---:|---:|---:|");
    for (size, name, kgo) in KCPGO_SINK {
        let mut runs = Vec::new();
        let (mut bw, mut bd, mut rt) = (0.0f64, 0.0f64, 0);
        for _ in 0..rounds {
            match sink_once(size) {
                Ok((w, d, r, acks, sent, cpu)) => {
                    runs.push(format!("{w:.0}/{d:.0} ({cpu:.0}%; {acks}/{sent})"));
                    bw = bw.max(w);
                    if d > bd {
                        bd = d;
                        rt = r;
                    }
                }
                Err(e) => runs.push(format!("ERR {e}")),
            }
        }
        println!(
            "| {name} | {bw:.1} | {bd:.1} | {} | {kgo} | {:.2}× | {:.2}× | {rt} | {} |",
            runs.join(" "),
            bw / kgo,
            bd / kgo,
            load1()
        );
    }
}

// ---------------------------------------------------------------- raw UDP

const DGRAM: usize = 1400;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Path {
    Plain,
    PlainRecvmmsg,
    GsoGro,
}

/// (sent MB/s, received MB/s, recv syscalls per datagram).
fn udp(path: Path, secs: f64) -> (f64, f64, f64) {
    let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
    let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
    rx.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let to = rx.local_addr().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let rstop = stop.clone();
    let receiver = std::thread::spawn(move || {
        let state = UdpSocketState::new((&rx).into()).unwrap();
        let _ = state.set_recv_buffer_size((&rx).into(), 8 << 20);
        let gro = state.gro_segments().max(1);
        let (mut bytes, mut calls) = (0u64, 0u64);
        let mut bufs = vec![vec![0u8; 1500 * gro]; 32];
        let mut metas = [RecvMeta::default(); 32];
        while !rstop.load(Ordering::Relaxed) {
            if path == Path::Plain {
                if let Ok((n, _)) = rx.recv_from(&mut bufs[0]) {
                    bytes += n as u64;
                    calls += 1;
                }
            } else {
                let mut slices: Vec<IoSliceMut<'_>> =
                    bufs.iter_mut().map(|b| IoSliceMut::new(b)).collect();
                if let Ok(n) = state.recv((&rx).into(), &mut slices, &mut metas) {
                    calls += 1;
                    bytes += metas[..n].iter().map(|m| m.len as u64).sum::<u64>();
                }
            }
        }
        (bytes, calls)
    });
    let state = UdpSocketState::new((&tx).into()).unwrap();
    let segs = state.max_gso_segments().clamp(1, 40);
    let payload = vec![0x5Au8; DGRAM * segs];
    let t0 = Instant::now();
    let mut sent = 0u64;
    while t0.elapsed().as_secs_f64() < secs {
        for _ in 0..64 {
            if path == Path::GsoGro {
                let t = Transmit {
                    destination: to,
                    ecn: None,
                    contents: &payload,
                    segment_size: (segs > 1).then_some(DGRAM),
                    src_ip: None,
                };
                if state.try_send((&tx).into(), &t).is_ok() {
                    sent += payload.len() as u64;
                }
            } else if tx.send_to(&payload[..DGRAM], to).is_ok() {
                sent += DGRAM as u64;
            }
        }
    }
    let el = t0.elapsed().as_secs_f64();
    std::thread::sleep(Duration::from_millis(50));
    stop.store(true, Ordering::Relaxed);
    let (bytes, calls) = receiver.join().unwrap();
    let dgrams = (bytes / DGRAM as u64).max(1);
    (
        sent as f64 / el / 1e6,
        bytes as f64 / el / 1e6,
        calls as f64 / dgrams as f64,
    )
}

fn run_udp() {
    println!("\n## raw loopback UDP ceiling, {DGRAM}-byte datagrams, 1 s each");
    println!("| path | sent MB/s | received MB/s | recv syscalls / datagram | load1 |");
    println!("|---|---:|---:|---:|---:|");
    for (path, name) in [
        (Path::Plain, "send_to + recv_from"),
        (Path::PlainRecvmmsg, "send_to + recvmmsg (quinn-udp)"),
        (Path::GsoGro, "GSO send + GRO/recvmmsg (quinn-udp)"),
    ] {
        let (s, r, c) = udp(path, 1.0);
        println!("| {name} | {s:.1} | {r:.1} | {c:.3} | {} |", load1());
    }
}

// ----------------------------------------------------------- idle sessions

/// (utime + stime in clock ticks, RSS kB, threads) of this process.
fn proc_self() -> (u64, u64, u64) {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the `(comm)`: state is field 3, utime 14, stime 15.
    let rest = stat.rsplit_once(')').map(|x| x.1).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = f.get(11).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0)
        + f.get(12).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |k: &str| {
        status
            .lines()
            .find(|l| l.starts_with(k))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    (ticks, field("VmRSS:"), field("Threads:"))
}

const IDLE_SETTLE: Duration = Duration::from_secs(2);
const IDLE_MEASURE: Duration = Duration::from_secs(10);
/// `getconf CLK_TCK` on Linux.
const CLK_TCK: f64 = 100.0;

/// Settles, then measures this process over `IDLE_MEASURE`:
/// "cpu% rss_MB threads".
fn measure_idle() -> String {
    std::thread::sleep(IDLE_SETTLE);
    let (t0, _, _) = proc_self();
    let w0 = Instant::now();
    std::thread::sleep(IDLE_MEASURE);
    let (t1, rss, thr) = proc_self();
    let el = w0.elapsed().as_secs_f64();
    let cpu = (t1 - t0) as f64 / CLK_TCK / el * 100.0;
    format!("{cpu:.2} {:.1} {thr}", rss as f64 / 1024.0)
}

fn idle_cfg(profile: &str) -> SessionConfig {
    let p: Vec<i32> = profile.split(',').map(|v| v.parse().unwrap()).collect();
    SessionConfig::default().nodelay((p[0], p[1], p[2], p[3]))
}

/// Client process: `idle-client ADDR N PROFILE`. Prints `READY`, then
/// `RESULT cpu rss threads`, then exits when stdin closes.
fn idle_client(addr: SocketAddr, n: usize, profile: &str) -> std::io::Result<()> {
    let cfg = net(idle_cfg(profile));
    let mut streams = Vec::with_capacity(n);
    let msg = [0x42u8; 16];
    while streams.len() < n {
        let batch = (n - streams.len()).min(500);
        let mut fresh = Vec::with_capacity(batch);
        for _ in 0..batch {
            let s = KcpStream::connect(addr, cfg.clone())?;
            s.set_read_timeout(Some(Duration::from_secs(20)))?;
            (&s).write_all(&msg)?;
            fresh.push(s);
        }
        for s in &fresh {
            let mut buf = [0u8; 16];
            (&*s).read_exact(&mut buf)?;
            assert_eq!(buf, msg);
        }
        streams.extend(fresh);
    }
    println!("READY {}", streams.len());
    std::io::stdout().flush()?;
    println!("RESULT {}", measure_idle());
    std::io::stdout().flush()?;
    let mut line = String::new();
    let _ = std::io::stdin().read_line(&mut line);
    // Exit without lingering 10K sessions.
    std::process::exit(0);
}

/// Server process: `idle-server N PROFILE`. Spawns the client process,
/// accepts and echoes N sessions, measures, prints
/// `RESULT setup_s base_rss srv_cpu srv_rss srv_thr cli_cpu cli_rss cli_thr`.
fn idle_server(n: usize, profile: &str) -> std::io::Result<()> {
    let (_, base_rss, _) = proc_self();
    let mut cfg = net(idle_cfg(profile)).with_accept_backlog(n + 16);
    cfg.max_sessions = cfg.max_sessions.max(n + 16);
    let l = KcpListener::bind("127.0.0.1:0", cfg)?;
    let t0 = Instant::now();
    let mut child = Command::new(std::env::current_exe()?)
        .args([
            "idle-client",
            &l.local_addr().to_string(),
            &n.to_string(),
            profile,
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()?;
    let mut sessions = Vec::with_capacity(n);
    while sessions.len() < n {
        let (s, _) = l.accept_timeout(Duration::from_secs(30))?;
        s.set_read_timeout(Some(Duration::from_secs(20)))?;
        let mut buf = [0u8; 16];
        (&s).read_exact(&mut buf)?;
        (&s).write_all(&buf)?;
        sessions.push(s);
    }
    let mut out = BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    out.read_line(&mut line)?;
    if !line.starts_with("READY") {
        let _ = child.kill();
        return Err(std::io::Error::other(format!("client: {line:?}")));
    }
    let setup = t0.elapsed().as_secs_f64();
    let srv = measure_idle();
    line.clear();
    out.read_line(&mut line)?;
    let cli = line
        .trim()
        .strip_prefix("RESULT ")
        .unwrap_or("? ? ?")
        .to_owned();
    drop(child.stdin.take());
    let _ = child.wait();
    println!(
        "RESULT {setup:.1} {:.1} {srv} {cli} {}",
        base_rss as f64 / 1024.0,
        sessions.len()
    );
    std::io::stdout().flush()?;
    std::process::exit(0);
}

fn run_idle(ns: &[usize]) {
    println!(
        "\n## idle_sessions (server and client in separate processes, one socket per client session, no crypt/FEC, default windows; {} s settle, {} s measured)",
        IDLE_SETTLE.as_secs(),
        IDLE_MEASURE.as_secs()
    );
    println!(
        "| N | nodelay | setup s | server CPU % | server RSS MB (before bind) | server threads | client CPU % | client RSS MB | client threads | load1 |"
    );
    println!("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for &n in ns {
        for profile in ["0,40,0,0", "1,10,2,1"] {
            let out = Command::new(std::env::current_exe().expect("exe"))
                .args(["idle-server", &n.to_string(), profile])
                .stderr(Stdio::inherit())
                .output();
            let text = match out {
                Ok(o) => String::from_utf8_lossy(&o.stdout).into_owned(),
                Err(e) => format!("spawn failed: {e}"),
            };
            let Some(r) = text.lines().find_map(|l| l.strip_prefix("RESULT ")) else {
                println!("| {n} | {profile} | failed: {} |", text.trim());
                continue;
            };
            let f: Vec<&str> = r.split_whitespace().collect();
            // setup base srv_cpu srv_rss srv_thr cli_cpu cli_rss cli_thr sessions
            let g = |i: usize| f.get(i).copied().unwrap_or("?");
            println!(
                "| {n} | {profile} | {} | {} | {} ({}) | {} | {} | {} | {} | {} |",
                g(0),
                g(2),
                g(3),
                g(1),
                g(4),
                g(5),
                g(6),
                g(7),
                load1()
            );
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let which = args.first().map(String::as_str).unwrap_or("all");
    let num = |i: usize, d: usize| {
        args.get(i)
            .and_then(|v| v.parse::<usize>().ok())
            .unwrap_or(d)
    };
    match which {
        "idle-client" => {
            let addr: SocketAddr = args[1].parse().expect("addr");
            if let Err(e) = idle_client(addr, num(2, 1000), &args[3]) {
                println!("ERROR {e}");
                std::process::exit(1);
            }
            return;
        }
        "sizes" => {
            println!(
                "size_of: Connection {} B (kcp_core::Kcp {} B, kcp_crypto::Crypt {} B, Option<Decoder> {} B, Option<Encoder> {} B), KcpStream {} B, SessionConfig {} B",
                std::mem::size_of::<kcp_session::Connection>(),
                std::mem::size_of::<kcp_core::Kcp>(),
                std::mem::size_of::<kcp_crypto::Crypt>(),
                std::mem::size_of::<Option<kcp_fec::Decoder>>(),
                std::mem::size_of::<Option<kcp_fec::Encoder>>(),
                std::mem::size_of::<KcpStream>(),
                std::mem::size_of::<SessionConfig>()
            );
            return;
        }
        "idle-server" => {
            if let Err(e) = idle_server(num(1, 1000), &args[2]) {
                println!("ERROR {e}");
                std::process::exit(1);
            }
            return;
        }
        _ => {}
    }
    let rounds = num(1, 3);
    println!(
        "session_speed {which}: {} cores, load1 at start {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        load1()
    );
    let all = which == "all";
    if all || which == "udp" {
        run_udp();
    }
    if all || which == "sink" {
        run_sink(rounds);
    }
    if all || which == "echo" {
        run_echo(rounds, 1);
    }
    if which == "echo_sym" {
        run_echo(rounds, 3);
    }
    if all || which.starts_with("idle") {
        let ns: Vec<usize> = which
            .strip_prefix("idle:")
            .map(|l| l.split(',').filter_map(|v| v.parse().ok()).collect())
            .unwrap_or_else(|| vec![1000, 10_000]);
        run_idle(&ns);
    }
}
