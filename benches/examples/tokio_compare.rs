//! kcp-session's tokio adapter against the registry crates `tokio_kcp`
//! 0.9.8 and `kcp-tokio` 0.7, with kcp-session's blocking std adapter as
//! a column, on loopback.
//!
//! ```text
//! cargo run --release -p kcp-benches --example tokio_compare -- [which] [impls]
//!   which: all (default) | bulk | rtt | many | idle
//!   impls: comma list of ours,std,tokio_kcp,kcp_tokio (default all)
//! ```
//!
//! Every peer: nodelay 1, interval 10, resend 2, nc 1; windows 1024/1024;
//! MTU 1400; stream mode; no crypt, no FEC (kcp-session: crypt null, FEC
//! off; the registry crates have neither). `tokio_kcp` flushes on write
//! (`flush_write`), as kcp-session does; everything else at its defaults.
//! The tokio runtimes are multi-thread with 2 workers (the machine has 2
//! cores); the std adapter uses its reactor thread plus one application
//! thread per stream.
//!
//! `SOCKBUF=bytes` sets the socket buffers where a peer allows it.
//!
//! * `bulk`: one client writes 256 MiB (64 KiB writes) to a server that
//!   reads it; MB/s = 10^6 bytes per second, from the first write to the
//!   server's last read; the median (and range) of 5 such transfers, each
//!   on a fresh listener and stream.
//! * `rtt`: 10,000 echoes of 64 bytes, one outstanding; p50 / p99 / max.
//! * `many`: 1000 client streams (1000 sockets) to one listener, each
//!   echoing 64 KiB, all at once; the time until the last echo is back.
//! * `idle`: 10,000 sessions from this process to a server child process
//!   (one listener); each echoes 16 bytes, then all sit idle; the server's
//!   CPU (utime + stime, % of one core) over 10 s and its RSS.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::pin::Pin;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kcp_session::SessionConfig;
use kcp_session::net;
use kcp_session::tokio as kt;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

const BULK: usize = 256 << 20;
const PINGS: usize = 10_000;
const MANY: usize = 1000;
const MANY_BYTES: usize = 64 << 10;
const IDLE: usize = 10_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Imp {
    Ours,
    Std,
    TokioKcp,
    KcpTokio,
}

impl Imp {
    fn name(self) -> &'static str {
        match self {
            Imp::Ours => "ours",
            Imp::Std => "std",
            Imp::TokioKcp => "tokio_kcp",
            Imp::KcpTokio => "kcp_tokio",
        }
    }
    fn parse(s: &str) -> Imp {
        match s {
            "ours" => Imp::Ours,
            "std" => Imp::Std,
            "tokio_kcp" => Imp::TokioKcp,
            "kcp_tokio" => Imp::KcpTokio,
            _ => panic!("unknown implementation {s:?}"),
        }
    }
}

/// `SOCKBUF=bytes` sets the socket buffers of the peers that can
/// (kcp-session, `kcp-tokio`; `tokio_kcp` has no such option). Unset: the
/// kernel's defaults for everyone.
fn sockbuf() -> Option<usize> {
    std::env::var("SOCKBUF").ok().and_then(|v| v.parse().ok())
}

fn session_cfg() -> SessionConfig {
    let mut s = SessionConfig::fast3()
        .with_window(1024, 1024)
        .with_mtu(1400);
    s.stream = true;
    if let Some(b) = sockbuf() {
        s.read_buffer = b;
        s.write_buffer = b;
    }
    s
}

fn tokio_kcp_cfg() -> tokio_kcp::KcpConfig {
    tokio_kcp::KcpConfig {
        mtu: 1400,
        nodelay: tokio_kcp::KcpNoDelayConfig::fastest(),
        wnd_size: (1024, 1024),
        stream: true,
        flush_write: true,
        ..Default::default()
    }
}

fn kcp_tokio_cfg() -> kcp_tokio::KcpConfig {
    let mut c = kcp_tokio::KcpConfig::new()
        .mtu(1400)
        .window_size(1024, 1024)
        .stream_mode(true);
    c.nodelay.nodelay = true;
    c.nodelay.interval = 10;
    c.nodelay.resend = 2;
    c.nodelay.no_congestion_control = true;
    if let Some(b) = sockbuf() {
        c = c.socket_buffer_size(b);
    }
    c
}

