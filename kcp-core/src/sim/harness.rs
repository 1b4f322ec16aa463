//! The simulator proper: two endpoints, two links, one virtual clock.

use alloc::boxed::Box;
use alloc::collections::BinaryHeap;
use alloc::vec;
use alloc::vec::Vec;
use core::cmp::Reverse;
use core::fmt;

use super::endpoint::Endpoint;
use super::link::{Link, LinkConfig, LinkStats, Verdict};
use super::rng::SimRng;
use crate::Timestamp;

/// The largest transmit buffer the simulator allocates, whatever an endpoint
/// claims in [`Endpoint::max_datagram_size`] (1 MiB; UDP tops out at 64 KiB).
pub const MAX_DATAGRAM_BUFFER: usize = 1 << 20;

/// At most this many `poll_transmit` calls per endpoint per drain; an
/// endpoint with more to say is drained again on the next step. Guards
/// against an endpoint that never returns `None`.
const MAX_TRANSMITS_PER_DRAIN: usize = 1 << 16;

/// Memory charged per in-flight datagram on top of its payload, so that a
/// flood of empty datagrams is bounded too (see
/// [`SimConfig::max_in_flight_bytes`]).
pub const IN_FLIGHT_OVERHEAD: usize = 64;

/// Which way a datagram travels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Direction {
    /// From endpoint A (the first one) to endpoint B.
    AtoB,
    /// From endpoint B back to endpoint A.
    BtoA,
}

impl Direction {
    fn index(self) -> usize {
        match self {
            Direction::AtoB => 0,
            Direction::BtoA => 1,
        }
    }

    /// The other direction.
    pub fn reverse(self) -> Direction {
        match self {
            Direction::AtoB => Direction::BtoA,
            Direction::BtoA => Direction::AtoB,
        }
    }
}

/// What happened to a datagram, as reported to the tap (see [`Sim::set_tap`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fate {
    /// Accepted by the link at the reported instant; will be delivered at
    /// `deliver_at`.
    Scheduled {
        /// When it will reach the peer.
        deliver_at: Timestamp,
    },
    /// A duplicate copy of the datagram just reported, with its own delay.
    Duplicated {
        /// When the copy will reach the peer.
        deliver_at: Timestamp,
    },
    /// Handed to the receiving endpoint at the reported instant.
    Delivered {
        /// A datagram sent later on this direction was delivered before it.
        reordered: bool,
    },
    /// Lost on the wire (independent or burst loss).
    DroppedLoss,
    /// Larger than the link MTU.
    DroppedMtu,
    /// Tail-dropped by the bottleneck queue or the in-flight memory cap.
    DroppedQueue,
}

/// Observer called for every datagram event: direction, instant, payload and
/// what happened to it.
pub type Tap = Box<dyn FnMut(Direction, Timestamp, &[u8], Fate)>;

/// Settings of a [`Sim`], built with chained methods.
///
/// ```
/// use kcp_core::sim::{LinkConfig, SimConfig};
/// use kcp_core::Timestamp;
/// let cfg = SimConfig::new()
///     .seed(7)
///     .start(Timestamp::from_millis(0xFFFF_F000)) // 4 s before the u32 wrap
///     .link(LinkConfig::lossy(0.05, 30))          // both directions
///     .b_to_a(LinkConfig::delayed(30));           // ...but a clean return path
/// # let _ = cfg;
/// ```
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct SimConfig {
    /// Seed of the whole run; each direction gets its own stream from it.
    pub seed: u64,
    /// The virtual clock's value at the start of the run.
    pub start: Timestamp,
    /// The A→B link.
    pub a_to_b: LinkConfig,
    /// The B→A link.
    pub b_to_a: LinkConfig,
    /// Memory cap per direction for datagrams in flight (payload plus
    /// [`IN_FLIGHT_OVERHEAD`] each): a datagram that would take the total
    /// past it is dropped and counted as `dropped_queue`. Default 64 MiB.
    pub max_in_flight_bytes: usize,
    /// Livelock guard: after this many steps at one instant (say, two
    /// endpoints echoing each other over zero-delay links forever) the
    /// clock is forced 1 ms forward. Default 10 000, far above what any
    /// sane protocol needs (a step handles *all* deliveries due).
    pub max_steps_per_instant: u32,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            seed: 0,
            start: Timestamp::from_millis(0),
            a_to_b: LinkConfig::default(),
            b_to_a: LinkConfig::default(),
            max_in_flight_bytes: 64 << 20,
            max_steps_per_instant: 10_000,
        }
    }
}

