//! Differential tests of `Profile::Ikcp` against the classic C `ikcp.c`
//! (bundled by the `kcp-io` dev-dependency), and interop of both profiles
//! with the C code over the deterministic simulator.
//!
//! * Lock-step: two Rust endpoints and two C endpoints receive identical
//!   calls at identical virtual times over one seeded lossy, reordering,
//!   duplicating link; every datagram must be byte-identical, every received
//!   message identical, and the protocol variables equal after every call.
//! * Interop: kcp-core (both profiles) and C ikcp talk to each other through
//!   `kcp_core::sim` with loss and jitter; everything is delivered once, in
//!   order.
//! * Sanity: the kcp-go profile does diverge from C ikcp in lock-step, so the
//!   harness is able to fail.
//!
//! Everything is a pure function of the seeds: no wall clock, no sleeps.
#![cfg(feature = "sim")]

mod ikcp_ffi;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::fmt::Write as _;

use ikcp_ffi::CKcp;
use kcp_core::sim::{Direction, Endpoint, LinkConfig, Sim, SimConfig};
use kcp_core::{Config, InputError, Kcp, Profile, RecvError, SendError, Timestamp};

const CONV: u32 = 0x1234_5678;
const CMD_PUSH: u8 = 81;
const CMD_WASK: u8 = 83;
const CMD_WINS: u8 = 84;

// ----------------------------------------------------------------------
// Helpers
// ----------------------------------------------------------------------

/// xorshift64*: a tiny deterministic RNG for the test's own choices.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }

    fn chance(&mut self, p: f64) -> bool {
        ((self.next() >> 11) as f64 / (1u64 << 53) as f64) < p
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        let mut v = Vec::with_capacity(n + 8);
        while v.len() < n {
            v.extend_from_slice(&self.next().to_le_bytes());
        }
        v.truncate(n);
        v
    }
}

fn ts(ms: u32) -> Timestamp {
    Timestamp::from_millis(ms)
}

/// One-line-per-segment description of a datagram.
fn describe(d: &[u8]) -> String {
    let mut s = String::new();
    let mut rest = d;
    while rest.len() >= 24 {
        let u32_at = |i: usize| u32::from_le_bytes(rest[i..i + 4].try_into().unwrap());
        let len = u32_at(20);
        let _ = writeln!(
            s,
            "    cmd={} frg={} wnd={} ts={} sn={} una={} len={}",
            rest[4],
            rest[5],
            u16::from_le_bytes([rest[6], rest[7]]),
            u32_at(8),
            u32_at(12),
            u32_at(16),
            len
        );
        let skip = (24 + len as usize).min(rest.len());
        rest = &rest[skip..];
    }
    if !rest.is_empty() {
        let _ = writeln!(s, "    + {} trailing bytes", rest.len());
    }
    s
}

fn diff_datagrams(rs: &[Vec<u8>], c: &[Vec<u8>]) -> String {
    let mut s = format!("rust emitted {} datagrams, C {}\n", rs.len(), c.len());
    for i in 0..rs.len().max(c.len()) {
        let (r, cc) = (rs.get(i), c.get(i));
        if r != cc {
            let _ = writeln!(s, "first difference in datagram #{i}:");
            let _ = write!(
                s,
                "  rust:\n{}",
                r.map_or("    (none)\n".into(), |d| describe(d))
            );
            let _ = write!(
                s,
                "  C:\n{}",
                cc.map_or("    (none)\n".into(), |d| describe(d))
            );
            break;
        }
    }
    s
}

/// Counts of the commands seen in datagrams.
#[derive(Clone, Copy, Debug, Default)]
struct CmdCount {
    push: u64,
    ack: u64,
    wask: u64,
    wins: u64,
}

impl CmdCount {
    fn add(&mut self, d: &[u8]) {
        let mut rest = d;
        while rest.len() >= 24 {
            match rest[4] {
                CMD_PUSH => self.push += 1,
                CMD_WASK => self.wask += 1,
                CMD_WINS => self.wins += 1,
                _ => self.ack += 1,
            }
            let len = u32::from_le_bytes(rest[20..24].try_into().unwrap()) as usize;
            rest = &rest[(24 + len).min(rest.len())..];
        }
    }
}

// ----------------------------------------------------------------------
// Lock-step harness
// ----------------------------------------------------------------------

/// Settings applied identically to the Rust and the C endpoints.
#[derive(Clone, Copy, Debug)]
struct Settings {
    nodelay: Option<(i32, i32, i32, i32)>,
    wnd: Option<(i32, i32)>,
    mtu: Option<u32>,
    stream: bool,
    dead_link: Option<u32>,
    fastlimit: Option<i32>,
}

impl Settings {
    const DEFAULT: Settings = Settings {
        nodelay: None,
        wnd: None,
        mtu: None,
        stream: false,
        dead_link: None,
        fastlimit: None,
    };

    fn rust_config(&self, profile: Profile) -> Config {
        let mut cfg = Config::with_profile(profile);
        if let Some((nd, iv, rs, nc)) = self.nodelay {
            cfg.set_nodelay(nd, iv, rs, nc);
        }
        if let Some((snd, rcv)) = self.wnd {
            cfg.set_window(snd, rcv);
        }
        if let Some(mtu) = self.mtu {
            cfg.set_mtu(mtu).expect("valid mtu");
        }
        cfg.set_stream(self.stream);
        if let Some(x) = self.dead_link {
            cfg.set_dead_link(x);
        }
        if let Some(x) = self.fastlimit {
            cfg.set_fastlimit(x);
        }
        cfg
    }

    fn c_kcp(&self) -> CKcp {
        let mut c = CKcp::new(CONV);
        if let Some((nd, iv, rs, nc)) = self.nodelay {
            c.nodelay(nd, iv, rs, nc);
        }
        if let Some((snd, rcv)) = self.wnd {
            c.wndsize(snd, rcv);
        }
        if let Some(mtu) = self.mtu {
            assert_eq!(c.setmtu(mtu as i32), 0);
        }
        c.set_stream(self.stream);
        if let Some(x) = self.dead_link {
            c.set_dead_link(x);
        }
        if let Some(x) = self.fastlimit {
            c.set_fastlimit(x);
        }
        c
    }
}

/// How the event loop calls `update`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tick {
    /// `update(now)` on all four endpoints every millisecond.
    EveryMs,
    /// Only when C's `ikcp_check` says so.
    AtCheck,
    /// Only when the Rust endpoint's `poll_timeout` says so.
    AtPollTimeout,
}

