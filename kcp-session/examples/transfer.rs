//! The main job: a kcp-go-compatible session (KCP + FEC + packet crypto)
//! moving data through the in-process simulated lossy network, printing
//! progress, goodput, retransmissions, FEC recoveries and RTT.
//!
//! ```text
//! cargo run --release -p kcp-session --features sim --example transfer -- --help
//! ```

#[cfg(not(feature = "sim"))]
fn main() {
    eprintln!("this example needs the simulator: add `--features sim`");
    std::process::exit(2);
}

#[cfg(feature = "sim")]
fn main() -> std::process::ExitCode {
    demo::main()
}

#[cfg(feature = "sim")]
mod demo {
    use std::process::ExitCode;

    use kcp_core::sim::{Direction, LinkConfig, Sim, SimConfig};
    use kcp_session::{Connection, CryptConfig, CryptName, SessionConfig, Stats, Timestamp};

    const HELP: &str = "\
transfer: one-way bulk transfer through the deterministic simulated network,
over a kcp-go session (KCP + optional FEC + optional packet crypto)

  --loss PCT        random loss per direction, percent            [5]
  --rtt MS          round-trip time (one-way delay = RTT/2)       [40]
  --jitter MS       extra random one-way delay, 0..MS             [0]
  --size MB         megabytes to move (decimals allowed)          [4]
  --mode NAME       normal | fast | fast2 | fast3 (kcptun presets)
                    or N,I,R,C (nodelay, interval, resend, nc)    [fast3]
  --window N        send and receive window, segments             [256]
  --fec D,P         Reed-Solomon data,parity shards (0,0 = off)   [0,0]
  --crypt NAME      kcptun cipher name: aes, aes-128, aes-192,
                    aes-128-gcm, salsa20, blowfish, twofish, cast5,
                    3des, tea, xtea, xor, sm4, none, null         [null]
  --key PASS        passphrase (kcptun's PBKDF2 derivation)       [it's a secrect]
  --mtu N           session MTU, headers included                 [1400]
  --bandwidth MBPS  bottleneck bandwidth in megabytes/s           [unlimited]
  --seed N          simulator / relay seed                        [1]
  --udp             real loopback sockets instead of the simulator:
                    KcpListener + KcpStream through an in-process
                    lossy UDP relay (same loss/rtt/jitter flags)
";

    pub(crate) struct Args {
        loss: f64,
        rtt_ms: u32,
        jitter_ms: u32,
        size: usize,
        mode: (i32, i32, i32, i32),
        mode_name: String,
        window: u32,
        fec: (usize, usize),
        crypt: CryptName,
        key: String,
        mtu: usize,
        bandwidth: Option<u64>,
        seed: u64,
        udp: bool,
    }

    fn mode(name: &str) -> Result<(i32, i32, i32, i32), String> {
        Ok(match name {
            "normal" => (0, 40, 2, 1),
            "fast" => (0, 30, 2, 1),
            "fast2" => (1, 20, 2, 1),
            "fast3" => (1, 10, 2, 1),
            custom => {
                let v: Vec<i32> = custom
                    .split(',')
                    .map(|s| s.trim().parse().map_err(|_| format!("bad --mode {custom}")))
                    .collect::<Result<_, _>>()?;
                match v[..] {
                    [n, i, r, c] => (n, i, r, c),
                    _ => return Err(format!("--mode needs a preset or 4 numbers, got {custom}")),
                }
            }
        })
    }

