//! kcp-core + kcp-fec through kcp-core's deterministic network simulator:
//! one-way bulk transfers under 10 % and 20 % random loss, with FEC 10/3 and
//! without, same seed. FEC must deliver every byte and cut KCP's
//! retransmissions. The numbers are printed (`--nocapture`) and recorded in
//! BENCHES.md.
//!
//! The composition is kcp-go's session (`sess.go`): KCP's MTU is
//! 1400 - 8 and it leaves 8 bytes of head room in front of every datagram for
//! the FEC header, which the encoder writes in place; the parity packets of a
//! group go out right after the data datagram that completes it; data shards
//! are fed to KCP as regular input, rebuilt ones as `Origin::Recovered`.

use std::collections::VecDeque;

use kcp_core::sim::{Direction, Endpoint, LinkConfig, Sim, SimConfig};
use kcp_core::{Config, Kcp, Origin, Timestamp};
use kcp_fec::{Decoded, Decoder, Encoder, FecConfig, HEADER_SIZE, MTU_LIMIT};

/// kcp-go's default MTU (`IKCP_MTU_DEF`) before the FEC header is taken off.
const SESSION_MTU: u32 = 1400;
const CONV: u32 = 0x4B43_5052;
const WINDOW: i32 = 128;
const SIZE: usize = 2 << 20;
const ONE_WAY_DELAY_MS: u32 = 20;

/// A KCP endpoint with kcp-go's FEC layer under it (or none).
struct FecKcp {
    kcp: Kcp,
    fec: Option<(Encoder, Decoder)>,
    /// Parity packets waiting to follow the data datagram just sent.
    parity: VecDeque<Vec<u8>>,
    /// Spare parity buffers (no allocation once warmed up).
    spare: Vec<Vec<u8>>,
}

impl FecKcp {
    fn new(fec: Option<(usize, usize)>) -> Self {
        let mut cfg = Config::new();
        cfg.set_nodelay(1, 10, 2, 1)
            .set_window(WINDOW, WINDOW)
            .set_stream(true);
        let fec = fec.map(|(d, p)| {
            let fc = FecConfig::new(d, p);
            (Encoder::new(&fc).unwrap(), Decoder::new(&fc).unwrap())
        });
        if fec.is_some() {
            cfg.set_mtu(SESSION_MTU - HEADER_SIZE as u32).unwrap();
            cfg.set_headroom(HEADER_SIZE);
        } else {
            cfg.set_mtu(SESSION_MTU).unwrap();
        }
        FecKcp {
            kcp: Kcp::new(CONV, cfg, Timestamp::from_millis(0)),
            fec,
            parity: VecDeque::new(),
            spare: Vec::new(),
        }
    }
}

impl Endpoint for FecKcp {
    fn handle_input(&mut self, datagram: &[u8], now: Timestamp) {
        let Some((_, dec)) = &mut self.fec else {
            let _ = self.kcp.input(datagram, now);
            return;
        };
        let Ok(decoded) = dec.input(datagram) else {
            return;
        };
        let recovered = match decoded {
            Decoded::Raw(d) => {
                let _ = self.kcp.input_from(d, now, Origin::Regular);
                return;
            }
            Decoded::Oob { .. } => return,
            Decoded::Data { kcp, recovered } => {
                let _ = self.kcp.input_from(kcp, now, Origin::Regular);
                recovered
            }
            Decoded::Parity { recovered } => recovered,
        };
        for r in recovered {
            let _ = self.kcp.input_from(r.payload, now, Origin::Recovered);
        }
    }

    fn poll_transmit(&mut self, now: Timestamp, buf: &mut [u8]) -> Option<usize> {
        if let Some(p) = self.parity.pop_front() {
            let n = p.len();
            buf[..n].copy_from_slice(&p);
            self.spare.push(p);
            return Some(n);
        }
        let Some((enc, _)) = &mut self.fec else {
            return self.kcp.poll_transmit_into(buf);
        };
        let mut t = self.kcp.poll_transmit()?;
        debug_assert_eq!(t.headroom(), HEADER_SIZE);
        let n = t.framed().len();
        let datagram = &mut t.buffer_mut()[..n];
        let parity = enc.encode(datagram, now.as_millis()).unwrap();
        for p in parity.iter() {
            let mut v = self.spare.pop().unwrap_or_default();
            v.clear();
            v.extend_from_slice(p);
            self.parity.push_back(v);
        }
        buf[..n].copy_from_slice(t.framed());
        Some(n)
    }