#[derive(Clone, Debug)]
struct Scenario {
    name: &'static str,
    seed: u64,
    /// Virtual clock at the start.
    start: u32,
    settings: Settings,
    /// Profile of the Rust endpoints (`Ikcp` except in the sanity test).
    profile: Profile,
    /// Compare state, return codes and received data, not only datagrams.
    full: bool,
    duration_ms: u64,
    /// Applications stop sending at this elapsed time.
    send_until_ms: u64,
    /// Per-millisecond chance that A (resp. B) sends a message.
    a_send: f64,
    b_send: f64,
    max_msg: usize,
    /// Chance that a send is empty, resp. larger than any legal message.
    empty: f64,
    oversize: f64,
    /// No sends while `wait_snd` is at least this.
    max_wait_snd: usize,
    loss: f64,
    delay_ms: (u64, u64),
    duplicate: f64,
    /// Chance that a delivered datagram is damaged (truncated, wrong conv,
    /// bad command, oversized length).
    corrupt: f64,
    /// Chance that a delivered datagram gets a bogus (but well-formed)
    /// `frg`, `wnd`, `ts`, `sn` or `una` in one segment. Message contents
    /// are then not checked.
    fuzz: f64,
    tick: Tick,
    /// B's application does not read in this elapsed-time window.
    b_pause: Option<(u64, u64)>,
    /// Per-millisecond chance of an explicit `flush(now)` on A.
    flush: f64,
    /// Chance that a `recv` uses a small buffer.
    small_buf: f64,
    /// Every datagram sent in this elapsed-time window is lost (a partition).
    outage: Option<(u64, u64)>,
    /// Nobody is called in this window (a stalled process): the clock jumps.
    freeze: Option<(u64, u64)>,
    /// Settings changed on the fly on all four endpoints at these times.
    reconf: Vec<(u64, Reconf)>,
    /// Require everything sent to be read by the end (else: a prefix).
    complete: bool,
}

/// A configuration change applied on the fly.
#[derive(Clone, Copy, Debug)]
enum Reconf {
    Nodelay(i32, i32, i32, i32),
    Window(i32, i32),
    Mtu(u32),
    Stream(bool),
}

impl Scenario {
    fn new(name: &'static str, seed: u64) -> Scenario {
        Scenario {
            name,
            seed,
            start: 0,
            settings: Settings::DEFAULT,
            profile: Profile::Ikcp,
            full: true,
            duration_ms: 30_000,
            send_until_ms: 15_000,
            a_send: 0.03,
            b_send: 0.005,
            max_msg: 5000,
            empty: 0.0,
            oversize: 0.0,
            max_wait_snd: 256,
            loss: 0.1,
            delay_ms: (5, 50),
            duplicate: 0.01,
            corrupt: 0.0,
            fuzz: 0.0,
            tick: Tick::EveryMs,
            b_pause: None,
            flush: 0.0,
            small_buf: 0.0,
            outage: None,
            freeze: None,
            reconf: Vec::new(),
            complete: true,
        }
    }
}

#[derive(Debug, Default)]
struct Report {
    datagrams: [u64; 2],
    dropped: u64,
    cmds: [CmdCount; 2],
    messages: [usize; 2],
    bytes: [usize; 2],
    max_rcv_queue: usize,
    min_rmt_wnd: u32,
    send_errors: u64,
    input_errors: u64,
    /// Some endpoint reached `dead_link` transmissions of a segment.
    dead: bool,
}

/// A Rust endpoint and a C endpoint that get identical calls.
struct Pair {
    label: &'static str,
    rs: Kcp,
    c: CKcp,
    full: bool,
    rbuf: Vec<u8>,
    cbuf: Vec<u8>,
}

fn rust_send_code(r: Result<usize, SendError>) -> i32 {
    match r {
        Ok(n) => n as i32,
        Err(SendError::TooManyFragments { .. }) => -2,
        Err(_) => -100,
    }
}

fn rust_recv_code(r: Result<usize, RecvError>) -> i32 {
    match r {
        Ok(n) => n as i32,
        Err(RecvError::Empty) => -1,
        Err(RecvError::Incomplete) => -2,
        Err(RecvError::BufferTooSmall { .. }) => -3,
    }
}

fn rust_input_code(r: Result<(), InputError>) -> i32 {
    match r {
        Ok(()) => 0,
        Err(InputError::TooShort | InputError::ConvMismatch { .. }) => -1,
        Err(InputError::Truncated) => -2,
        Err(InputError::UnknownCommand(_)) => -3,
    }
}

impl Pair {
    fn new(label: &'static str, s: &Scenario) -> Pair {
        let rs = Kcp::new(CONV, s.settings.rust_config(s.profile), ts(s.start));
        let mut c = s.settings.c_kcp();
        c.set_current(s.start);
        let big = 256 * 1400;
        Pair {
            label,
            rs,
            c,
            full: s.full,
            rbuf: vec![0; big],
            cbuf: vec![0; big],
        }
    }

    fn err(&self, now: u32, what: &str, detail: impl std::fmt::Display) -> String {
        format!("[{} now={now}] {what}: {detail}", self.label)
    }

    /// Takes both endpoints' datagrams and requires them to be identical.
    fn outputs(&mut self, now: u32, what: &str) -> Result<Vec<Vec<u8>>, String> {
        let mut rs = Vec::new();
        while let Some(t) = self.rs.poll_transmit() {
            rs.push(t.payload().to_vec());
        }
        let c = self.c.drain_output();
        if rs != c {
            return Err(self.err(now, what, diff_datagrams(&rs, &c)));
        }
        Ok(c)
    }

    /// Compares every protocol variable both sides expose.
    fn check(&self, now: u32, what: &str) -> Result<(), String> {
        if !self.full {
            return Ok(());
        }
        let r = self.rs.state();
        let c = self.c.state();
        let mut diffs = String::new();
        macro_rules! cmp {
            ($name:expr, $rv:expr, $cv:expr) => {
                if $rv != $cv {
                    let _ = write!(diffs, " {}: rust={:?} C={:?};", $name, $rv, $cv);
                }
            };
        }
        cmp!("snd_una", r.snd_una, c.snd_una);
        cmp!("snd_nxt", r.snd_nxt, c.snd_nxt);
        cmp!("rcv_nxt", r.rcv_nxt, c.rcv_nxt);
        cmp!("rx_srtt", r.rx_srtt, c.rx_srtt);
        cmp!("rx_rttvar", r.rx_rttvar, c.rx_rttvar);
        cmp!("rx_rto", r.rx_rto, c.rx_rto);
        cmp!("cwnd", r.cwnd, c.cwnd);
        cmp!("ssthresh", r.ssthresh, c.ssthresh);
        cmp!("incr", r.incr, c.incr);
        cmp!("rmt_wnd", r.rmt_wnd, c.rmt_wnd);
        cmp!("probe_wait", r.probe_wait, c.probe_wait);
        cmp!("ts_probe", r.ts_probe, c.ts_probe);
        cmp!("snd_queue", r.snd_queue, c.nsnd_que as usize);
        cmp!("rcv_queue", r.rcv_queue, c.nrcv_que as usize);
        cmp!("rcv_buf", r.rcv_buf, c.nrcv_buf as usize);
        cmp!("acklist", r.acklist, c.ackcount as usize);
        cmp!(
            "wait_snd",
            self.rs.wait_snd(),
            c.nsnd_buf as usize + c.nsnd_que as usize
        );
        cmp!("dead", self.rs.is_dead(), c.dead);
        let peek = self.rs.peek_size().map_or(-1, |n| n as i32);
        cmp!("peek_size", peek, self.c.peeksize());
        // `poll_timeout` is ikcp's next interval flush (`ts_flush`), or now.
        let expect = if !c.updated || (c.current.wrapping_sub(c.ts_flush) as i32) >= 0 {
            c.current
        } else {
            c.ts_flush
        };
        cmp!("poll_timeout", self.rs.poll_timeout(), Some(ts(expect)));
        if diffs.is_empty() {
            Ok(())
        } else {
            Err(self.err(now, what, format!("state differs:{diffs}")))
        }
    }