    fn parse() -> Result<Args, String> {
        let mut a = Args {
            loss: 5.0,
            rtt_ms: 40,
            jitter_ms: 0,
            size: 4 << 20,
            mode: (1, 10, 2, 1),
            mode_name: "fast3".into(),
            window: 256,
            fec: (0, 0),
            crypt: CryptName::Null,
            key: "it's a secrect".into(),
            mtu: 1400,
            bandwidth: None,
            seed: 1,
            udp: false,
        };
        let mut it = std::env::args().skip(1);
        while let Some(flag) = it.next() {
            if flag == "--help" || flag == "-h" {
                return Err(String::new());
            }
            if flag == "--udp" {
                a.udp = true;
                continue;
            }
            let val = it.next().ok_or(format!("{flag} needs a value"))?;
            let num = |v: &str| v.parse::<f64>().map_err(|e| format!("{flag}: {e}"));
            match flag.as_str() {
                "--loss" => a.loss = num(&val)?,
                "--rtt" => a.rtt_ms = num(&val)? as u32,
                "--jitter" => a.jitter_ms = num(&val)? as u32,
                "--size" => a.size = (num(&val)? * 1048576.0) as usize,
                "--mode" => {
                    a.mode = mode(&val)?;
                    a.mode_name = val;
                }
                "--window" => a.window = num(&val)? as u32,
                "--fec" => {
                    let (d, p) = val.split_once(',').ok_or("--fec takes D,P")?;
                    a.fec = (
                        d.trim().parse().map_err(|_| "--fec: bad D")?,
                        p.trim().parse().map_err(|_| "--fec: bad P")?,
                    );
                }
                "--crypt" => a.crypt = val.parse().map_err(|_| format!("unknown --crypt {val}"))?,
                "--key" => a.key = val,
                "--mtu" => a.mtu = num(&val)? as usize,
                "--bandwidth" => a.bandwidth = Some((num(&val)? * 1048576.0) as u64),
                "--seed" => a.seed = num(&val)? as u64,
                f => return Err(format!("unknown flag {f}")),
            }
        }
        if !(0.0..100.0).contains(&a.loss) {
            return Err("--loss must be in 0..100".into());
        }
        Ok(a)
    }

    pub fn main() -> ExitCode {
        let args = match parse() {
            Ok(a) => a,
            Err(e) if e.is_empty() => {
                print!("{HELP}");
                return ExitCode::SUCCESS;
            }
            Err(e) => {
                eprintln!("error: {e}\n\n{HELP}");
                return ExitCode::FAILURE;
            }
        };
        let crypt = match args.crypt {
            CryptName::Null => CryptConfig::null(),
            name => CryptConfig::from_passphrase(name, &args.key),
        };
        let mut cfg = SessionConfig::default()
            .nodelay(args.mode)
            .with_window(args.window, args.window)
            .with_fec(args.fec.0, args.fec.1)
            .with_crypt(crypt)
            .with_mtu(args.mtu);
        cfg.stream = true;
        if args.udp {
            return super::udp::run(
                &cfg,
                args.size,
                args.loss,
                args.rtt_ms,
                args.jitter_ms,
                args.seed,
            );
        }

        let start = Timestamp::from_millis(0);
        let conv = 0x4B43_5052;
        let (client, server) = match (
            Connection::connect(conv, &cfg, start),
            Connection::accept(conv, &cfg, start),
        ) {
            (Ok(c), Ok(s)) => (c, s),
            (Err(e), _) | (_, Err(e)) => {
                eprintln!("error: bad configuration: {e}");
                return ExitCode::FAILURE;
            }
        };
        let layout = client.layout();
        let mut link =
            LinkConfig::lossy(args.loss / 100.0, args.rtt_ms / 2).jitter_ms(args.jitter_ms);
        if let Some(bw) = args.bandwidth {
            link = link.bandwidth(bw);
        }
        let sim_cfg = SimConfig::new().seed(args.seed).start(start).link(link);
        let mut sim = Sim::with_config(client, server, sim_cfg);

        let (nd, iv, rs, nc) = args.mode;
        println!(
            "kcp-rs session transfer: {:.2} MB, loss {}% each way, RTT {} ms (+0..{} ms jitter), \
             mode {} = nodelay({nd},{iv},{rs},{nc}), window {}, FEC {}/{}, crypt {:?}, \
             mss {} ({:?}), seed {}",
            args.size as f64 / 1048576.0,
            args.loss,
            args.rtt_ms,
            args.jitter_ms,
            args.mode_name,
            args.window,
            args.fec.0,
            args.fec.1,
            args.crypt,
            sim.a().mss(),
            layout,
            args.seed,
        );

        let mut chunk = vec![0u8; 64 * 1024];
        let mut queued = 0usize;
        let mut received = 0usize;
        let mut expect: u8 = 0; // content check: byte i is (i mod 251)
        let mut buf = vec![0u8; 1 << 16];
        let mut next_report = 1000u64;
        let limit_ms = 3_600_000u64;
        while received < args.size && sim.elapsed_ms() < limit_ms {
            // The application writes whenever the session accepts more.
            while queued < args.size && sim.a().is_writable() {
                let n = chunk.len().min(args.size - queued);
                for (i, b) in chunk[..n].iter_mut().enumerate() {
                    *b = ((queued + i) % 251) as u8;
                }
                match sim.a_mut().send(&chunk[..n]) {
                    Ok(sent) => queued += sent,
                    Err(e) => {
                        eprintln!("send failed: {e}");
                        return ExitCode::FAILURE;
                    }
                }
            }
            sim.step();
            while let Ok(n) = sim.b_mut().recv(&mut buf) {
                for &b in &buf[..n] {
                    if b != expect {
                        eprintln!("corrupted stream at byte {received}");
                        return ExitCode::FAILURE;
                    }
                    expect = if expect == 250 { 0 } else { expect + 1 };
                    received += 1;
                }
            }
            if sim.elapsed_ms() >= next_report {
                report(&sim, received, args.size);
                next_report += 1000;
            }
        }
        report(&sim, received, args.size);
        println!("---");
        if received < args.size {
            println!(
                "did not finish within {} s of simulated time",
                limit_ms / 1000
            );
            return ExitCode::FAILURE;
        }
        let secs = sim.elapsed_ms() as f64 / 1000.0;
        let (tx, rx): (Stats, Stats) = (sim.a().stats(), sim.b().stats());
        let ab = *sim.stats(Direction::AtoB);
        let ba = *sim.stats(Direction::BtoA);
        println!(
            "done: {:.2} MB in {:.2} s simulated -> goodput {:.2} MB/s ({:.1} Mbit/s)",
            received as f64 / 1048576.0,
            secs,
            received as f64 / 1048576.0 / secs,
            received as f64 * 8.0 / 1e6 / secs
        );
        println!(
            "sender: {} segments out, {} retransmitted ({:.1}%): {} fast, {} early, {} after RTO",
            tx.out_segs,
            tx.retrans_segs,
            100.0 * tx.retrans_segs as f64 / tx.out_segs.max(1) as f64,
            tx.fast_retrans_segs,
            tx.early_retrans_segs,
            tx.lost_segs
        );
        println!(
            "FEC at the receiver: {} datagrams recovered, {} parity shards seen, {} full shard sets, {} errors",
            rx.fec_recovered, rx.fec_parity_shards, rx.fec_full_shard_set, rx.fec_errs
        );
        println!(
            "crypto: receiver rejected {} datagrams (CRC/AEAD); datagrams out A->B {} ({} lost), B->A {} ({} lost)",
            rx.in_csum_errors, ab.sent, ab.dropped_loss, ba.sent, ba.dropped_loss
        );
        println!(
            "RTT: srtt {} ms, rto {} ms; receiver saw {} duplicate segments; every byte checked in order",
            sim.a().kcp().srtt(),
            sim.a().kcp().rto(),
            rx.repeat_segs
        );
        ExitCode::SUCCESS
    }