    fn poll_timeout(&self) -> Option<Timestamp> {
        // Parity never waits: the simulator drains `poll_transmit` until it
        // returns `None`, so it leaves right behind its data datagram.
        self.kcp.poll_timeout()
    }

    fn handle_timeout(&mut self, now: Timestamp) {
        self.kcp.handle_timeout(now);
    }

    fn max_datagram_size(&self) -> usize {
        MTU_LIMIT
    }
}

#[derive(Debug)]
struct Outcome {
    retrans: u64,
    out_segs: u64,
    elapsed_ms: u64,
    datagrams: u64,
    recovered: u64,
}

/// Moves `SIZE` bytes from A to B over links with `loss` each way.
fn transfer(loss: f64, fec: Option<(usize, usize)>, seed: u64) -> Outcome {
    let link = LinkConfig::lossy(loss, ONE_WAY_DELAY_MS);
    let cfg = SimConfig::new()
        .seed(seed)
        .start(Timestamp::from_millis(0))
        .link(link);
    let mut sim = Sim::with_config(FecKcp::new(fec), FecKcp::new(fec), cfg);
    let mut chunk = vec![0u8; 64 * 1024];
    let mut rbuf = vec![0u8; 1 << 20];
    let (mut queued, mut received) = (0usize, 0usize);
    let snd_wnd = WINDOW as usize;
    while received < SIZE {
        assert!(sim.elapsed_ms() < 600_000, "stalled at {received} bytes");
        while queued < SIZE && sim.a().kcp.wait_snd() < 2 * snd_wnd {
            let n = chunk.len().min(SIZE - queued);
            for (i, b) in chunk[..n].iter_mut().enumerate() {
                *b = ((queued + i) % 251) as u8;
            }
            queued += sim.a_mut().kcp.send(&chunk[..n]).unwrap();
        }
        sim.step();
        while let Ok(n) = sim.b_mut().kcp.recv(&mut rbuf) {
            for (i, &b) in rbuf[..n].iter().enumerate() {
                assert_eq!(b, ((received + i) % 251) as u8, "byte {}", received + i);
            }
            received += n;
        }
    }
    assert_eq!(received, SIZE);
    let s = sim.a().kcp.stats();
    Outcome {
        retrans: s.retrans_segs,
        out_segs: s.out_segs,
        elapsed_ms: sim.elapsed_ms(),
        datagrams: sim.stats(Direction::AtoB).sent,
        recovered: sim
            .b()
            .fec
            .as_ref()
            .map_or(0, |(_, dec)| dec.stats().recovered),
    }
}

fn compare(loss: f64) {
    for seed in 1..=3 {
        compare_seed(loss, seed);
    }
}

fn compare_seed(loss: f64, seed: u64) {
    let plain = transfer(loss, None, seed);
    let fec = transfer(loss, Some((10, 3)), seed);
    eprintln!(
        "loss {:>2.0}% seed {seed}: no FEC: {:>5} retransmitted of {:>5} segments, {:>5} datagrams A->B, {:>6} ms | \
         FEC 10/3: {:>5} retransmitted of {:>5} segments, {:>5} datagrams A->B, {:>6} ms, {:>5} shards recovered",
        loss * 100.0,
        plain.retrans,
        plain.out_segs,
        plain.datagrams,
        plain.elapsed_ms,
        fec.retrans,
        fec.out_segs,
        fec.datagrams,
        fec.elapsed_ms,
        fec.recovered,
    );
    assert!(fec.recovered > 0);
    assert!(
        fec.retrans < plain.retrans,
        "FEC did not reduce retransmissions: {fec:?} vs {plain:?}"
    );
}

#[test]
fn fec_reduces_retransmissions_at_10_percent_loss() {
    compare(0.10);
}

#[test]
fn fec_reduces_retransmissions_at_20_percent_loss() {
    compare(0.20);
}