    fn update(&mut self, now: u32) -> Result<Vec<Vec<u8>>, String> {
        self.rs.handle_timeout(ts(now));
        self.c.update(now);
        let out = self.outputs(now, "update")?;
        self.check(now, "update")?;
        Ok(out)
    }

    fn flush(&mut self, now: u32) -> Result<Vec<Vec<u8>>, String> {
        let rs_delay = self.rs.flush(ts(now));
        self.c.flush(now);
        let out = self.outputs(now, "flush")?;
        let c_delay = self.c.check(now).wrapping_sub(now);
        if self.full && rs_delay != c_delay {
            return Err(self.err(
                now,
                "flush",
                format!("next-flush delay rust={rs_delay} C ikcp_check={c_delay}"),
            ));
        }
        self.check(now, "flush")?;
        Ok(out)
    }

    fn input(&mut self, d: &[u8], now: u32) -> Result<bool, String> {
        let r = rust_input_code(self.rs.input(d, ts(now)));
        let c = self.c.input(d, now);
        if self.full && r != c {
            return Err(self.err(now, "input", format!("status rust={r} C={c}")));
        }
        let out = self.outputs(now, "input")?;
        if !out.is_empty() {
            return Err(self.err(now, "input", "ikcp never transmits from input"));
        }
        self.check(now, "input")?;
        Ok(c == 0)
    }

    /// Sends `msg` on both; returns the bytes accepted (or the C status).
    fn send(&mut self, msg: &[u8], now: u32) -> Result<i32, String> {
        let r = rust_send_code(self.rs.send(msg));
        let c = self.c.send(msg);
        if self.full && r != c {
            return Err(self.err(now, "send", format!("{} bytes: rust={r} C={c}", msg.len())));
        }
        self.check(now, "send")?;
        Ok(c)
    }

    /// Reads every complete message from both; they must be identical.
    fn recv_all(&mut self, now: u32, rng: &mut Rng, small: f64) -> Result<Vec<Vec<u8>>, String> {
        let mut got = Vec::new();
        if !self.full {
            while let Ok(n) = self.rs.recv(&mut self.rbuf) {
                got.push(self.rbuf[..n].to_vec());
            }
            while self.c.recv(&mut self.cbuf) >= 0 {}
            return Ok(got);
        }
        let mut retry_full = false;
        loop {
            let len = if !retry_full && rng.chance(small) {
                rng.range(1, 1500) as usize
            } else {
                self.rbuf.len()
            };
            let r = rust_recv_code(self.rs.recv(&mut self.rbuf[..len]));
            let c = self.c.recv(&mut self.cbuf[..len]);
            if r != c {
                return Err(self.err(now, "recv", format!("buffer {len}: rust={r} C={c}")));
            }
            self.check(now, "recv")?;
            if c >= 0 {
                let n = c as usize;
                if self.rbuf[..n] != self.cbuf[..n] {
                    return Err(self.err(now, "recv", format!("{n}-byte messages differ")));
                }
                got.push(self.rbuf[..n].to_vec());
                retry_full = false;
            } else if c == -3 {
                retry_full = true;
            } else {
                return Ok(got);
            }
        }
    }

    fn reconfigure(&mut self, r: Reconf, now: u32) -> Result<(), String> {
        match r {
            Reconf::Nodelay(nd, iv, rs, nc) => {
                self.rs.set_nodelay(nd, iv, rs, nc);
                self.c.nodelay(nd, iv, rs, nc);
            }
            Reconf::Window(snd, rcv) => {
                self.rs.set_window(snd, rcv);
                self.c.wndsize(snd, rcv);
            }
            Reconf::Mtu(mtu) => {
                self.rs.set_mtu(mtu).expect("valid mtu");
                assert_eq!(self.c.setmtu(mtu as i32), 0);
            }
            Reconf::Stream(on) => {
                self.rs.set_stream(on);
                self.c.set_stream(on);
            }
        }
        self.check(now, "reconfigure")
    }

    /// Whether the pair wants `update` at `now` under `tick`.
    fn due(&self, tick: Tick, now: u32) -> bool {
        match tick {
            Tick::EveryMs => true,
            Tick::AtCheck => (now.wrapping_sub(self.c.check(now)) as i32) >= 0,
            Tick::AtPollTimeout => self.rs.poll_timeout().is_none_or(|t| ts(now).reached(t)),
        }
    }
}

/// Damages a datagram in one of the ways `ikcp_input` rejects.
fn corrupt(d: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut d = d.to_vec();
    // Pick a segment boundary to damage (not always the first segment, so
    // that partially applied datagrams are compared too).
    let mut starts = Vec::new();
    let mut i = 0;
    while i + 24 <= d.len() {
        starts.push(i);
        let len = u32::from_le_bytes(d[i + 20..i + 24].try_into().unwrap()) as usize;
        i += 24 + len;
    }
    let at = starts[rng.range(0, starts.len() as u64 - 1) as usize];
    match rng.range(0, 4) {
        0 => d.truncate(rng.range(0, d.len() as u64 - 1) as usize),
        1 => d[at] ^= 0x5A,      // conv
        2 => d[at + 4] = 0x63,   // unknown command
        3 => d[at + 22] = 0x7F,  // length far beyond the datagram
        _ => d[at + 23] ^= 0x80, // negative length as a C int
    }
    d
}

