//! Moves data through the in-process simulated lossy network and prints
//! what happened: progress, goodput, retransmissions, RTT.
//!
//! ```text
//! cargo run --release -p kcp-core --features sim --example transfer -- --help
//! ```

use std::process::ExitCode;

use kcp_core::sim::{Direction, LinkConfig, Sim, SimConfig};
use kcp_core::{Config, Kcp, Profile, Timestamp};

struct Args {
    loss: f64,
    rtt_ms: u32,
    jitter_ms: u32,
    size: usize,
    mode: String,
    profile: Profile,
    window: u32,
    seed: u64,
    bandwidth: Option<u64>,
}

const HELP: &str = "\
transfer: one-way bulk transfer through the deterministic simulated network

  --loss PCT        random loss per direction, percent        [5]
  --rtt MS          round-trip time (one-way delay = RTT/2)   [40]
  --jitter MS       extra random one-way delay, 0..MS         [0]
  --size MB         megabytes to move (decimals allowed)      [4]
  --mode NAME       normal | fast | fast2 | fast3 (kcptun presets),
                    default (kcp-go 0,100,0,0) or N,I,R,C      [fast3]
  --profile NAME    kcp-go | ikcp (timing behaviour)          [kcp-go]
  --window N        send and receive window, segments         [256]
  --bandwidth MBPS  bottleneck bandwidth in megabytes/s       [unlimited]
  --seed N          simulator seed (same seed, same run)      [1]
";

fn parse() -> Result<Args, String> {
    let mut a = Args {
        loss: 5.0,
        rtt_ms: 40,
        jitter_ms: 0,
        size: 4 << 20,
        mode: "fast3".into(),
        profile: Profile::KcpGo,
        window: 256,
        seed: 1,
        bandwidth: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--help" || flag == "-h" {
            return Err(String::new());
        }
        let val = it.next().ok_or(format!("{flag} needs a value"))?;
        let num = |v: &str| v.parse::<f64>().map_err(|e| format!("{flag}: {e}"));
        match flag.as_str() {
            "--loss" => a.loss = num(&val)?,
            "--rtt" => a.rtt_ms = num(&val)? as u32,
            "--jitter" => a.jitter_ms = num(&val)? as u32,
            "--size" => a.size = (num(&val)? * 1048576.0) as usize,
            "--mode" => a.mode = val,
            "--window" => a.window = num(&val)? as u32,
            "--seed" => a.seed = num(&val)? as u64,
            "--bandwidth" => a.bandwidth = Some((num(&val)? * 1048576.0) as u64),
            "--profile" => {
                a.profile = match val.as_str() {
                    "kcp-go" | "kcpgo" => Profile::KcpGo,
                    "ikcp" => Profile::Ikcp,
                    p => return Err(format!("unknown profile {p}")),
                }
            }
            f => return Err(format!("unknown flag {f}")),
        }
    }
    if !(0.0..100.0).contains(&a.loss) {
        return Err("--loss must be in 0..100".into());
    }
    Ok(a)
}

fn nodelay(mode: &str) -> Result<(i32, i32, i32, i32), String> {
    Ok(match mode {
        "normal" => (0, 40, 2, 1),
        "fast" => (0, 30, 2, 1),
        "fast2" => (1, 20, 2, 1),
        "fast3" => (1, 10, 2, 1),
        "default" => (0, 100, 0, 0),
        custom => {
            let v: Vec<i32> = custom
                .split(',')
                .map(|s| s.trim().parse().map_err(|_| format!("bad --mode {custom}")))
                .collect::<Result<_, _>>()?;
            match v[..] {
                [n, i, r, c] => (n, i, r, c),
                _ => return Err(format!("--mode needs 4 numbers, got {custom}")),
            }
        }
    })
}