fn err<E: std::fmt::Debug>(e: E) -> io::Error {
    io::Error::other(format!("{e:?}"))
}

trait Duplex: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Duplex for T {}
type AnyStream = Pin<Box<dyn Duplex>>;

enum AnyListener {
    Ours(kt::KcpListener),
    TokioKcp(tokio_kcp::KcpListener),
    KcpTokio(kcp_tokio::KcpListener),
}

impl AnyListener {
    async fn bind(imp: Imp) -> io::Result<(AnyListener, SocketAddr)> {
        let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
        Ok(match imp {
            Imp::Ours => {
                let cfg = net::NetConfig::from(session_cfg()).with_accept_backlog(IDLE);
                let l = kt::KcpListener::bind(any, cfg).await?;
                let a = l.local_addr();
                (AnyListener::Ours(l), a)
            }
            Imp::TokioKcp => {
                let l = tokio_kcp::KcpListener::bind(tokio_kcp_cfg(), any)
                    .await
                    .map_err(err)?;
                let a = l.local_addr()?;
                (AnyListener::TokioKcp(l), a)
            }
            Imp::KcpTokio => {
                let mut c = kcp_tokio_cfg();
                c.max_pending_connections = IDLE;
                let l = kcp_tokio::KcpListener::bind(any, c).await.map_err(err)?;
                let a = *l.local_addr();
                (AnyListener::KcpTokio(l), a)
            }
            Imp::Std => unreachable!("the std adapter has its own harness"),
        })
    }

    async fn accept(&mut self) -> io::Result<AnyStream> {
        Ok(match self {
            AnyListener::Ours(l) => Box::pin(l.accept().await?.0),
            AnyListener::TokioKcp(l) => Box::pin(l.accept().await.map_err(err)?.0),
            AnyListener::KcpTokio(l) => Box::pin(l.accept().await.map_err(err)?.0),
        })
    }
}

async fn connect(imp: Imp, addr: SocketAddr) -> io::Result<AnyStream> {
    Ok(match imp {
        Imp::Ours => Box::pin(kt::KcpStream::connect(addr, session_cfg()).await?),
        Imp::TokioKcp => Box::pin(
            tokio_kcp::KcpStream::connect(&tokio_kcp_cfg(), addr)
                .await
                .map_err(err)?,
        ),
        Imp::KcpTokio => Box::pin(
            kcp_tokio::KcpStream::connect(addr, kcp_tokio_cfg())
                .await
                .map_err(err)?,
        ),
        Imp::Std => unreachable!(),
    })
}

/// Server: accept forever, echo each stream in its own task.
fn spawn_echo_server(mut l: AnyListener) {
    tokio::spawn(async move {
        while let Ok(mut s) = l.accept().await {
            tokio::spawn(async move {
                let mut buf = vec![0u8; 64 << 10];
                loop {
                    match s.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            if s.write_all(&buf[..n]).await.is_err() {
                                break;
                            }
                        }
                    }
                }
            });
        }
    });
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().next().unwrap_or("?").to_string())
        .unwrap_or_default()
}

// ---------------------------------------------------------------- bulk

/// Bulk transfers per peer (the median is reported).
const BULK_RUNS: usize = 5;

