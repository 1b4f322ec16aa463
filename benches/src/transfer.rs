//! One-way bulk transfers: in memory (datagrams handed straight to the
//! peer) and through the deterministic simulator.

use kcp_core::Timestamp;
use kcp_core::sim::{Endpoint, LinkConfig, Sim, SimConfig};

use crate::peers::Arq;

/// Outcome of a transfer.
#[derive(Clone, Copy, Debug)]
pub struct Outcome {
    /// Bytes delivered to the receiving application.
    pub bytes: usize,
    /// Virtual time the transfer took.
    pub virtual_ms: u64,
}

/// Sends `total` bytes from `a` to `b` in `msg`-sized messages, advancing a
/// virtual clock 1 ms per round; every datagram is delivered at once.
pub fn in_memory(
    a: &mut dyn Arq,
    b: &mut dyn Arq,
    total: usize,
    msg: &[u8],
    wnd: usize,
) -> Outcome {
    in_memory_from(a, b, total, msg, wnd, 0)
}

/// [`in_memory`] on endpoints whose virtual clock is at `start` ms (so a
/// pair can carry on after an earlier transfer); `virtual_ms` in the
/// outcome is the clock at the end.
pub fn in_memory_from(
    a: &mut dyn Arq,
    b: &mut dyn Arq,
    total: usize,
    msg: &[u8],
    wnd: usize,
    start: u32,
) -> Outcome {
    let mut buf = vec![0u8; 1 << 20];
    let (mut queued, mut received, mut now) = (0usize, 0usize, start);
    while received < total {
        while queued < total && a.wait_snd() < 2 * wnd {
            let n = msg.len().min(total - queued);
            if !a.send(&msg[..n]) {
                break;
            }
            queued += n;
        }
        a.update(now);
        a.drain(&mut |d| b.input(d, now));
        while let Some(n) = b.recv(&mut buf) {
            received += n;
        }
        b.update(now);
        b.drain(&mut |d| a.input(d, now));
        now += 1;
        assert!(now - start < 10_000_000, "transfer stalled");
    }
    Outcome {
        bytes: received,
        virtual_ms: u64::from(now),
    }
}

/// Adapts any [`Arq`] to the simulator by polling it every millisecond.
pub struct SimPeer<A> {
    /// The wrapped implementation.
    pub arq: A,
    queue: std::collections::VecDeque<Vec<u8>>,
    free: Vec<Vec<u8>>,
    next: Timestamp,
}

impl<A: Arq> SimPeer<A> {
    /// Wraps `arq`; its first timer fires at time 0.
    pub fn new(arq: A) -> Self {
        SimPeer {
            arq,
            queue: Default::default(),
            free: Vec::new(),
            next: Timestamp::from_millis(0),
        }
    }

    fn collect(&mut self) {
        let (queue, free) = (&mut self.queue, &mut self.free);
        self.arq.drain(&mut |d| {
            let mut b = free.pop().unwrap_or_default();
            b.clear();
            b.extend_from_slice(d);
            queue.push_back(b);
        });
    }
}

impl<A: Arq> Endpoint for SimPeer<A> {
    fn handle_input(&mut self, d: &[u8], now: Timestamp) {
        self.arq.input(d, now.as_millis());
        self.collect();
    }
    fn poll_transmit(&mut self, _now: Timestamp, buf: &mut [u8]) -> Option<usize> {
        let d = self.queue.pop_front()?;
        buf[..d.len()].copy_from_slice(&d);
        let n = d.len();
        self.free.push(d);
        Some(n)
    }
    fn poll_timeout(&self) -> Option<Timestamp> {
        Some(self.next)
    }
    fn handle_timeout(&mut self, now: Timestamp) {
        self.arq.update(now.as_millis());
        self.collect();
        self.next = now.add_millis(1);
    }
}

/// Sends `total` bytes from `a` to `b` through the simulator over `link`.
pub fn simulated<A: Arq, B: Arq>(
    a: A,
    b: B,
    link: LinkConfig,
    seed: u64,
    total: usize,
    msg: &[u8],
    wnd: usize,
) -> Outcome {
    let cfg = SimConfig::new().seed(seed).link(link);
    let mut sim = Sim::with_config(SimPeer::new(a), SimPeer::new(b), cfg);
    let mut buf = vec![0u8; 1 << 20];
    let (mut queued, mut received) = (0usize, 0usize);
    while received < total {
        while queued < total && sim.a().arq.wait_snd() < 2 * wnd {
            let n = msg.len().min(total - queued);
            if !sim.a_mut().arq.send(&msg[..n]) {
                break;
            }
            queued += n;
        }
        sim.step();
        while let Some(n) = sim.b_mut().arq.recv(&mut buf) {
            received += n;
        }
        assert!(sim.elapsed_ms() < 36_000_000, "transfer stalled");
    }
    Outcome {
        bytes: received,
        virtual_ms: sim.elapsed_ms(),
    }
}