/// Replaces one header field of one segment with a bogus value.
fn fuzz(d: &mut [u8], rng: &mut Rng, now: u32) {
    let mut starts = Vec::new();
    let mut i = 0;
    while i + 24 <= d.len() {
        starts.push(i);
        let len = u32::from_le_bytes(d[i + 20..i + 24].try_into().unwrap()) as usize;
        i += 24 + len;
    }
    if starts.is_empty() {
        return;
    }
    let at = starts[rng.range(0, starts.len() as u64 - 1) as usize];
    let old = |d: &[u8], o: usize| u32::from_le_bytes(d[at + o..at + o + 4].try_into().unwrap());
    let near = |rng: &mut Rng, v: u32| v.wrapping_add(rng.range(0, 400) as u32).wrapping_sub(200);
    let put =
        |d: &mut [u8], o: usize, v: u32| d[at + o..at + o + 4].copy_from_slice(&v.to_le_bytes());
    match rng.range(0, 6) {
        0 => d[at + 5] = rng.next() as u8,
        1 => d[at + 6..at + 8].copy_from_slice(&(rng.next() as u16).to_le_bytes()),
        2 => put(d, 8, near(rng, now)),
        // Any ts: RTT samples of up to 2^31 - 1 ms.
        3 if HUGE_RTT => put(d, 8, rng.next() as u32),
        3 => put(d, 8, near(rng, now.wrapping_sub(100_000))),
        4 => {
            let v = near(rng, old(d, 12));
            put(d, 12, v);
        }
        5 => {
            let v = near(rng, old(d, 16));
            put(d, 16, v);
        }
        _ => put(d, 16, rng.next() as u32),
    }
}

type InFlight = BinaryHeap<Reverse<(u64, u64, Vec<u8>)>>;

/// Runs one scenario; `Err` describes the first divergence.
fn run_lockstep(s: &Scenario) -> Result<Report, String> {
    let mut app = Rng::new(s.seed);
    let mut wire = Rng::new(s.seed ^ 0x005E_ED0F_11AB);
    let mut a = Pair::new("A", s);
    let mut b = Pair::new("B", s);
    let mut links: [InFlight; 2] = [BinaryHeap::new(), BinaryHeap::new()];
    let mut seq = 0u64;
    let mut rep = Report {
        min_rmt_wnd: u32::MAX,
        ..Report::default()
    };
    // What each side's application had accepted, and what the other read.
    let mut sent: [Vec<Vec<u8>>; 2] = [Vec::new(), Vec::new()];
    let mut got: [Vec<Vec<u8>>; 2] = [Vec::new(), Vec::new()];
    let mut reconf = s.reconf.clone();
    reconf.sort_by_key(|&(at, _)| Reverse(at));
    let mut stream = s.settings.stream;

    for t in 0..=s.duration_ms {
        if s.freeze.is_some_and(|(from, to)| t > from && t < to) {
            continue;
        }
        let now = s.start.wrapping_add(t as u32);
        while reconf.last().is_some_and(|&(at, _)| at <= t) {
            let (_, r) = reconf.pop().expect("non-empty");
            a.reconfigure(r, now)?;
            b.reconfigure(r, now)?;
            if let Reconf::Stream(on) = r {
                stream |= on;
            }
        }
        let b_reading = s.b_pause.is_none_or(|(from, to)| t < from || t >= to);

        // 1. Deliver what is due, A→B then B→A, in arrival order.
        for dir in 0..2 {
            loop {
                match links[dir].peek() {
                    Some(Reverse((at, _, _))) if *at <= t => {}
                    _ => break,
                }
                let Reverse((_, _, mut d)) = links[dir].pop().expect("peeked");
                if s.corrupt > 0.0 && wire.chance(s.corrupt) {
                    d = corrupt(&d, &mut wire);
                }
                if s.fuzz > 0.0 && wire.chance(s.fuzz) {
                    fuzz(&mut d, &mut wire, now);
                }
                let (dst, reading) = if dir == 0 {
                    (&mut b, b_reading)
                } else {
                    (&mut a, true)
                };
                if !dst.input(&d, now)? {
                    rep.input_errors += 1;
                }
                if reading {
                    let msgs = dst.recv_all(now, &mut app, s.small_buf)?;
                    got[dir].extend(msgs);
                }
            }
        }
        if b_reading {
            got[0].extend(b.recv_all(now, &mut app, s.small_buf)?);
        }
        rep.max_rcv_queue = rep.max_rcv_queue.max(b.rs.state().rcv_queue);
        rep.min_rmt_wnd = rep.min_rmt_wnd.min(a.rs.state().rmt_wnd);
        rep.dead |= a.rs.is_dead() || b.rs.is_dead();

        // 2. The applications write.
        if t < s.send_until_ms {
            for (side, p) in [(0, s.a_send), (1, s.b_send)] {
                let pair = if side == 0 { &mut a } else { &mut b };
                if p == 0.0 || !app.chance(p) || pair.rs.wait_snd() >= s.max_wait_snd {
                    continue;
                }
                let mss = pair.rs.config().mss() as usize;
                let size = if app.chance(s.empty) {
                    0
                } else if app.chance(s.oversize) {
                    127 * mss + 1 + app.range(0, 3 * mss as u64) as usize
                } else {
                    app.range(1, s.max_msg as u64) as usize
                };
                let msg = app.bytes(size);
                let n = pair.send(&msg, now)?;
                if n < 0 || (n == 0 && size > 0) {
                    rep.send_errors += 1;
                } else {
                    sent[side].push(msg[..n as usize].to_vec());
                }
            }
        }

        // 3. Timers.
        for (dir, pair) in [(0, &mut a), (1, &mut b)] {
            let mut out = Vec::new();
            if pair.due(s.tick, now) {
                out = pair.update(now)?;
            }
            if dir == 0 && s.flush > 0.0 && app.chance(s.flush) {
                out.extend(pair.flush(now)?);
            }
            for d in out {
                rep.datagrams[dir] += 1;
                rep.cmds[dir].add(&d);
                let partitioned = s.outage.is_some_and(|(from, to)| t >= from && t < to);
                if wire.chance(s.loss) || partitioned {
                    rep.dropped += 1;
                    continue;
                }
                let copies = if wire.chance(s.duplicate) { 2 } else { 1 };
                for _ in 0..copies {
                    let at = t + wire.range(s.delay_ms.0, s.delay_ms.1);
                    links[dir].push(Reverse((at, seq, d.clone())));
                    seq += 1;
                }
            }
        }
    }

    // Everything accepted was delivered exactly once, in order (or, for
    // runs that need not complete, a prefix of it was).
    for side in 0..2 {
        let (tx, rx) = (&sent[side], &got[side]);
        let ok = match (stream, s.complete) {
            _ if s.fuzz > 0.0 => true,
            (true, true) => tx.concat() == rx.concat(),
            (true, false) => tx.concat().starts_with(&rx.concat()),
            (false, true) => tx == rx,
            (false, false) => tx.starts_with(rx),
        };
        if !ok {
            return Err(format!(
                "side {side}: sent {} messages ({} bytes), peer read {} ({} bytes)",
                tx.len(),
                tx.iter().map(Vec::len).sum::<usize>(),
                rx.len(),
                rx.iter().map(Vec::len).sum::<usize>()
            ));
        }
        rep.messages[side] = rx.len();
        rep.bytes[side] = rx.iter().map(Vec::len).sum();
    }
    Ok(rep)
}