fn bulk(imp: Imp) -> io::Result<f64> {
    if imp == Imp::Std {
        let l = net::KcpListener::bind("127.0.0.1:0", session_cfg())?;
        let addr = l.local_addr();
        let reader = std::thread::spawn(move || -> io::Result<Instant> {
            let (s, _) = l.accept()?;
            let mut buf = vec![0u8; 64 << 10];
            let mut got = 0;
            while got < BULK {
                let n = (&s).read(&mut buf)?;
                if n == 0 {
                    return Err(io::ErrorKind::UnexpectedEof.into());
                }
                got += n;
            }
            Ok(Instant::now())
        });
        let c = net::KcpStream::connect(addr, session_cfg())?;
        let chunk = vec![0xA5u8; 64 << 10];
        let t0 = Instant::now();
        for _ in 0..BULK / chunk.len() {
            (&c).write_all(&chunk)?;
        }
        let t1 = reader.join().unwrap()?;
        return Ok(BULK as f64 / 1e6 / (t1 - t0).as_secs_f64());
    }
    runtime().block_on(async {
        let (mut l, addr) = AnyListener::bind(imp).await?;
        let reader = tokio::spawn(async move {
            let mut s = l.accept().await?;
            let mut buf = vec![0u8; 64 << 10];
            let mut got = 0;
            while got < BULK {
                let n = s.read(&mut buf).await?;
                if n == 0 {
                    return Err(io::ErrorKind::UnexpectedEof.into());
                }
                got += n;
            }
            Ok::<_, io::Error>((Instant::now(), l, s))
        });
        let mut c = connect(imp, addr).await?;
        let chunk = vec![0xA5u8; 64 << 10];
        let t0 = Instant::now();
        for _ in 0..BULK / chunk.len() {
            c.write_all(&chunk).await?;
        }
        let (t1, _l, _s) = reader.await.unwrap()?;
        Ok(BULK as f64 / 1e6 / (t1 - t0).as_secs_f64())
    })
}

// ---------------------------------------------------------------- rtt

fn percentiles(mut v: Vec<Duration>) -> (u128, u128, u128) {
    v.sort();
    let p = |q: f64| v[((v.len() as f64 * q) as usize).min(v.len() - 1)].as_micros();
    (p(0.50), p(0.99), v.last().unwrap().as_micros())
}

fn rtt(imp: Imp) -> io::Result<(u128, u128, u128)> {
    let ping = [0x5Au8; 64];
    if imp == Imp::Std {
        let l = net::KcpListener::bind("127.0.0.1:0", session_cfg())?;
        let addr = l.local_addr();
        std::thread::spawn(move || -> io::Result<()> {
            let (s, _) = l.accept()?;
            let mut b = [0u8; 64];
            loop {
                (&s).read_exact(&mut b)?;
                (&s).write_all(&b)?;
            }
        });
        let c = net::KcpStream::connect(addr, session_cfg())?;
        let mut back = [0u8; 64];
        let mut v = Vec::with_capacity(PINGS);
        for _ in 0..PINGS {
            let t = Instant::now();
            (&c).write_all(&ping)?;
            (&c).read_exact(&mut back)?;
            v.push(t.elapsed());
        }
        return Ok(percentiles(v));
    }
    runtime().block_on(async {
        let (l, addr) = AnyListener::bind(imp).await?;
        spawn_echo_server(l);
        let mut c = connect(imp, addr).await?;
        let mut back = [0u8; 64];
        let mut v = Vec::with_capacity(PINGS);
        for _ in 0..PINGS {
            let t = Instant::now();
            c.write_all(&ping).await?;
            c.read_exact(&mut back).await?;
            v.push(t.elapsed());
        }
        Ok(percentiles(v))
    })
}

// ---------------------------------------------------------------- many