    fn report(sim: &Sim<Connection, Connection>, received: usize, total: usize) {
        let secs = sim.elapsed_ms() as f64 / 1000.0;
        let (tx, rx) = (sim.a().stats(), sim.b().stats());
        println!(
            "t={:>6.1}s  {:>6.2}/{:.2} MB ({:>5.1}%)  {:>7.2} MB/s  retrans {:>6}  fec recovered {:>5}  srtt {:>4} ms  rto {:>4} ms",
            secs,
            received as f64 / 1048576.0,
            total as f64 / 1048576.0,
            100.0 * received as f64 / total as f64,
            received as f64 / 1048576.0 / secs.max(0.001),
            tx.retrans_segs,
            rx.fec_recovered,
            sim.a().kcp().srtt(),
            sim.a().kcp().rto()
        );
    }
}

/// `--udp`: the same transfer over real loopback sockets through the std
/// adapter, with an in-process relay adding loss and delay.
#[cfg(feature = "sim")]
mod udp {
    use std::collections::VecDeque;
    use std::io::{Read, Write};
    use std::net::{SocketAddr, UdpSocket};
    use std::process::ExitCode;
    use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};
    use std::thread;
    use std::time::{Duration, Instant};

    use kcp_session::SessionConfig;
    use kcp_session::net::{KcpListener, KcpStream};

    /// xorshift64*: the relay's seeded fate of every datagram.
    struct Rng(u64);
    impl Rng {
        fn next_f64(&mut self) -> f64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
        }
    }

    /// What the relay does to each datagram of one direction.
    #[derive(Clone, Copy)]
    struct Impair {
        loss: f64,
        delay: Duration,
        jitter_ms: u32,
        seed: u64,
    }

    #[derive(Default)]
    struct RelayStats {
        forwarded: AtomicU64,
        dropped: AtomicU64,
    }

    /// One direction of the relay: receive on `rx`, hold each datagram for
    /// the one-way delay (or drop it), then send it from `tx` to `to()`.
    fn pipe(
        rx: UdpSocket,
        tx: UdpSocket,
        to: impl Fn(SocketAddr) -> Option<SocketAddr> + Send + 'static,
        imp: Impair,
        stop: Arc<AtomicBool>,
        stats: Arc<RelayStats>,
    ) -> thread::JoinHandle<()> {
        thread::spawn(move || {
            let Impair {
                loss,
                delay,
                jitter_ms,
                seed,
            } = imp;
            let mut rng = Rng(seed | 1);
            let mut held: VecDeque<(Instant, SocketAddr, Vec<u8>)> = VecDeque::new();
            let mut buf = vec![0u8; 2048];
            while !stop.load(Ordering::Relaxed) {
                let now = Instant::now();
                while held.front().is_some_and(|(due, _, _)| *due <= now) {
                    let (_, dst, d) = held.pop_front().expect("front");
                    let _ = tx.send_to(&d, dst);
                    stats.forwarded.fetch_add(1, Ordering::Relaxed);
                }
                let wait = held
                    .front()
                    .map(|(due, _, _)| due.saturating_duration_since(now))
                    .unwrap_or(Duration::from_millis(5))
                    .clamp(Duration::from_micros(200), Duration::from_millis(5));
                let _ = rx.set_read_timeout(Some(wait));
                if let Ok((n, from)) = rx.recv_from(&mut buf) {
                    let Some(dst) = to(from) else { continue };
                    if rng.next_f64() < loss {
                        stats.dropped.fetch_add(1, Ordering::Relaxed);
                        continue;
                    }
                    let extra = (rng.next_f64() * f64::from(jitter_ms)) as u64;
                    let due = Instant::now() + delay + Duration::from_millis(extra);
                    // Keep the queue ordered by due time (jitter reorders).
                    let at = held.partition_point(|(d, _, _)| *d <= due);
                    held.insert(at, (due, dst, buf[..n].to_vec()));
                }
            }
        })
    }

    pub(crate) fn run(
        cfg: &SessionConfig,
        size: usize,
        loss_pct: f64,
        rtt_ms: u32,
        jitter_ms: u32,
        seed: u64,
    ) -> ExitCode {
        match try_run(cfg, size, loss_pct / 100.0, rtt_ms, jitter_ms, seed) {
            Ok(code) => code,
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        }
    }

    fn try_run(
        cfg: &SessionConfig,
        size: usize,
        loss: f64,
        rtt_ms: u32,
        jitter_ms: u32,
        seed: u64,
    ) -> std::io::Result<ExitCode> {
        let listener = KcpListener::bind("127.0.0.1:0", cfg.clone())?;
        let server_addr = listener.local_addr();
        // Relay: the client talks to `front`, the listener sees `back`.
        let front = UdpSocket::bind("127.0.0.1:0")?;
        let back = UdpSocket::bind("127.0.0.1:0")?;
        // A window-sized burst must not overflow the relay's own sockets:
        // only the configured loss should drop datagrams.
        for s in [&front, &back] {
            let s = socket2::SockRef::from(s);
            s.set_recv_buffer_size(8 << 20)?;
            s.set_send_buffer_size(8 << 20)?;
        }
        let relay_addr = front.local_addr()?;
        let client_addr: Arc<Mutex<Option<SocketAddr>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let (up, down) = (
            Arc::new(RelayStats::default()),
            Arc::new(RelayStats::default()),
        );
        let imp = Impair {
            loss,
            delay: Duration::from_millis(u64::from(rtt_ms / 2)),
            jitter_ms,
            seed,
        };
        let remember = client_addr.clone();
        let a = pipe(
            front.try_clone()?,
            back.try_clone()?,
            move |from| {
                *remember.lock().expect("relay lock") = Some(from);
                Some(server_addr)
            },
            imp,
            stop.clone(),
            up.clone(),
        );
        let client_of = client_addr.clone();
        let b = pipe(
            back,
            front,
            move |_| *client_of.lock().expect("relay lock"),
            Impair {
                seed: seed.wrapping_mul(0x9E37_79B9),
                ..imp
            },
            stop.clone(),
            down.clone(),
        );

        println!(
            "kcp-rs session transfer over real UDP on 127.0.0.1: {:.2} MB through a relay with \
             {}% loss each way, RTT {} ms (+0..{} ms jitter); listener {server_addr}, relay {relay_addr}",
            size as f64 / 1048576.0,
            loss * 100.0,
            rtt_ms,
            jitter_ms
        );
        let received = Arc::new(AtomicUsize::new(0));
        let got = received.clone();
        let server = thread::spawn(move || -> std::io::Result<(bool, kcp_session::Stats)> {
            let (stream, _) = listener.accept_timeout(Duration::from_secs(10))?;
            stream.set_read_timeout(Some(Duration::from_secs(30)))?;
            let mut buf = vec![0u8; 64 * 1024];
            let mut expect: u8 = 0;
            let mut ok = true;
            while got.load(Ordering::Relaxed) < size {
                let n = (&stream).read(&mut buf)?;
                if n == 0 {
                    break;
                }
                for &b in &buf[..n] {
                    ok &= b == expect;
                    expect = if expect == 250 { 0 } else { expect + 1 };
                }
                got.fetch_add(n, Ordering::Relaxed);
            }
            Ok((ok, stream.stats()))
        });

        let t0 = Instant::now();
        let client = KcpStream::connect(relay_addr, cfg.clone())?;
        client.set_write_timeout(Some(Duration::from_secs(30)))?;
        let writer = {
            let client = client.try_clone()?;
            thread::spawn(move || -> std::io::Result<()> {
                let mut chunk = vec![0u8; 64 * 1024];
                let mut sent = 0usize;
                while sent < size {
                    let n = chunk.len().min(size - sent);
                    for (i, b) in chunk[..n].iter_mut().enumerate() {
                        *b = ((sent + i) % 251) as u8;
                    }
                    (&client).write_all(&chunk[..n])?;
                    sent += n;
                }
                Ok(())
            })
        };
        let mut next = Duration::from_secs(1);
        while !server.is_finished() && t0.elapsed() < Duration::from_secs(600) {
            thread::sleep(Duration::from_millis(50));
            if t0.elapsed() >= next {
                let r = received.load(Ordering::Relaxed);
                let s = client.stats();
                println!(
                    "t={:>6.1}s  {:>6.2}/{:.2} MB ({:>5.1}%)  {:>7.2} MB/s  retrans {:>6}",
                    t0.elapsed().as_secs_f64(),
                    r as f64 / 1048576.0,
                    size as f64 / 1048576.0,
                    100.0 * r as f64 / size as f64,
                    r as f64 / 1048576.0 / t0.elapsed().as_secs_f64(),
                    s.retrans_segs
                );
                next += Duration::from_secs(1);
            }
        }
        let secs = t0.elapsed().as_secs_f64();
        let (ok, rx) = server.join().expect("server thread")?;
        writer.join().expect("writer thread")?;
        let tx = client.stats();
        let r = received.load(Ordering::Relaxed);
        stop.store(true, Ordering::Relaxed);
        let _ = (a.join(), b.join());
        println!("---");
        if r < size || !ok {
            println!("incomplete or corrupted: {r} of {size} bytes, content ok: {ok}");
            return Ok(ExitCode::FAILURE);
        }
        println!(
            "done: {:.2} MB in {:.2} s wall clock -> goodput {:.2} MB/s ({:.1} Mbit/s)",
            r as f64 / 1048576.0,
            secs,
            r as f64 / 1048576.0 / secs,
            r as f64 * 8.0 / 1e6 / secs
        );
        println!(
            "client: {} segments out, {} retransmitted: {} fast, {} early, {} after RTO; {} datagrams out",
            tx.out_segs,
            tx.retrans_segs,
            tx.fast_retrans_segs,
            tx.early_retrans_segs,
            tx.lost_segs,
            tx.out_pkts
        );
        println!(
            "server: {} datagrams in, FEC recovered {}, CRC/AEAD rejects {}, duplicate segments {}",
            rx.in_pkts, rx.fec_recovered, rx.in_csum_errors, rx.repeat_segs
        );
        println!(
            "relay: client->server {} forwarded, {} dropped; server->client {} forwarded, {} dropped; every byte checked in order",
            up.forwarded.load(Ordering::Relaxed),
            up.dropped.load(Ordering::Relaxed),
            down.forwarded.load(Ordering::Relaxed),
            down.dropped.load(Ordering::Relaxed)
        );
        Ok(ExitCode::SUCCESS)
    }
}