fn lockstep(s: &Scenario) -> Report {
    match run_lockstep(s) {
        Ok(rep) => {
            eprintln!("{}: {rep:?}", s.name);
            assert!(rep.messages[0] > 0, "{}: nothing was sent", s.name);
            rep
        }
        Err(e) => panic!("{} (seed {}): divergence\n{e}", s.name, s.seed),
    }
}

// ----------------------------------------------------------------------
// 1. Lock-step tests
// ----------------------------------------------------------------------

#[test]
fn lockstep_default_config() {
    for seed in [1, 2] {
        let rep = lockstep(&Scenario {
            a_send: 0.005,
            duration_ms: 60_000,
            ..Scenario::new("default", seed)
        });
        assert!(rep.dropped > 0);
    }
}

#[test]
fn lockstep_nodelay_fast_wnd128() {
    for seed in [3, 4] {
        lockstep(&Scenario {
            settings: Settings {
                nodelay: Some((1, 10, 2, 1)),
                wnd: Some((128, 128)),
                ..Settings::DEFAULT
            },
            a_send: 0.05,
            b_send: 0.02,
            loss: 0.2,
            ..Scenario::new("nodelay(1,10,2,1) wnd 128", seed)
        });
    }
}

#[test]
fn lockstep_normal_interval_40() {
    lockstep(&Scenario {
        settings: Settings {
            nodelay: Some((0, 40, 0, 0)),
            ..Settings::DEFAULT
        },
        tick: Tick::AtCheck,
        flush: 0.002,
        ..Scenario::new("nodelay(0,40,0,0) at check", 5)
    });
}

#[test]
fn lockstep_nodelay_mtu576() {
    lockstep(&Scenario {
        settings: Settings {
            nodelay: Some((1, 20, 2, 1)),
            mtu: Some(576),
            ..Settings::DEFAULT
        },
        tick: Tick::AtPollTimeout,
        a_send: 0.04,
        b_send: 0.01,
        loss: 0.05,
        empty: 0.02,
        oversize: 0.01,
        small_buf: 0.2,
        ..Scenario::new("nodelay(1,20,2,1) mtu 576", 6)
    });
}

/// Messages whose segments end exactly at, one byte short of, or one byte
/// past the room a bare header (or a one-byte segment) needs: every pair
/// and a trailing ACK-only answer must be packed into datagrams exactly as
/// ikcp packs them. A segment that fills a datagram alone may leave from
/// its own buffer (the zero-copy path); one that leaves room for an empty
/// message behind it must not.
#[test]
fn packing_at_datagram_boundaries_matches_ikcp() {
    for mtu in [1400u32, 576, 100] {
        let s = Scenario {
            settings: Settings {
                // No congestion window: ikcp's first flush sends nothing
                // with one (cwnd starts at 0).
                nodelay: Some((1, 10, 2, 1)),
                mtu: Some(mtu),
                ..Settings::DEFAULT
            },
            ..Scenario::new("packing boundaries", 0)
        };
        let mss = mtu as usize - 24;
        let sizes = [
            0,
            1,
            mss - 49,
            mss - 48,
            mss - 25,
            mss - 24,
            mss - 23,
            mss - 1,
            mss,
        ];
        let mut shapes = Vec::new();
        for &x in &sizes {
            for &y in &sizes {
                shapes.push(vec![x, y]);
                shapes.push(vec![x, y, 0]);
            }
        }
        for shape in shapes {
            let label = format!("mtu {mtu}, messages {shape:?}");
            let mut a = Pair::new("a", &s);
            let mut b = Pair::new("b", &s);
            let mut now = 0;
            for &n in &shape {
                let msg: Vec<u8> = (0..n).map(|i| i as u8).collect();
                let sent = a.send(&msg, now).unwrap_or_else(|e| panic!("{label}: {e}"));
                assert_eq!(sent, n as i32, "{label}");
            }
            let out = a.update(now).unwrap_or_else(|e| panic!("{label}: {e}"));
            let total: usize = shape.iter().map(|&n| 24 + n).sum();
            assert_eq!(out.iter().map(Vec::len).sum::<usize>(), total, "{label}");
            assert!(out.iter().all(|d| d.len() <= mtu as usize), "{label}");
            // B's answer: ACKs only, packed the same way.
            now += 10;
            for d in &out {
                assert!(b.input(d, now).unwrap_or_else(|e| panic!("{label}: {e}")));
            }
            let acks = b.update(now).unwrap_or_else(|e| panic!("{label}: {e}"));
            assert_eq!(
                acks.iter().map(Vec::len).sum::<usize>(),
                24 * shape.len(),
                "{label}"
            );
            for d in &acks {
                assert!(a.input(d, now).unwrap_or_else(|e| panic!("{label}: {e}")));
            }
            assert_eq!(a.rs.wait_snd(), 0, "{label}");
        }
    }
}

#[test]
fn lockstep_nodelay2_with_cwnd() {
    // nodelay 2 (rto/2 back-off from rx_rto), congestion window on, fast
    // resend 1: exercises cwnd growth, fast retransmit and fastlimit.
    lockstep(&Scenario {
        settings: Settings {
            nodelay: Some((2, 10, 1, 0)),
            wnd: Some((64, 128)),
            ..Settings::DEFAULT
        },
        a_send: 0.08,
        loss: 0.15,
        ..Scenario::new("nodelay(2,10,1,0)", 7)
    });
}

#[test]
fn lockstep_stream_mode() {
    for (seed, nodelay, rate) in [(8, None, 0.005), (9, Some((1, 10, 2, 1)), 0.05)] {
        lockstep(&Scenario {
            settings: Settings {
                nodelay,
                stream: true,
                ..Settings::DEFAULT
            },
            duration_ms: 60_000,
            a_send: rate,
            b_send: 0.01,
            empty: 0.02,
            oversize: 0.01,
            small_buf: 0.3,
            ..Scenario::new("stream", seed)
        });
    }
}

#[test]
fn lockstep_across_u32_wrap() {
    let rep = lockstep(&Scenario {
        start: 0xFFFF_F000,
        settings: Settings {
            nodelay: Some((1, 10, 2, 1)),
            wnd: Some((128, 128)),
            ..Settings::DEFAULT
        },
        duration_ms: 20_000,
        send_until_ms: 10_000,
        a_send: 0.05,
        ..Scenario::new("u32 wrap", 10)
    });
    assert!(rep.messages[0] > 100);
}

#[test]
fn lockstep_damaged_datagrams() {
    let rep = lockstep(&Scenario {
        settings: Settings {
            nodelay: Some((1, 10, 2, 1)),
            ..Settings::DEFAULT
        },
        corrupt: 0.03,
        ..Scenario::new("damaged datagrams", 11)
    });
    assert!(rep.input_errors > 0);
}