fn many(imp: Imp) -> io::Result<Duration> {
    let data = Arc::new(vec![0x3Cu8; MANY_BYTES]);
    if imp == Imp::Std {
        let cfg = net::NetConfig::from(session_cfg()).with_accept_backlog(MANY);
        let l = net::KcpListener::bind("127.0.0.1:0", cfg)?;
        let addr = l.local_addr();
        std::thread::spawn(move || {
            while let Ok((s, _)) = l.accept() {
                std::thread::spawn(move || {
                    let mut buf = vec![0u8; 64 << 10];
                    while let Ok(n) = (&s).read(&mut buf) {
                        if n == 0 || (&s).write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                });
            }
        });
        let t0 = Instant::now();
        let clients: Vec<_> = (0..MANY)
            .map(|_| {
                let data = data.clone();
                std::thread::spawn(move || -> io::Result<net::KcpStream> {
                    let c = net::KcpStream::connect(addr, session_cfg())?;
                    (&c).write_all(&data)?;
                    let mut back = vec![0u8; MANY_BYTES];
                    (&c).read_exact(&mut back)?;
                    assert!(back == *data);
                    Ok(c)
                })
            })
            .collect();
        let mut kept = Vec::new();
        for c in clients {
            kept.push(c.join().unwrap()?);
        }
        return Ok(t0.elapsed());
    }
    runtime().block_on(async {
        let (l, addr) = AnyListener::bind(imp).await?;
        spawn_echo_server(l);
        let t0 = Instant::now();
        let clients: Vec<_> = (0..MANY)
            .map(|_| {
                let data = data.clone();
                tokio::spawn(async move {
                    let mut c = connect(imp, addr).await?;
                    c.write_all(&data).await?;
                    let mut back = vec![0u8; MANY_BYTES];
                    c.read_exact(&mut back).await?;
                    assert!(back == *data);
                    Ok::<_, io::Error>(c)
                })
            })
            .collect();
        let mut kept = Vec::new();
        for c in clients {
            kept.push(c.await.unwrap()?);
        }
        Ok(t0.elapsed())
    })
}

// ---------------------------------------------------------------- idle

fn proc_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
}

fn rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .unwrap_or(0.0)
        / 1024.0
}

/// The idle server child: prints its address, serves echoes, and on "go"
/// on stdin measures itself for 10 s and prints "cpu% rss_mib".
fn idle_server(imp: Imp) -> io::Result<()> {
    let measure = || {
        let mut line = String::new();
        io::stdin().read_line(&mut line).unwrap();
        let t0 = proc_ticks();
        std::thread::sleep(Duration::from_secs(10));
        let t1 = proc_ticks();
        // 100 ticks per second = 100% of one core per second.
        println!("{} {:.1}", (t1 - t0) as f64 / 10.0, rss_mib());
        io::stdout().flush().unwrap();
    };
    if imp == Imp::Std {
        let cfg = net::NetConfig::from(session_cfg()).with_accept_backlog(IDLE);
        let l = net::KcpListener::bind("127.0.0.1:0", cfg)?;
        println!("{}", l.local_addr());
        io::stdout().flush()?;
        // Echo each session's one message from a small pool of threads.
        let (tx, rx) = std::sync::mpsc::channel::<net::KcpStream>();
        let rx = Arc::new(std::sync::Mutex::new(rx));
        for _ in 0..4 {
            let rx = rx.clone();
            std::thread::spawn(move || {
                let mut kept = Vec::new();
                loop {
                    let Ok(s) = rx.lock().unwrap().recv() else {
                        break;
                    };
                    let mut b = [0u8; 16];
                    if (&s).read_exact(&mut b).is_ok() {
                        let _ = (&s).write_all(&b);
                    }
                    kept.push(s);
                }
            });
        }
        std::thread::spawn(move || {
            while let Ok((s, _)) = l.accept() {
                let _ = tx.send(s);
            }
        });
        measure();
        return Ok(());
    }
    let rt = runtime();
    rt.block_on(async {
        let (mut l, addr) = AnyListener::bind(imp).await?;
        println!("{addr}");
        io::stdout().flush()?;
        tokio::spawn(async move {
            while let Ok(mut s) = l.accept().await {
                tokio::spawn(async move {
                    let mut b = [0u8; 16];
                    if s.read_exact(&mut b).await.is_ok() {
                        let _ = s.write_all(&b).await;
                    }
                    // Keep the session open.
                    std::future::pending::<()>().await;
                    drop(s);
                });
            }
        });
        tokio::task::spawn_blocking(measure).await.unwrap();
        Ok::<_, io::Error>(())
    })?;
    std::process::exit(0);
}