impl SimConfig {
    /// Seed 0, clock at 0, perfect links both ways.
    pub fn new() -> Self {
        SimConfig::default()
    }

    /// Sets the seed.
    #[must_use]
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Sets the initial clock value.
    #[must_use]
    pub fn start(mut self, start: Timestamp) -> Self {
        self.start = start;
        self
    }

    /// Uses `link` in both directions (each with its own random stream).
    #[must_use]
    pub fn link(mut self, link: LinkConfig) -> Self {
        self.a_to_b = link.clone();
        self.b_to_a = link;
        self
    }

    /// Sets the A→B link.
    #[must_use]
    pub fn a_to_b(mut self, link: LinkConfig) -> Self {
        self.a_to_b = link;
        self
    }

    /// Sets the B→A link.
    #[must_use]
    pub fn b_to_a(mut self, link: LinkConfig) -> Self {
        self.b_to_a = link;
        self
    }

    /// Sets the in-flight memory cap per direction.
    #[must_use]
    pub fn max_in_flight_bytes(mut self, bytes: usize) -> Self {
        self.max_in_flight_bytes = bytes;
        self
    }

    /// Sets the livelock guard (clamped to at least 1).
    #[must_use]
    pub fn max_steps_per_instant(mut self, steps: u32) -> Self {
        self.max_steps_per_instant = steps.max(1);
        self
    }
}

/// A datagram on the wire. Ordered by its fields in order, so by `(at,
/// seq)`: `seq` is unique (the later fields never decide) and increases in
/// scheduling order, so simultaneous arrivals are delivered in the order
/// they were sent, deterministically.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct InFlight {
    at: u64,
    seq: u64,
    dir: Direction,
    index: u64,
    data: Vec<u8>,
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

fn fnv1a(mut hash: u64, bytes: &[u8]) -> u64 {
    for &b in bytes {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(FNV_PRIME);
    }
    hash
}