#[test]
fn lockstep_zero_window_probe() {
    // B stops reading for 30 s while A pushes small messages through a send
    // window wider than B's 128-slot receive window: B's queue fills, it
    // advertises 0, A probes with WASK after 7 s (then 10.5 s, ...), B
    // answers WINS; when B reads again it announces the reopened window.
    let rep = lockstep(&Scenario {
        settings: Settings {
            nodelay: Some((1, 10, 2, 1)),
            wnd: Some((256, 128)),
            ..Settings::DEFAULT
        },
        duration_ms: 60_000,
        send_until_ms: 40_000,
        a_send: 0.2,
        b_send: 0.0,
        max_msg: 1300,
        max_wait_snd: 400,
        loss: 0.05,
        b_pause: Some((1_000, 31_000)),
        ..Scenario::new("zero window", 12)
    });
    assert_eq!(rep.max_rcv_queue, 128, "B's receive queue never filled");
    assert_eq!(rep.min_rmt_wnd, 0, "A never saw a zero window");
    assert!(rep.cmds[0].wask >= 2, "A sent no window probes: {rep:?}");
    assert!(rep.cmds[1].wins >= 2, "B sent no window updates: {rep:?}");
}

#[test]
fn lockstep_partition_and_dead_link() {
    // 25 s without any datagram getting through: RTOs back off, segments
    // pass `dead_link` transmissions, then the link heals.
    let rep = lockstep(&Scenario {
        settings: Settings {
            nodelay: Some((1, 10, 2, 1)),
            dead_link: Some(8),
            ..Settings::DEFAULT
        },
        duration_ms: 120_000,
        send_until_ms: 30_000,
        outage: Some((5_000, 30_000)),
        ..Scenario::new("partition", 14)
    });
    assert!(rep.dead, "no segment reached dead_link: {rep:?}");
}

#[test]
fn lockstep_clock_jump_and_reconfiguration() {
    // The process stalls for 15 s (ikcp's `slap` resets ts_flush), and the
    // settings change on the fly.
    lockstep(&Scenario {
        settings: Settings {
            nodelay: Some((0, 40, 0, 0)),
            ..Settings::DEFAULT
        },
        duration_ms: 60_000,
        send_until_ms: 30_000,
        a_send: 0.01,
        freeze: Some((8_000, 23_000)),
        reconf: vec![
            (3_000, Reconf::Nodelay(1, 10, 2, 1)),
            (5_000, Reconf::Window(128, 256)),
            (6_000, Reconf::Mtu(576)),
            (26_000, Reconf::Mtu(1200)),
            (27_000, Reconf::Nodelay(0, 20, 0, 0)),
            (28_000, Reconf::Stream(true)),
        ],
        ..Scenario::new("stall + reconfigure", 15)
    });
}

const NODELAYS: [Option<(i32, i32, i32, i32)>; 8] = [
    None,
    Some((1, 10, 2, 1)),
    Some((0, 40, 0, 0)),
    Some((1, 20, 2, 1)),
    Some((2, 10, 1, 0)),
    Some((1, 10, 0, 0)),
    Some((0, 10, 3, 0)),
    Some((1, 30, 1, 1)),
];

/// Whether the random sweep changes `resend` on the fly (this found that
/// `Kcp::set_nodelay` must re-list fast-resend candidates; see
/// `lowering_resend_on_the_fly_fast_resends_like_ikcp`).
const RESEND_RECONF: bool = true;

/// Whether the random sweep feeds bogus header fields.
const FUZZ_SWEEP: bool = true;

/// Whether bogus ACK timestamps may yield RTT samples beyond ~3.5 days
/// (the RTT filter must wrap like C's 32-bit `int`; see
/// `huge_rtt_sample_wraps_like_ikcp`).
const HUGE_RTT: bool = true;

/// A scenario with every knob drawn from `seed`.
fn random_scenario(seed: u64) -> Scenario {
    let mut r = Rng::new(seed.wrapping_add(0xD1FF));
    let pick = |r: &mut Rng, n: usize| r.range(0, n as u64 - 1) as usize;
    let wnds = [
        None,
        Some((128, 128)),
        Some((16, 128)),
        Some((256, 256)),
        Some((64, 200)),
    ];
    let mtus = [None, Some(576), Some(100), Some(1200)];
    let settings = Settings {
        nodelay: NODELAYS[pick(&mut r, NODELAYS.len())],
        wnd: wnds[pick(&mut r, wnds.len())],
        mtu: mtus[pick(&mut r, mtus.len())],
        stream: r.chance(0.25),
        dead_link: r.chance(0.2).then(|| r.range(2, 20) as u32),
        fastlimit: r.chance(0.3).then(|| r.range(0, 7) as i32 - 1),
    };
    let duration_ms = r.range(10_000, 40_000);
    let window = |r: &mut Rng, p: f64| {
        r.chance(p).then(|| {
            let from = r.range(500, duration_ms / 2);
            (from, from + r.range(2_000, 30_000))
        })
    };
    let lo = r.range(1, 20);
    let mut reconf = Vec::new();
    if r.chance(0.2) {
        for _ in 0..r.range(1, 3) {
            let at = r.range(0, duration_ms);
            let change = match r.range(0, 3) {
                0 => {
                    let nd = NODELAYS[1 + pick(&mut r, NODELAYS.len() - 1)].expect("Some");
                    let resend = if RESEND_RECONF { nd.2 } else { -1 };
                    Reconf::Nodelay(nd.0, nd.1, resend, nd.3)
                }
                1 => Reconf::Window(r.range(8, 256) as i32, r.range(1, 300) as i32),
                2 => Reconf::Mtu([576, 1200, 1400][pick(&mut r, 3)]),
                _ => Reconf::Stream(true),
            };
            reconf.push((at, change));
        }
    }
    Scenario {
        start: if r.chance(0.3) {
            0u32.wrapping_sub(r.range(0, 20_000) as u32)
        } else {
            r.next() as u32
        },
        settings,
        duration_ms,
        send_until_ms: duration_ms / 2,
        a_send: r.range(2, 50) as f64 / 1000.0,
        b_send: r.range(0, 20) as f64 / 1000.0,
        max_msg: [5000, 1, 200, 20_000][pick(&mut r, 4)],
        empty: if r.chance(0.2) { 0.02 } else { 0.0 },
        oversize: if r.chance(0.2) { 0.01 } else { 0.0 },
        max_wait_snd: [32, 256, 1000][pick(&mut r, 3)],
        loss: r.range(0, 25) as f64 / 100.0,
        delay_ms: (lo, lo + r.range(0, 60)),
        duplicate: r.range(0, 5) as f64 / 100.0,
        corrupt: if r.chance(0.2) { 0.02 } else { 0.0 },
        fuzz: if FUZZ_SWEEP && r.chance(0.5) {
            0.01
        } else {
            0.0
        },
        tick: [Tick::EveryMs, Tick::AtCheck, Tick::AtPollTimeout][pick(&mut r, 3)],
        b_pause: window(&mut r, 0.2),
        flush: if r.chance(0.3) { 0.005 } else { 0.0 },
        small_buf: if r.chance(0.3) { 0.2 } else { 0.0 },
        outage: window(&mut r, 0.15),
        freeze: window(&mut r, 0.15),
        reconf,
        complete: false,
        ..Scenario::new("random", seed)
    }
}