fn idle(imp: Imp) -> io::Result<(f64, f64)> {
    let exe = std::env::current_exe()?;
    let mut child = Command::new(exe)
        .args(["idle-server", imp.name()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()?;
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line)?;
    let addr: SocketAddr = line.trim().parse().map_err(err)?;
    let msg = [0x11u8; 16];
    let result = if imp == Imp::Std {
        let mut kept = Vec::with_capacity(IDLE);
        for _ in 0..IDLE {
            let c = net::KcpStream::connect(addr, session_cfg())?;
            (&c).write_all(&msg)?;
            kept.push(c);
        }
        for c in &kept {
            let mut b = [0u8; 16];
            (&*c).read_exact(&mut b)?;
        }
        // Let the last acknowledgements settle.
        std::thread::sleep(Duration::from_millis(500));
        child.stdin.as_mut().unwrap().write_all(b"go\n")?;
        line.clear();
        out.read_line(&mut line)?;
        drop(kept);
        line.clone()
    } else {
        let rt = runtime();
        let kept = rt.block_on(async {
            let mut tasks = Vec::with_capacity(IDLE);
            for _ in 0..IDLE {
                tasks.push(tokio::spawn(async move {
                    let mut c = connect(imp, addr).await?;
                    c.write_all(&msg).await?;
                    let mut b = [0u8; 16];
                    c.read_exact(&mut b).await?;
                    Ok::<_, io::Error>(c)
                }));
                // Bounded concurrency while opening: a listener backlog
                // (and kernel buffers) are not tested here.
                if tasks.len() % 500 == 0 {
                    tokio::task::yield_now().await;
                }
            }
            let mut kept = Vec::with_capacity(IDLE);
            for t in tasks {
                kept.push(t.await.unwrap()?);
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
            Ok::<_, io::Error>(kept)
        })?;
        child.stdin.as_mut().unwrap().write_all(b"go\n")?;
        line.clear();
        out.read_line(&mut line)?;
        drop(kept);
        drop(rt);
        line.clone()
    };
    let _ = child.kill();
    let _ = child.wait();
    let mut it = result.split_whitespace();
    let cpu: f64 = it.next().and_then(|x| x.parse().ok()).unwrap_or(f64::NAN);
    let rss: f64 = it.next().and_then(|x| x.parse().ok()).unwrap_or(f64::NAN);
    Ok((cpu, rss))
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("idle-server") {
        idle_server(Imp::parse(&args[1])).unwrap();
        return;
    }
    let which = args.first().cloned().unwrap_or_else(|| "all".into());
    let imps: Vec<Imp> = args
        .get(1)
        .map(|s| s.split(',').map(Imp::parse).collect())
        .unwrap_or_else(|| vec![Imp::Ours, Imp::Std, Imp::TokioKcp, Imp::KcpTokio]);
    let run = |w: &str| which == "all" || which == w;
    for &imp in &imps {
        let name = imp.name();
        if run("bulk") {
            // One transfer lasts a fraction of a second on loopback: report
            // the median of several, with the range.
            match (0..BULK_RUNS)
                .map(|_| bulk(imp))
                .collect::<io::Result<Vec<f64>>>()
            {
                Ok(mut v) => {
                    v.sort_by(f64::total_cmp);
                    println!(
                        "bulk {name}: {:.1} MB/s median of {BULK_RUNS} ({:.1}-{:.1}) (load {})",
                        v[v.len() / 2],
                        v[0],
                        v[v.len() - 1],
                        loadavg()
                    );
                }
                Err(e) => println!("bulk {name}: failed: {e}"),
            }
        }
        if run("rtt") {
            match rtt(imp) {
                Ok((p50, p99, max)) => println!(
                    "rtt {name}: p50 {p50} µs, p99 {p99} µs, max {max} µs (load {})",
                    loadavg()
                ),
                Err(e) => println!("rtt {name}: failed: {e}"),
            }
        }
        if run("many") {
            match many(imp) {
                Ok(t) => println!("many {name}: {:.3} s (load {})", t.as_secs_f64(), loadavg()),
                Err(e) => println!("many {name}: failed: {e}"),
            }
        }
        if run("idle") {
            match idle(imp) {
                Ok((cpu, rss)) => println!(
                    "idle {name}: server CPU {cpu:.1}% of a core, RSS {rss:.0} MiB (load {})",
                    loadavg()
                ),
                Err(e) => println!("idle {name}: failed: {e}"),
            }
        }
    }
}