/// Two sans-IO endpoints joined by two simulated links, driven by a virtual
/// clock. Modelled on quinn-proto's test `Pair`.
///
/// Time is kept internally as `u64` milliseconds elapsed since
/// [`SimConfig::start`]; endpoints see `start + elapsed` as a wrapping
/// [`Timestamp`], so a run may start just before the u32 wrap.
///
/// # One step
/// [`Sim::step`] does, in this fixed order:
/// 1. drain `poll_transmit` of A, then of B, into their links (this is how
///    data queued by the test between steps, e.g. an app-level `send`, gets
///    out; [`Sim::flush_transmits`] does only this);
/// 2. find the next event: the earliest datagram arrival or `poll_timeout`
///    of either endpoint (a deadline in the past counts as now), and move
///    the clock there (never backwards);
/// 3. deliver every datagram due at that instant in `(arrival time, send
///    sequence)` order — only those already in flight when the step began,
///    so zero-delay replies wait for the next step at the same instant;
///    after each `handle_input`, drain A then B;
/// 4. if A's deadline (re-read now) is reached, `handle_timeout` A and drain
///    A then B; then the same for B.
///
/// The run is a pure function of the endpoints, the [`SimConfig`] and the
/// calls made on the `Sim`; [`Sim::delivery_hash`] fingerprints it.
///
/// # Example
/// ```
/// use kcp_core::sim::{Endpoint, LinkConfig, Sim, SimConfig};
/// use kcp_core::Timestamp;
///
/// /// Replies to every datagram with the same bytes.
/// #[derive(Default)]
/// struct Echo(Vec<Vec<u8>>);
/// impl Endpoint for Echo {
///     fn handle_input(&mut self, d: &[u8], _now: Timestamp) { self.0.push(d.to_vec()) }
///     fn poll_transmit(&mut self, _now: Timestamp, buf: &mut [u8]) -> Option<usize> {
///         let d = self.0.pop()?;
///         buf[..d.len()].copy_from_slice(&d);
///         Some(d.len())
///     }
///     fn poll_timeout(&self) -> Option<Timestamp> { None }
///     fn handle_timeout(&mut self, _now: Timestamp) {}
/// }
///
/// /// Sends `left` pings, one every 10 ms, and counts the echoes.
/// struct Pinger { next: Option<Timestamp>, left: u8, ready: bool, echoes: u32 }
/// impl Endpoint for Pinger {
///     fn handle_input(&mut self, _d: &[u8], _now: Timestamp) { self.echoes += 1 }
///     fn poll_transmit(&mut self, _now: Timestamp, buf: &mut [u8]) -> Option<usize> {
///         if !self.ready { return None }
///         self.ready = false;
///         buf[0] = self.left;
///         Some(1)
///     }
///     fn poll_timeout(&self) -> Option<Timestamp> { self.next }
///     fn handle_timeout(&mut self, now: Timestamp) {
///         if self.next.is_some_and(|t| now.reached(t)) {
///             self.ready = true;
///             self.left -= 1;
///             self.next = (self.left > 0).then(|| now.add_millis(10));
///         }
///     }
/// }
///
/// let start = Timestamp::from_millis(0);
/// let pinger = Pinger { next: Some(start), left: 5, ready: false, echoes: 0 };
/// let cfg = SimConfig::new().seed(1).link(LinkConfig::delayed(25));
/// let mut sim = Sim::with_config(pinger, Echo::default(), cfg);
/// assert!(sim.run_until_idle(1_000));
/// assert_eq!(sim.a().echoes, 5);
/// // Last ping at 40 ms, echoed back 2 × 25 ms later.
/// assert_eq!(sim.elapsed_ms(), 90);
/// ```
pub struct Sim<A: Endpoint, B: Endpoint> {
    a: A,
    b: B,
    start: Timestamp,
    now_ms: u64,
    links: [Link; 2],
    in_flight: BinaryHeap<Reverse<InFlight>>,
    /// Datagrams and charged bytes in flight per direction.
    in_flight_count: [usize; 2],
    in_flight_bytes: [usize; 2],
    max_in_flight_bytes: usize,
    next_seq: u64,
    /// Endpoint hit `MAX_TRANSMITS_PER_DRAIN` and may have more to send.
    pending: [bool; 2],
    steps_at_instant: u32,
    max_steps_per_instant: u32,
    forced_advances: u64,
    hash: u64,
    buf: Vec<u8>,
    tap: Option<Tap>,
}

impl<A: Endpoint, B: Endpoint> Sim<A, B> {
    /// Seed 0, clock at 0, perfect links (see [`SimConfig::new`]).
    pub fn new(a: A, b: B) -> Self {
        Self::with_config(a, b, SimConfig::default())
    }

    /// A simulation of `a` and `b` with the given settings.
    pub fn with_config(a: A, b: B, config: SimConfig) -> Self {
        let mut master = SimRng::new(config.seed);
        let rng_ab = master.fork();
        let rng_ba = master.fork();
        let buf_len = a
            .max_datagram_size()
            .max(b.max_datagram_size())
            .clamp(1, MAX_DATAGRAM_BUFFER);
        Sim {
            a,
            b,
            start: config.start,
            now_ms: 0,
            links: [
                Link::new(config.a_to_b, rng_ab),
                Link::new(config.b_to_a, rng_ba),
            ],
            in_flight: BinaryHeap::new(),
            in_flight_count: [0; 2],
            in_flight_bytes: [0; 2],
            max_in_flight_bytes: config.max_in_flight_bytes,
            next_seq: 0,
            pending: [false; 2],
            steps_at_instant: 0,
            max_steps_per_instant: config.max_steps_per_instant.max(1),
            forced_advances: 0,
            hash: FNV_OFFSET,
            buf: vec![0; buf_len],
            tap: None,
        }
    }

    /// Endpoint A.
    pub fn a(&self) -> &A {
        &self.a
    }

    /// Endpoint A, mutably (e.g. to queue application data). Whatever it
    /// wants to transmit afterwards is picked up by the next step.
    pub fn a_mut(&mut self) -> &mut A {
        &mut self.a
    }

    /// Endpoint B.
    pub fn b(&self) -> &B {
        &self.b
    }

    /// Endpoint B, mutably (see [`Sim::a_mut`]).
    pub fn b_mut(&mut self) -> &mut B {
        &mut self.b
    }