fn main() -> ExitCode {
    let args = match parse() {
        Ok(a) => a,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("error: {e}\n");
            }
            eprint!("{HELP}");
            return if e.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            };
        }
    };
    let (nd, iv, rs, nc) = match nodelay(&args.mode) {
        Ok(q) => q,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut cfg = Config::with_profile(args.profile);
    cfg.set_nodelay(nd, iv, rs, nc)
        .set_window(args.window as i32, args.window as i32)
        .set_stream(true);
    let start = Timestamp::from_millis(0);
    let conv = 0x4B43_5052;
    let sender = Kcp::new(conv, cfg.clone(), start);
    let receiver = Kcp::new(conv, cfg, start);

    let mut link = LinkConfig::lossy(args.loss / 100.0, args.rtt_ms / 2).jitter_ms(args.jitter_ms);
    if let Some(bw) = args.bandwidth {
        link = link.bandwidth(bw);
    }
    let sim_cfg = SimConfig::new().seed(args.seed).start(start).link(link);
    let mut sim = Sim::with_config(sender, receiver, sim_cfg);

    println!(
        "kcp-rs transfer: {:.2} MB, loss {}% each way, RTT {} ms (+0..{} ms jitter), \
         mode {} = nodelay({nd},{iv},{rs},{nc}), window {}, profile {:?}, seed {}",
        args.size as f64 / 1048576.0,
        args.loss,
        args.rtt_ms,
        args.jitter_ms,
        args.mode,
        args.window,
        args.profile,
        args.seed
    );

    let chunk = vec![0u8; 64 * 1024];
    let mut queued = 0usize;
    let mut received = 0usize;
    let mut expect: u8 = 0; // content check: byte i is (i mod 251)
    let mut buf = vec![0u8; 1 << 20];
    let mut next_report = 1000u64;
    let limit_ms = 3_600_000u64;
    let mut payload = chunk;
    while received < args.size && sim.elapsed_ms() < limit_ms {
        // The application writes whenever the send window has room.
        let snd_wnd = sim.a().config().snd_wnd() as usize;
        while queued < args.size && sim.a().wait_snd() < 2 * snd_wnd {
            let n = payload.len().min(args.size - queued);
            for (i, b) in payload[..n].iter_mut().enumerate() {
                *b = ((queued + i) % 251) as u8;
            }
            let sent = sim.a_mut().send(&payload[..n]).expect("stream send");
            queued += sent;
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
    let secs = sim.elapsed_ms() as f64 / 1000.0;
    let s = sim.a().stats();
    let ab = *sim.stats(Direction::AtoB);
    let ba = *sim.stats(Direction::BtoA);
    println!("---");
    if received < args.size {
        println!(
            "did not finish within {} s of simulated time",
            limit_ms / 1000
        );
        return ExitCode::FAILURE;
    }
    println!(
        "done: {:.2} MB in {:.2} s simulated -> goodput {:.2} MB/s ({:.1} Mbit/s)",
        received as f64 / 1048576.0,
        secs,
        received as f64 / 1048576.0 / secs,
        received as f64 * 8.0 / 1e6 / secs
    );
    println!(
        "sender: {} segments out, {} retransmitted ({:.1}%): {} fast, {} early, {} after RTO",
        s.out_segs,
        s.retrans_segs,
        100.0 * s.retrans_segs as f64 / s.out_segs.max(1) as f64,
        s.fast_retrans_segs,
        s.early_retrans_segs,
        s.lost_segs
    );
    println!(
        "link A->B: {} datagrams sent, {} lost; B->A: {} sent, {} lost",
        ab.sent, ab.dropped_loss, ba.sent, ba.dropped_loss
    );
    println!(
        "RTT: srtt {} ms, rto {} ms; receiver saw {} duplicate segments; every byte checked in order",
        sim.a().srtt(),
        sim.a().rto(),
        sim.b().stats().repeat_segs
    );
    ExitCode::SUCCESS
}

fn report(sim: &Sim<Kcp, Kcp>, received: usize, total: usize) {
    let secs = sim.elapsed_ms() as f64 / 1000.0;
    let s = sim.a().stats();
    println!(
        "t={:>6.1}s  {:>6.2}/{:.2} MB ({:>5.1}%)  {:>7.2} MB/s  retrans {:>6}  srtt {:>4} ms  rto {:>4} ms  cwnd {:>4}",
        secs,
        received as f64 / 1048576.0,
        total as f64 / 1048576.0,
        100.0 * received as f64 / total as f64,
        received as f64 / 1048576.0 / secs.max(0.001),
        s.retrans_segs,
        sim.a().srtt(),
        sim.a().rto(),
        sim.a().state().cwnd
    );
}