#[test]
fn lockstep_random_scenarios() {
    // IKCP_DIFF_SWEEP=<n> widens the sweep (e.g. for a long local run).
    let n: u64 = std::env::var("IKCP_DIFF_SWEEP")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let mut failures = Vec::new();
    for seed in 1000..1000 + n {
        let s = random_scenario(seed);
        if let Err(e) = run_lockstep(&s) {
            failures.push(format!("seed {seed}: {s:?}\n{e}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {n} random scenarios diverged:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// A one-ACK datagram as the peer would send it.
fn ack(sn: u32, ts: u32, una: u32) -> Vec<u8> {
    let mut d = Vec::with_capacity(24);
    d.extend_from_slice(&CONV.to_le_bytes());
    d.extend_from_slice(&[82, 0]);
    d.extend_from_slice(&128u16.to_le_bytes());
    for v in [ts, sn, una, 0] {
        d.extend_from_slice(&v.to_le_bytes());
    }
    d
}

#[test]
fn lowering_resend_on_the_fly_fast_resends_like_ikcp() {
    // resend 0 (off): sn 0 collects two fast-acks but is never a candidate.
    // Lowering resend to 1 on the fly: ikcp's next flush scans the whole
    // snd_buf and fast-resends sn 0 at once; kcp-core's candidate list is
    // empty, so sn 0 waits for its RTO (200 ms).
    let s = Scenario {
        settings: Settings {
            nodelay: Some((1, 10, 0, 1)),
            ..Settings::DEFAULT
        },
        ..Scenario::new("lower resend", 0)
    };
    let mut a = Pair::new("A", &s);
    for _ in 0..4 {
        assert_eq!(a.send(b"x", 0).unwrap(), 1);
    }
    let out = a.update(0).unwrap();
    assert_eq!(out.len(), 1, "sn 0..=3 in one datagram");
    a.input(&ack(1, 0, 0), 5).unwrap();
    a.input(&ack(2, 0, 0), 6).unwrap();
    a.reconfigure(Reconf::Nodelay(-1, -1, 1, -1), 7).unwrap();
    let out = a.update(10).unwrap(); // C: fast resend of sn 0
    assert_eq!(out.len(), 1);
}

#[test]
fn huge_rtt_sample_wraps_like_ikcp() {
    // An ACK echoing a ts 2^31 - 1 ms in the past (a bogus or replayed
    // ACK) seeds srtt = 2^31 - 1; the next sample overflows ikcp's
    // `7 * rx_srtt + rtt` and `3 * rx_rttval` (32-bit int, wraps on every
    // real compiler), while kcp-core computes them in i64.
    let s = Scenario {
        start: 0x8000_0000,
        ..Scenario::new("huge rtt", 0)
    };
    let mut a = Pair::new("A", &s);
    for _ in 0..2 {
        assert_eq!(a.send(b"x", s.start).unwrap(), 1);
    }
    a.update(s.start).unwrap();
    let now = s.start + 5;
    a.input(&ack(0, now.wrapping_sub(0x7FFF_FFFF), 0), now)
        .unwrap();
    a.input(&ack(1, s.start, 0), now).unwrap(); // C: srtt 268435455, Rust 1879048191
}

// ----------------------------------------------------------------------
// 3. The harness can fail: the kcp-go profile is not ikcp
// ----------------------------------------------------------------------

#[test]
fn lockstep_detects_kcpgo_profile_divergence() {
    let base = Scenario {
        settings: Settings {
            nodelay: Some((1, 10, 2, 1)),
            wnd: Some((128, 128)),
            ..Settings::DEFAULT
        },
        duration_ms: 5_000,
        send_until_ms: 3_000,
        ..Scenario::new("profile sanity", 13)
    };
    // Positive control: the ikcp profile passes this very scenario...
    lockstep(&base);
    // ...and the kcp-go profile puts different bytes on the wire (it flushes
    // on write, samples RTT differently, elides old ACKs, ...).
    let kcpgo = Scenario {
        profile: Profile::KcpGo,
        full: false,
        ..base
    };
    let err = run_lockstep(&kcpgo).expect_err("kcp-go profile matched C ikcp byte for byte");
    assert!(err.contains("datagram"), "unexpected divergence: {err}");
    eprintln!("expected divergence:\n{err}");
}

// ----------------------------------------------------------------------
// 2. Interop through the simulator
// ----------------------------------------------------------------------

/// What the interop endpoint needs from a KCP implementation.
trait Proto {
    fn app_send(&mut self, data: &[u8]) -> bool;
    fn app_recv(&mut self, buf: &mut [u8]) -> Option<usize>;
    fn wait_snd(&self) -> usize;
    fn net_input(&mut self, d: &[u8], now: Timestamp);
    fn timer(&mut self, now: Timestamp);
    fn deadline(&self) -> Option<Timestamp>;
    fn pop(&mut self, buf: &mut [u8]) -> Option<usize>;
}

impl Proto for Kcp {
    fn app_send(&mut self, data: &[u8]) -> bool {
        self.send(data).is_ok()
    }
    fn app_recv(&mut self, buf: &mut [u8]) -> Option<usize> {
        self.recv(buf).ok()
    }
    fn wait_snd(&self) -> usize {
        Kcp::wait_snd(self)
    }
    fn net_input(&mut self, d: &[u8], now: Timestamp) {
        self.input(d, now).expect("valid datagram");
    }
    fn timer(&mut self, now: Timestamp) {
        self.handle_timeout(now);
    }
    fn deadline(&self) -> Option<Timestamp> {
        self.poll_timeout()
    }
    fn pop(&mut self, buf: &mut [u8]) -> Option<usize> {
        self.poll_transmit_into(buf)
    }
}

impl Proto for CKcp {
    fn app_send(&mut self, data: &[u8]) -> bool {
        self.send(data) >= 0
    }
    fn app_recv(&mut self, buf: &mut [u8]) -> Option<usize> {
        let n = self.recv(buf);
        (n >= 0).then_some(n as usize)
    }
    fn wait_snd(&self) -> usize {
        self.waitsnd() as usize
    }
    fn net_input(&mut self, d: &[u8], now: Timestamp) {
        assert_eq!(
            self.input(d, now.as_millis()),
            0,
            "ikcp rejected a datagram"
        );
    }
    fn timer(&mut self, now: Timestamp) {
        self.update(now.as_millis());
    }
    fn deadline(&self) -> Option<Timestamp> {
        // ikcp only transmits when `ikcp_update` reaches `ts_flush`
        // (`ikcp_check` may name an earlier, useless instant when a resend
        // timer is due before the next flush).
        let s = self.state();
        if !s.updated || (s.current.wrapping_sub(s.ts_flush) as i32) >= 0 {
            Some(ts(s.current))
        } else {
            Some(ts(s.ts_flush))
        }
    }
    fn pop(&mut self, buf: &mut [u8]) -> Option<usize> {
        let d = self.pop_output()?;
        buf[..d.len()].copy_from_slice(&d);
        Some(d.len())
    }
}

/// An application on top of a KCP implementation: writes its messages as
/// fast as `wait_snd` allows and records what it reads.
struct Node<P: Proto> {
    proto: P,
    outbox: VecDeque<Vec<u8>>,
    max_wait: usize,
    got: Vec<Vec<u8>>,
    expect: usize,
    buf: Vec<u8>,
}

impl<P: Proto> Node<P> {
    fn new(proto: P, msgs: Vec<Vec<u8>>, expect: usize, max_wait: usize) -> Self {
        Node {
            proto,
            outbox: msgs.into(),
            max_wait,
            got: Vec::new(),
            expect,
            buf: vec![0; 256 * 1400],
        }
    }

    fn pump(&mut self) {
        while let Some(m) = self.outbox.front() {
            if self.proto.wait_snd() >= self.max_wait {
                break;
            }
            assert!(self.proto.app_send(m), "send of {} bytes refused", m.len());
            self.outbox.pop_front();
        }
        while let Some(n) = self.proto.app_recv(&mut self.buf) {
            self.got.push(self.buf[..n].to_vec());
        }
    }

    fn done(&self) -> bool {
        self.outbox.is_empty() && self.got.len() >= self.expect
    }
}

impl<P: Proto> Endpoint for Node<P> {
    fn handle_input(&mut self, datagram: &[u8], now: Timestamp) {
        self.proto.net_input(datagram, now);
        self.pump();
    }
    fn poll_transmit(&mut self, _now: Timestamp, buf: &mut [u8]) -> Option<usize> {
        self.proto.pop(buf)
    }
    fn poll_timeout(&self) -> Option<Timestamp> {
        self.proto.deadline()
    }
    fn handle_timeout(&mut self, now: Timestamp) {
        self.pump();
        self.proto.timer(now);
    }
}

/// ~`total` bytes of messages of at most 127 fragments of `mss`, including
/// one of exactly 127 full fragments and a 1-byte one.
fn messages(rng: &mut Rng, total: usize, mss: usize) -> Vec<Vec<u8>> {
    let mut sizes = vec![127 * mss, 1];
    let mut sum = 127 * mss + 1;
    while sum < total {
        let size = match rng.range(0, 9) {
            0..=5 => rng.range(1, mss as u64),
            6..=8 => rng.range(mss as u64 + 1, 12 * mss as u64),
            _ => rng.range(12 * mss as u64, 127 * mss as u64),
        } as usize;
        sizes.push(size);
        sum += size;
    }
    // The big one somewhere in the middle, not first.
    let mid = 3.min(sizes.len() - 1);
    sizes.swap(0, mid);
    sizes
        .into_iter()
        .enumerate()
        .map(|(i, n)| {
            let mut m = rng.bytes(n);
            // A sequence number in front makes every message distinct.
            for (b, x) in m.iter_mut().zip((i as u32).to_le_bytes()) {
                *b = x;
            }
            m
        })
        .collect()
}

/// Settings of one side of an interop run.
#[derive(Clone, Copy, Debug)]
struct Side {
    nodelay: (i32, i32, i32, i32),
    snd_wnd: i32,
}

fn rust_kcp(profile: Profile, side: Side, start: Timestamp) -> Kcp {
    let (nd, iv, rs, nc) = side.nodelay;
    let mut cfg = Config::with_profile(profile);
    cfg.set_nodelay(nd, iv, rs, nc)
        .set_window(side.snd_wnd, 128);
    cfg.set_max_frag(127).expect("valid max_frag");
    Kcp::new(CONV, cfg, start)
}

fn c_kcp(side: Side) -> CKcp {
    let (nd, iv, rs, nc) = side.nodelay;
    let mut c = CKcp::new(CONV);
    c.nodelay(nd, iv, rs, nc);
    c.wndsize(side.snd_wnd, 128);
    c
}

fn run_interop<A: Proto, B: Proto>(name: &str, seed: u64, a: A, b: B, start: Timestamp) {
    const TOTAL: usize = 200 * 1024;
    let mut rng = Rng::new(seed);
    let to_b = messages(&mut rng, TOTAL, 1376);
    let to_a = messages(&mut rng, TOTAL, 1376);
    let a = Node::new(a, to_b.clone(), to_a.len(), 64);
    let b = Node::new(b, to_a.clone(), to_b.len(), 64);
    let link = LinkConfig::lossy(0.1, 20).jitter_ms(20).duplicate(0.01);
    let cfg = SimConfig::new().seed(seed).start(start).link(link);
    let mut sim = Sim::with_config(a, b, cfg);
    let finished = sim.run_until_condition(600_000, |s| s.a().done() && s.b().done());
    let (ab, ba) = (sim.stats(Direction::AtoB), sim.stats(Direction::BtoA));
    eprintln!(
        "{name}: finished={finished} after {} ms; A→B {ab:?}; B→A {ba:?}",
        sim.elapsed_ms()
    );
    assert!(finished, "{name}: transfer did not complete");
    assert!(
        ab.dropped_loss > 0 && ba.dropped_loss > 0,
        "{name}: no loss"
    );
    let (a, b) = sim.into_endpoints();
    assert!(
        b.got == to_b,
        "{name}: A→B data not delivered exactly once in order"
    );
    assert!(
        a.got == to_a,
        "{name}: B→A data not delivered exactly once in order"
    );
}

#[test]
fn interop_with_c_ikcp_through_sim() {
    let fast = Side {
        nodelay: (1, 10, 2, 1),
        snd_wnd: 128,
    };
    let normal = Side {
        nodelay: (0, 40, 0, 0),
        snd_wnd: 32,
    };
    let t0 = ts(0);
    let wrap = ts(0xFFFF_0000);
    let mut seed = 100;
    for profile in [Profile::Ikcp, Profile::KcpGo] {
        for (label, side, start) in [("fast", fast, t0), ("normal", normal, wrap)] {
            seed += 1;
            let name = format!("{profile:?} {label}: rust=A, C=B");
            run_interop(
                &name,
                seed,
                rust_kcp(profile, side, start),
                c_kcp(side),
                start,
            );
            seed += 1;
            let name = format!("{profile:?} {label}: C=A, rust=B");
            run_interop(
                &name,
                seed,
                c_kcp(side),
                rust_kcp(profile, side, start),
                start,
            );
        }
    }
}