    /// Consumes the simulation, returning the endpoints.
    pub fn into_endpoints(self) -> (A, B) {
        (self.a, self.b)
    }

    /// The current virtual time, as the endpoints see it (wrapping).
    pub fn now(&self) -> Timestamp {
        self.at(self.now_ms)
    }

    /// Milliseconds elapsed since the start of the run (never wraps).
    pub fn elapsed_ms(&self) -> u64 {
        self.now_ms
    }

    /// The link configuration of one direction.
    pub fn link(&self, dir: Direction) -> &LinkConfig {
        &self.links[dir.index()].config
    }

    /// Replaces the link configuration of one direction from now on (e.g.
    /// [`LinkConfig::down`] for a partition). Datagrams already in flight
    /// keep their fate; the bottleneck queue and burst state carry over.
    pub fn set_link(&mut self, dir: Direction, config: LinkConfig) {
        self.links[dir.index()].config = config;
    }

    /// Counters of one direction.
    pub fn stats(&self, dir: Direction) -> &LinkStats {
        &self.links[dir.index()].stats
    }

    /// Datagrams currently in flight in one direction.
    pub fn in_flight(&self, dir: Direction) -> usize {
        self.in_flight_count[dir.index()]
    }

    /// Rolling 64-bit FNV-1a over every delivery so far: arrival timestamp
    /// (u32 LE), direction (0 = A→B, 1 = B→A), length (u64 LE) and bytes.
    /// Equal hashes mean (with overwhelming probability) identical runs.
    pub fn delivery_hash(&self) -> u64 {
        self.hash
    }

    /// How many times the livelock guard pushed the clock forward (see
    /// [`SimConfig::max_steps_per_instant`]); 0 in any healthy run.
    pub fn forced_advances(&self) -> u64 {
        self.forced_advances
    }

    /// Installs an observer called for every datagram event (sent with its
    /// fate, duplicated, dropped, delivered). Handy for tracing a run:
    ///
    /// ```
    /// # use kcp_core::sim::{Endpoint, Sim};
    /// # use kcp_core::Timestamp;
    /// # struct Quiet;
    /// # impl Endpoint for Quiet {
    /// #     fn handle_input(&mut self, _: &[u8], _: Timestamp) {}
    /// #     fn poll_transmit(&mut self, _: Timestamp, _: &mut [u8]) -> Option<usize> { None }
    /// #     fn poll_timeout(&self) -> Option<Timestamp> { None }
    /// #     fn handle_timeout(&mut self, _: Timestamp) {}
    /// # }
    /// let mut sim = Sim::new(Quiet, Quiet);
    /// sim.set_tap(|dir, at, bytes, fate| {
    ///     println!("{at} {dir:?} {} bytes: {fate:?}", bytes.len());
    /// });
    /// ```
    pub fn set_tap<F>(&mut self, tap: F)
    where
        F: FnMut(Direction, Timestamp, &[u8], Fate) + 'static,
    {
        self.tap = Some(Box::new(tap));
    }

    /// Removes the observer.
    pub fn clear_tap(&mut self) {
        self.tap = None;
    }

    /// `true` when nothing can happen any more: no datagram in flight, no
    /// transmit pending, and neither endpoint has a timer armed. (An
    /// endpoint that would transmit without a timer or an input is not
    /// seen; call [`Sim::flush_transmits`] first, as the `run_*` methods do.)
    pub fn is_idle(&self) -> bool {
        self.in_flight.is_empty()
            && self.pending == [false; 2]
            && self.a.poll_timeout().is_none()
            && self.b.poll_timeout().is_none()
    }

    /// Drains `poll_transmit` of A, then B, into their links without moving
    /// the clock. Returns whether anything was transmitted.
    pub fn flush_transmits(&mut self) -> bool {
        let a = self.drain(Direction::AtoB);
        let b = self.drain(Direction::BtoA);
        a | b
    }

    /// Advances to the next event and processes everything due then (see
    /// the type docs for the exact order). Returns whether anything
    /// happened; `false` means the simulation is idle and the clock did not
    /// move.
    pub fn step(&mut self) -> bool {
        let mut progressed = self.flush_transmits();
        let Some((next, forced)) = self.next_step() else {
            return progressed;
        };
        if next > self.now_ms {
            self.forced_advances += u64::from(forced);
            self.now_ms = next;
            self.steps_at_instant = 0;
        }
        self.steps_at_instant = self.steps_at_instant.saturating_add(1);
        let now = self.now();

        let seq_limit = self.next_seq;
        while let Some(Reverse(top)) = self.in_flight.peek() {
            if top.at > self.now_ms || top.seq >= seq_limit {
                break;
            }
            let Some(Reverse(dgram)) = self.in_flight.pop() else {
                break;
            };
            self.deliver(dgram, now);
            progressed = true;
        }

        if self.a.poll_timeout().is_some_and(|t| now.reached(t)) {
            self.a.handle_timeout(now);
            self.flush_transmits();
            progressed = true;
        }
        if self.b.poll_timeout().is_some_and(|t| now.reached(t)) {
            self.b.handle_timeout(now);
            self.flush_transmits();
            progressed = true;
        }
        progressed
    }

    /// Runs every event up to and including `deadline`, then sets the clock
    /// to it. A `deadline` at or before [`Sim::now`] (in wrapping terms)
    /// does nothing.
    pub fn run_until(&mut self, deadline: Timestamp) {
        let ahead = deadline.diff(self.now());
        if ahead > 0 {
            self.run_until_elapsed(self.now_ms + ahead as u64);
        }
    }

    /// Runs for `ms` milliseconds of virtual time (see [`Sim::run_until`]).
    pub fn run_for(&mut self, ms: u64) {
        self.run_until_elapsed(self.now_ms.saturating_add(ms));
    }

    /// Runs until [`Sim::is_idle`], for at most `max_ms` of virtual time.
    /// Returns `true` if idle was reached (the clock then stays at the last
    /// event); `false` if time ran out (the clock is then `max_ms` later).
    pub fn run_until_idle(&mut self, max_ms: u64) -> bool {
        self.run_until_condition(max_ms, |sim| sim.is_idle())
    }

    /// Runs until `done(self)` holds, checked before the first step and after
    /// every step, for at most `max_ms` of virtual time. Returns `true` as
    /// soon as it holds (the clock stays there); `false` if time ran out
    /// (the clock is then `max_ms` later) or the simulation went idle with
    /// the condition still false (the clock is then also moved `max_ms`
    /// later, as nothing could change it).
    pub fn run_until_condition<F>(&mut self, max_ms: u64, mut done: F) -> bool
    where
        F: FnMut(&Self) -> bool,
    {
        let deadline = self.now_ms.saturating_add(max_ms);
        loop {
            self.flush_transmits();
            if done(self) {
                return true;
            }
            match self.next_step_ms() {
                Some(t) if t <= deadline => {
                    self.step();
                }
                _ => {
                    self.now_ms = self.now_ms.max(deadline);
                    return false;
                }
            }
        }
    }

    fn run_until_elapsed(&mut self, deadline: u64) {
        loop {
            self.flush_transmits();
            match self.next_step_ms() {
                Some(t) if t <= deadline => {
                    self.step();
                }
                _ => break,
            }
        }
        self.now_ms = self.now_ms.max(deadline);
    }

    fn at(&self, ms: u64) -> Timestamp {
        // Truncation is the wrap: the endpoints' clock is u32 milliseconds.
        self.start.add_millis(ms as u32)
    }

    /// Elapsed time of an endpoint deadline; one in the past is due now.
    fn deadline_ms(&self, t: Timestamp) -> u64 {
        let ahead = t.diff(self.now());
        if ahead > 0 {
            self.now_ms + ahead as u64
        } else {
            self.now_ms
        }
    }

    /// The instant the next step will run at: the next event, but never in
    /// the past, and 1 ms later once the livelock guard has tripped.
    /// Also says whether the guard forced it.
    fn next_step(&self) -> Option<(u64, bool)> {
        let next = self.next_event_ms()?.max(self.now_ms);
        if next == self.now_ms && self.steps_at_instant >= self.max_steps_per_instant {
            Some((self.now_ms + 1, true))
        } else {
            Some((next, false))
        }
    }

    fn next_step_ms(&self) -> Option<u64> {
        self.next_step().map(|(t, _)| t)
    }

    fn next_event_ms(&self) -> Option<u64> {
        if self.pending != [false; 2] {
            return Some(self.now_ms);
        }
        let arrival = self.in_flight.peek().map(|Reverse(d)| d.at);
        let a = self.a.poll_timeout().map(|t| self.deadline_ms(t));
        let b = self.b.poll_timeout().map(|t| self.deadline_ms(t));
        [arrival, a, b].into_iter().flatten().min()
    }

    /// Moves what the sender of `dir` has to transmit onto the link.
    fn drain(&mut self, dir: Direction) -> bool {
        let mut buf = core::mem::take(&mut self.buf);
        let now = self.now();
        let mut sent = false;
        self.pending[dir.index()] = true;
        for _ in 0..MAX_TRANSMITS_PER_DRAIN {
            let len = match dir {
                Direction::AtoB => self.a.poll_transmit(now, &mut buf),
                Direction::BtoA => self.b.poll_transmit(now, &mut buf),
            };
            let Some(len) = len else {
                self.pending[dir.index()] = false;
                break;
            };
            self.send(dir, &buf[..len.min(buf.len())]);
            sent = true;
        }
        self.buf = buf;
        sent
    }

    fn send(&mut self, dir: Direction, data: &[u8]) {
        let now = self.now();
        match self.links[dir.index()].admit(self.now_ms, data.len()) {
            Verdict::DroppedMtu => self.observe(dir, now, data, Fate::DroppedMtu),
            Verdict::DroppedQueue => self.observe(dir, now, data, Fate::DroppedQueue),
            Verdict::DroppedLoss => self.observe(dir, now, data, Fate::DroppedLoss),
            Verdict::Deliver { index, at, dup_at } => {
                self.schedule(dir, index, at, data, false);
                if let Some(dup_at) = dup_at {
                    self.schedule(dir, index, dup_at, data, true);
                }
            }
        }
    }

    fn schedule(&mut self, dir: Direction, index: u64, at: u64, data: &[u8], dup: bool) {
        let now = self.now();
        let i = dir.index();
        let charge = data.len().saturating_add(IN_FLIGHT_OVERHEAD);
        if self.in_flight_bytes[i].saturating_add(charge) > self.max_in_flight_bytes {
            self.links[i].stats.dropped_queue += 1;
            self.observe(dir, now, data, Fate::DroppedQueue);
            return;
        }
        self.in_flight_bytes[i] += charge;
        self.in_flight_count[i] += 1;
        let seq = self.next_seq;
        self.next_seq += 1;
        self.in_flight.push(Reverse(InFlight {
            at,
            seq,
            dir,
            index,
            data: data.to_vec(),
        }));
        let deliver_at = self.at(at);
        let fate = if dup {
            Fate::Duplicated { deliver_at }
        } else {
            Fate::Scheduled { deliver_at }
        };
        self.observe(dir, now, data, fate);
    }

    fn deliver(&mut self, dgram: InFlight, now: Timestamp) {
        let i = dgram.dir.index();
        let len = dgram.data.len();
        self.in_flight_count[i] -= 1;
        self.in_flight_bytes[i] -= len + IN_FLIGHT_OVERHEAD;
        let reordered = self.links[i].delivered(dgram.index, len);

        let mut h = fnv1a(self.hash, &now.as_millis().to_le_bytes());
        h = fnv1a(h, &[i as u8]);
        h = fnv1a(h, &(len as u64).to_le_bytes());
        self.hash = fnv1a(h, &dgram.data);

        self.observe(dgram.dir, now, &dgram.data, Fate::Delivered { reordered });
        match dgram.dir {
            Direction::AtoB => self.b.handle_input(&dgram.data, now),
            Direction::BtoA => self.a.handle_input(&dgram.data, now),
        }
        self.flush_transmits();
    }

    fn observe(&mut self, dir: Direction, now: Timestamp, data: &[u8], fate: Fate) {
        if let Some(tap) = self.tap.as_mut() {
            tap(dir, now, data, fate);
        }
    }
}

impl<A: Endpoint + fmt::Debug, B: Endpoint + fmt::Debug> fmt::Debug for Sim<A, B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sim")
            .field("a", &self.a)
            .field("b", &self.b)
            .field("now", &self.now())
            .field("elapsed_ms", &self.now_ms)
            .field("a_to_b", &self.links[0])
            .field("b_to_a", &self.links[1])
            .field("in_flight", &self.in_flight_count)
            .field("delivery_hash", &self.hash)
            .finish_non_exhaustive()
    }
}
