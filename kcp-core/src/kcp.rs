//! The KCP endpoint: one conversation's ARQ state machine.

use alloc::vec::Vec;

use crate::clock::Clock;
use crate::config::{Config, Profile};
use crate::error::{ConfigError, InputError, RecvError, SendError};
use crate::output::{Output, Ready, Transmit};
use crate::recv::{RecvBuffer, Stored};
use crate::rto::{RttEstimator, minrto_for};
use crate::segment::{Command, Header, OVERHEAD};
use crate::send::{FASTACK_SENTINEL, SendBuffer};
use crate::stats::Stats;
use crate::time::Timestamp;

/// Probe flag: send a WASK in the next flush (`IKCP_ASK_SEND`).
const ASK_SEND: u32 = 1;
/// Probe flag: send a WINS in the next flush (`IKCP_ASK_TELL`).
const ASK_TELL: u32 = 2;
/// Longest zero-window probe wait (`IKCP_PROBE_LIMIT`).
const PROBE_LIMIT: u32 = 120_000;
/// Initial and minimum slow-start threshold.
const THRESH_INIT: u32 = 2;
const THRESH_MIN: u32 = 2;
/// Most ACKs kept between two flushes (a bound for hostile floods).
pub const MAX_ACKLIST: usize = 16 * 1024;

/// Where an input datagram came from (kcp-go's `PacketType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// Received from the network as is.
    Regular,
    /// Rebuilt by FEC recovery: its window may be stale and it yields no RTT
    /// sample (kcp-go's `IKCP_PACKET_FEC`).
    Recovered,
}

/// A snapshot of the protocol variables, for tests, tracing and monitoring.
/// The fields mirror the reference names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct State {
    /// Oldest unacknowledged sequence number.
    pub snd_una: u32,
    /// Next sequence number to assign.
    pub snd_nxt: u32,
    /// Next sequence number expected from the peer.
    pub rcv_nxt: u32,
    /// Smoothed RTT (ms).
    pub rx_srtt: i32,
    /// RTT variation (ms).
    pub rx_rttvar: i32,
    /// Current retransmission timeout (ms).
    pub rx_rto: u32,
    /// Congestion window (segments).
    pub cwnd: u32,
    /// Slow-start threshold (segments).
    pub ssthresh: u32,
    /// Congestion-avoidance byte accumulator.
    pub incr: u32,
    /// Peer's advertised receive window.
    pub rmt_wnd: u32,
    /// Current zero-window probe wait (ms).
    pub probe_wait: u32,
    /// When the next zero-window probe is due.
    pub ts_probe: u32,
    /// Segments not yet admitted to the window.
    pub snd_queue: usize,
    /// Segments in the send window (kcp-go counts acknowledged ones waiting
    /// for `una`; the ikcp profile does not keep those).
    pub snd_buf: usize,
    /// Segments ready for the application.
    pub rcv_queue: usize,
    /// Out-of-order segments held for reassembly.
    pub rcv_buf: usize,
    /// ACKs waiting for the next flush.
    pub acklist: usize,
}

/// One KCP conversation as a sans-IO state machine.
///
/// Feed it datagrams with [`input`](Kcp::input), application data with
/// [`send`](Kcp::send), time with [`handle_timeout`](Kcp::handle_timeout);
/// take datagrams from [`poll_transmit`](Kcp::poll_transmit), messages from
/// [`recv`](Kcp::recv), and sleep until [`poll_timeout`](Kcp::poll_timeout).
/// It never reads a clock, touches a socket or allocates per packet once
/// warmed up.
///
/// ```
/// use kcp_core::{Config, Kcp, Timestamp};
/// let t0 = Timestamp::from_millis(0);
/// let mut a = Kcp::new(7, Config::new(), t0);
/// let mut b = Kcp::new(7, Config::new(), t0);
/// a.send(b"hello").unwrap();
/// let mut now = t0;
/// let mut buf = [0u8; 64];
/// loop {
///     a.handle_timeout(now);
///     while let Some(t) = a.poll_transmit() {
///         b.input(t.payload(), now).unwrap();
///     }
///     if let Ok(n) = b.recv(&mut buf) {
///         assert_eq!(&buf[..n], b"hello");
///         break;
///     }
///     now = a.poll_timeout().unwrap_or(now.add_millis(10));
/// }
/// ```
#[derive(Debug)]
pub struct Kcp {
    conv: u32,
    cfg: Config,
    mss: u32,
    dead: bool,

    snd: SendBuffer,
    rcv: RecvBuffer,
    acklist: Vec<(u32, u32)>,

    rtt: RttEstimator,
    rmt_wnd: u32,
    cwnd: u32,
    ssthresh: u32,
    incr: u32,

    probe: u32,
    ts_probe: u32,
    probe_wait: u32,

    clock: Clock,
    /// kcp-go profile: the session timer's next flush (extended clock).
    next_flush: i64,
    /// kcp-go profile: a `send` asked for an immediate flush.
    write_pending: bool,
    /// ikcp profile: `update` has run once.
    updated: bool,
    /// ikcp profile: next interval flush.
    ts_flush: u32,

    /// Set by the input parser when a stored segment should keep the
    /// caller's datagram buffer (see `input_buffer`).
    steal_sn: Option<u32>,
    out: Output,
    stats: Stats,
}

/// Send-segment slots (each with its payload buffer) kept allocated when the
/// send queue drains: enough for both windows twice over, as a free list
/// would keep.
fn kept_segments(cfg: &Config) -> usize {
    (cfg.snd_wnd + cfg.rcv_wnd) as usize * 2 + 64
}

/// Largest buffer worth keeping for reuse (received payloads, datagram
/// buffers taken by `input_buffer`): a few datagrams.
fn max_kept_buffer(cfg: &Config) -> usize {
    4 * (cfg.mtu as usize + cfg.headroom + cfg.tailroom)
}

impl Kcp {
    /// A new endpoint for conversation `conv`, created at `now`. Both peers
    /// must use the same `conv`. The first flush is due at `now`.
    pub fn new(conv: u32, config: Config, now: Timestamp) -> Kcp {
        let mss = config.mss();
        let clock = Clock::new(now);
        Kcp {
            conv,
            mss,
            dead: false,
            snd: SendBuffer::new(kept_segments(&config)),
            rcv: RecvBuffer::new(max_kept_buffer(&config)),
            acklist: Vec::new(),
            rtt: RttEstimator::new(config.nodelay),
            rmt_wnd: config.profile.default_rcv_wnd(),
            cwnd: 0,
            ssthresh: THRESH_INIT,
            incr: 0,
            probe: 0,
            ts_probe: 0,
            probe_wait: 0,
            next_flush: clock.ext(),
            clock,
            write_pending: false,
            updated: false,
            ts_flush: crate::config::DEFAULT_INTERVAL,
            steal_sn: None,
            out: Output::new(config.mtu as usize, config.headroom, config.tailroom),
            stats: Stats::default(),
            cfg: config,
        }
    }

    /// The conversation id.
    pub fn conv(&self) -> u32 {
        self.conv
    }

    /// The current configuration.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// Counters since creation.
    pub fn stats(&self) -> Stats {
        Stats {
            out_pkts: self.out.pkts,
            out_bytes: self.out.bytes,
            ..self.stats
        }
    }

    /// The protocol variables right now.
    pub fn state(&self) -> State {
        State {
            snd_una: self.snd.base,
            snd_nxt: self.snd.end(),
            rcv_nxt: self.rcv.rcv_nxt,
            rx_srtt: self.rtt.srtt,
            rx_rttvar: self.rtt.rttvar,
            rx_rto: self.rtt.rto,
            cwnd: self.cwnd,
            ssthresh: self.ssthresh,
            incr: self.incr,
            rmt_wnd: self.rmt_wnd,
            probe_wait: self.probe_wait,
            ts_probe: self.ts_probe,
            snd_queue: self.snd.queued(),
            snd_buf: self.snd.len(),
            rcv_queue: self.rcv.queued(),
            rcv_buf: self.rcv.buffered,
            acklist: self.acklist.len(),
        }
    }

    /// Smoothed round-trip time in ms (0 before the first sample).
    pub fn srtt(&self) -> i32 {
        self.rtt.srtt
    }

    /// Current retransmission timeout in ms.
    pub fn rto(&self) -> u32 {
        self.rtt.rto
    }

    /// Segments queued or in flight and not yet released by the peer's `una`
    /// (kcp-go's `WaitSnd`; use it for back-pressure).
    pub fn wait_snd(&self) -> usize {
        let in_buf = match self.cfg.profile {
            Profile::KcpGo => self.snd.len(),
            Profile::Ikcp => self.snd.unacked(),
        };
        in_buf + self.snd.queued()
    }

    /// `true` once a segment was transmitted `dead_link` times: the peer is
    /// probably gone. KCP itself keeps going; the application decides.
    pub fn is_dead(&self) -> bool {
        self.dead
    }

    /// Changes `nodelay, interval, resend, nc` on the fly (negative = keep).
    pub fn set_nodelay(&mut self, nodelay: i32, interval: i32, resend: i32, nc: i32) {
        self.cfg.set_nodelay(nodelay, interval, resend, nc);
        if nodelay >= 0 {
            self.rtt.minrto = minrto_for(self.cfg.nodelay);
        }
        // A lower threshold can make segments due for fast resend right now;
        // ikcp's flush would see them (it walks everything), so list them.
        // (kcp-go's profile lists every segment with any fast-ack count.)
        if resend >= 0 && self.cfg.profile == Profile::Ikcp {
            let resent = self.resent();
            for i in 0..self.snd.len() {
                let seg = &self.snd.segs[i];
                if !seg.acked && seg.xmit > 0 && seg.fastack >= resent && self.fast_allowed_ikcp(i)
                {
                    self.snd.list_fast(i);
                }
            }
        }
    }

    /// Changes the send and receive windows on the fly (`<= 0` = keep).
    pub fn set_window(&mut self, snd: i32, rcv: i32) {
        self.cfg.set_window(snd, rcv);
        self.snd.set_keep(kept_segments(&self.cfg));
    }

    /// Changes the MTU on the fly. Segments already queued keep their size.
    pub fn set_mtu(&mut self, mtu: u32) -> Result<(), ConfigError> {
        self.cfg.set_mtu(mtu)?;
        self.mss = self.cfg.mss();
        self.rcv.set_max_keep(max_kept_buffer(&self.cfg));
        self.out
            .reconfigure(mtu as usize, self.cfg.headroom, self.cfg.tailroom);
        Ok(())
    }

    /// Switches stream mode on or off for data sent from now on.
    pub fn set_stream(&mut self, stream: bool) {
        self.cfg.set_stream(stream);
    }

    /// Makes the next flush tell the peer our receive window (a WINS
    /// segment; every header carries the window, but a receiver with nothing
    /// else to send would not send one). KCP itself does this only when the
    /// receive queue drains from completely full; an application that frees
    /// much of the window after the peer slowed down can announce it at once
    /// instead of waiting for the next timer flush.
    ///
    /// ```
    /// # use kcp_core::{Config, Kcp, Timestamp};
    /// let t = Timestamp::from_millis(0);
    /// let mut k = Kcp::new(1, Config::new(), t);
    /// k.announce_window();
    /// k.flush(t);
    /// let d = k.poll_transmit().expect("a WINS datagram");
    /// assert_eq!(d.payload()[4], 84); // IKCP_CMD_WINS
    /// ```
    pub fn announce_window(&mut self) {
        self.probe |= ASK_TELL;
    }

    /// Switches kcp-go's ack-no-delay on or off.
    pub fn set_ack_nodelay(&mut self, on: bool) {
        self.cfg.set_ack_nodelay(on);
    }

    // ------------------------------------------------------------------
    // Application side
    // ------------------------------------------------------------------

    /// Queues a message (or, in stream mode, bytes) for sending; returns the
    /// number of bytes accepted. A message longer than `mss` is fragmented.
    /// In stream mode a write that would exceed the fragment limit is
    /// accepted partially (the count tells how much), like `io::Write`.
    pub fn send(&mut self, data: &[u8]) -> Result<usize, SendError> {
        if data.is_empty() && self.cfg.profile == Profile::KcpGo {
            return Err(SendError::Empty);
        }
        let mss = self.mss as usize;
        let mut rest = data;
        let mut sent = 0;
        if self.cfg.stream {
            if let Some(last) = self.snd.last_queued_mut() {
                if last.payload_len() < mss {
                    let extend = rest.len().min(mss - last.payload_len());
                    last.data.extend_from_slice(&rest[..extend]);
                    rest = &rest[extend..];
                    sent = extend;
                }
            }
            if rest.is_empty() {
                self.note_write();
                return Ok(sent);
            }
        }
        let count = if rest.len() <= mss {
            1
        } else {
            rest.len().div_ceil(mss)
        };
        if count > self.cfg.max_frag as usize {
            if sent > 0 {
                self.note_write();
                return Ok(sent);
            }
            return Err(SendError::TooManyFragments {
                needed: count,
                max: self.cfg.max_frag,
            });
        }
        for i in 0..count {
            let size = rest.len().min(mss);
            let frg = if self.cfg.stream {
                0
            } else {
                (count - i - 1) as u8
            };
            self.snd.enqueue(frg, &rest[..size], mss);
            rest = &rest[size..];
            sent += size;
        }
        self.note_write();
        Ok(sent)
    }

    fn note_write(&mut self) {
        if self.cfg.profile == Profile::KcpGo && !self.cfg.write_delay {
            self.write_pending = true;
        }
    }

    /// Size of the next complete message.
    pub fn peek_size(&self) -> Result<usize, RecvError> {
        match self.rcv.peek_size() {
            Some(n) => Ok(n),
            None if self.rcv.queued() == 0 => Err(RecvError::Empty),
            None => Err(RecvError::Incomplete),
        }
    }

    /// Copies the next complete message into `buf` and returns its length.
    pub fn recv(&mut self, buf: &mut [u8]) -> Result<usize, RecvError> {
        let size = self.peek_size()?;
        if size > buf.len() {
            return Err(RecvError::BufferTooSmall { needed: size });
        }
        let recover = self.before_pop();
        let mut n = 0;
        self.rcv.pop_message_with(|frag| {
            buf[n..n + frag.len()].copy_from_slice(frag);
            n += frag.len();
        });
        self.after_pop(recover);
        Ok(size)
    }

    /// Appends the next complete message to `out` and returns its length.
    pub fn recv_vec(&mut self, out: &mut Vec<u8>) -> Result<usize, RecvError> {
        let size = self.peek_size()?;
        out.reserve(size);
        self.recv_with(|frag| out.extend_from_slice(frag))
    }

    /// Hands the next complete message to `f` fragment by fragment, without
    /// an intermediate copy, then releases it. Returns the message length.
    pub fn recv_with(&mut self, f: impl FnMut(&[u8])) -> Result<usize, RecvError> {
        let recover = self.before_pop();
        let Some(size) = self.rcv.pop_message_with(f) else {
            return Err(if self.rcv.queued() == 0 {
                RecvError::Empty
            } else {
                RecvError::Incomplete
            });
        };
        self.after_pop(recover);
        Ok(size)
    }

    fn before_pop(&self) -> bool {
        self.rcv.queued() >= self.cfg.rcv_wnd as usize
    }

    fn after_pop(&mut self, recover: bool) {
        self.rcv.release_in_order(self.cfg.rcv_wnd);
        // The window reopened after being full: announce it (fast recover).
        if recover && self.rcv.queued() < self.cfg.rcv_wnd as usize {
            self.probe |= ASK_TELL;
        }
    }

    // ------------------------------------------------------------------
    // Network side
    // ------------------------------------------------------------------

    /// Processes one datagram received from the peer at `now`.
    ///
    /// On error the segments before the bad one have been applied (as in
    /// both references) and the datagram is counted in `in_errs`.
    pub fn input(&mut self, datagram: &[u8], now: Timestamp) -> Result<(), InputError> {
        self.input_from(datagram, now, Origin::Regular)
    }

    /// [`input`](Kcp::input) for a datagram of the given origin.
    pub fn input_from(
        &mut self,
        datagram: &[u8],
        now: Timestamp,
        origin: Origin,
    ) -> Result<(), InputError> {
        self.clock.advance(now);
        self.stats.in_pkts += 1;
        self.stats.in_bytes += datagram.len() as u64;
        let r = self.parse_input(datagram, origin == Origin::Regular, false);
        if r.is_err() {
            self.stats.in_errs += 1;
        }
        r
    }

    /// [`input`](Kcp::input) for the datagram at `buf[start..]`, which may
    /// keep `buf` itself as the storage of the segment it carries instead
    /// of copying the payload: when the datagram is exactly one new data
    /// segment, `buf` is taken and replaced by an empty recycled buffer of at
    /// least the same capacity. Either way `buf` comes back empty, ready for
    /// the next receive. Event loops (and the FEC/crypto layers, after
    /// opening a datagram in place) use it to receive without copying.
    ///
    /// ```
    /// # use kcp_core::{Config, Kcp, Timestamp};
    /// let t = Timestamp::from_millis(0);
    /// let (mut a, mut b) = (Kcp::new(9, Config::new(), t), Kcp::new(9, Config::new(), t));
    /// a.send(&[7u8; 1000]).unwrap();
    /// a.handle_timeout(t);
    /// let mut rx = Vec::with_capacity(1500); // the event loop's receive buffer
    /// while let Some(d) = a.poll_transmit() {
    ///     rx.extend_from_slice(d.payload()); // stands for socket.recv_from
    ///     b.input_buffer(&mut rx, 0, t).unwrap();
    ///     assert!(rx.is_empty() && rx.capacity() >= 1500);
    /// }
    /// let mut got = Vec::new();
    /// b.recv_vec(&mut got).unwrap();
    /// assert_eq!(got, [7u8; 1000]);
    /// ```
    pub fn input_buffer(
        &mut self,
        buf: &mut Vec<u8>,
        start: usize,
        now: Timestamp,
    ) -> Result<(), InputError> {
        self.clock.advance(now);
        let data = buf.get(start..).unwrap_or(&[]);
        self.stats.in_pkts += 1;
        self.stats.in_bytes += data.len() as u64;
        // Only a datagram that is exactly one non-empty PUSH is worth keeping,
        // and only a buffer of sane size (it stays pinned until read).
        let steal = buf.capacity() <= max_kept_buffer(&self.cfg)
            && Header::decode(data).is_some_and(|h| {
                h.cmd == Command::Push as u8
                    && h.len > 0
                    && data.len() as u64 == OVERHEAD as u64 + u64::from(h.len)
            });
        self.steal_sn = None;
        let r = self.parse_input(data, true, steal);
        if r.is_err() {
            self.stats.in_errs += 1;
        }
        if let Some(sn) = self.steal_sn.take() {
            // The segment's slot takes `buf`; its previous buffer comes back
            // if it is large enough (always, once the slot took one before).
            let cap = buf.capacity();
            let taken = core::mem::take(buf);
            let old = self.rcv.give_buffer(sn, taken, start + OVERHEAD);
            *buf = if old.capacity() >= cap {
                old
            } else {
                Vec::with_capacity(cap)
            };
        }
        buf.clear();
        r
    }

    fn parse_input(&mut self, data: &[u8], regular: bool, steal: bool) -> Result<(), InputError> {
        let profile = self.cfg.profile;
        let prev_una = self.snd.base;
        if data.len() < OVERHEAD {
            return Err(InputError::TooShort);
        }
        let mut latest_ts = 0u32;
        let mut got_ack = false;
        let mut flush_segments = false;
        let mut maxack = 0u32;
        let mut rest = data;
        while let Some(h) = Header::decode(rest) {
            rest = &rest[OVERHEAD..];
            if h.conv != self.conv {
                return Err(InputError::ConvMismatch { got: h.conv });
            }
            if (rest.len() as u64) < u64::from(h.len) {
                return Err(InputError::Truncated);
            }
            let Some(cmd) = h.command() else {
                return Err(InputError::UnknownCommand(h.cmd));
            };
            // `h.len <= rest.len()` (checked above), so it fits a usize.
            let (payload, tail) = rest.split_at(h.len as usize);
            rest = tail;

            if regular || profile == Profile::Ikcp {
                self.rmt_wnd = u32::from(h.wnd);
            }
            if self.snd.remove_before(h.una) > 0 {
                flush_segments = true;
            }
            if profile == Profile::Ikcp {
                self.snd.pop_acked_front();
            }

            match cmd {
                Command::Ack => match profile {
                    Profile::KcpGo => {
                        self.mark_acked(h.sn);
                        flush_segments |= self.count_fastack_kcpgo(h.sn, h.ts);
                        got_ack = true;
                        latest_ts = h.ts;
                    }
                    Profile::Ikcp => {
                        let rtt = self.clock.now().wrapping_sub(h.ts) as i32;
                        if rtt >= 0 {
                            self.rtt.sample_ikcp(rtt, self.cfg.interval);
                        }
                        self.mark_acked(h.sn);
                        self.snd.pop_acked_front();
                        // IKCP_FASTACK_CONSERVE: remember the newest ack by sn *and* ts.
                        if !got_ack {
                            got_ack = true;
                            maxack = h.sn;
                            latest_ts = h.ts;
                        } else if (h.sn.wrapping_sub(maxack) as i32) > 0
                            && (h.ts.wrapping_sub(latest_ts) as i32) > 0
                        {
                            maxack = h.sn;
                            latest_ts = h.ts;
                        }
                    }
                },
                Command::Push => {
                    let mut repeat = true;
                    let rcv_wnd = self.cfg.rcv_wnd;
                    let rcv_nxt = self.rcv.rcv_nxt;
                    if (h.sn.wrapping_sub(rcv_nxt.wrapping_add(rcv_wnd)) as i32) < 0 {
                        // A flood of stale PUSHes between flushes must not grow
                        // memory without bound; a dropped ACK is repaired by
                        // the peer's retransmission (never hit by honest peers).
                        if self.acklist.len() < MAX_ACKLIST {
                            self.acklist.push((h.sn, h.ts));
                        } else {
                            self.stats.acks_dropped += 1;
                        }
                        if (h.sn.wrapping_sub(rcv_nxt) as i32) >= 0 {
                            // A segment that will keep the datagram buffer
                            // gets it after parsing (see `input_buffer`).
                            let stored = self.rcv.insert(h.sn, h.frg, rcv_wnd, payload, steal);
                            repeat = stored != Stored::New;
                            if steal && stored == Stored::New {
                                self.steal_sn = Some(h.sn);
                            }
                            self.rcv.release_in_order(rcv_wnd);
                        }
                    }
                    if regular && repeat {
                        self.stats.repeat_segs += 1;
                    }
                }
                Command::WindowAsk => self.probe |= ASK_TELL,
                Command::WindowTell => {}
            }
            self.stats.in_segs += 1;
        }

        match profile {
            Profile::KcpGo => {
                // One RTT sample per datagram, from the last ACK in it.
                if got_ack && regular {
                    let rtt = self.clock.now().wrapping_sub(latest_ts) as i32;
                    if rtt >= 0 {
                        self.rtt.sample_kcpgo(rtt, self.cfg.interval);
                    }
                }
            }
            Profile::Ikcp => {
                if got_ack {
                    self.count_fastack_ikcp(maxack, latest_ts);
                }
            }
        }

        if (profile == Profile::Ikcp || !self.cfg.nocwnd)
            && (self.snd.base.wrapping_sub(prev_una) as i32) > 0
        {
            self.grow_cwnd();
        }

        if profile == Profile::KcpGo {
            if flush_segments {
                self.flush_kcpgo(true);
            } else if self.acklist.len() >= (self.cfg.mtu as usize / OVERHEAD) {
                // Ack clocking: too many acks pending to wait for the timer.
                self.flush_kcpgo(false);
            } else if self.cfg.ack_nodelay && !self.acklist.is_empty() {
                self.flush_kcpgo(false);
            }
        }
        Ok(())
    }

    fn mark_acked(&mut self, sn: u32) {
        self.snd.mark_acked(sn);
    }

    /// kcp-go `parse_fastack`: every segment before `sn` sent no later than
    /// the ack's `ts` gains one fast-ack. Returns whether any reached the
    /// fast-resend threshold (which makes `input` flush at once).
    fn count_fastack_kcpgo(&mut self, sn: u32, ts: u32) -> bool {
        let Some(end) = self.snd.index_of(sn) else {
            return false;
        };
        let threshold = self.cfg.fastresend as u32;
        let mut reached = false;
        for i in 0..end {
            let seg = &mut self.snd.segs[i];
            if (seg.ts.wrapping_sub(ts) as i32) <= 0 && seg.fastack != FASTACK_SENTINEL {
                // Below the u32::MAX sentinel, so `+ 1` cannot overflow
                // (kcp-go: `seg.fastack++` on a uint32).
                seg.fastack += 1;
                if seg.fastack >= threshold {
                    reached = true;
                }
                if !seg.acked {
                    self.snd.list_fast(i);
                }
            }
        }
        reached
    }

    /// ikcp `parse_fastack` (conserve build): once per datagram, for the
    /// newest acknowledged `maxack`.
    fn count_fastack_ikcp(&mut self, maxack: u32, ts: u32) {
        let Some(end) = self.snd.index_of(maxack) else {
            return;
        };
        let resent = self.resent();
        for i in 0..end {
            let seg = &mut self.snd.segs[i];
            if !seg.acked && (ts.wrapping_sub(seg.ts) as i32) >= 0 {
                seg.fastack = seg.fastack.wrapping_add(1);
                if seg.fastack >= resent && self.fast_allowed_ikcp(i) {
                    self.snd.list_fast(i);
                }
            }
        }
    }

    fn fast_allowed_ikcp(&self, i: usize) -> bool {
        self.cfg.fastlimit <= 0 || self.snd.segs[i].xmit as i64 <= i64::from(self.cfg.fastlimit)
    }

    /// Congestion-window growth on cumulative ACK progress (Reno-style).
    fn grow_cwnd(&mut self) {
        if self.cwnd >= self.rmt_wnd {
            return;
        }
        let mss = self.mss;
        // cwnd < rmt_wnd here (a u16 from the wire, or the initial 32/128),
        // so `cwnd + 1` cannot overflow; the u32 products wrap as in kcp-go
        // and ikcp (`(cwnd + 1) * mss <= incr` in unsigned 32-bit).
        if self.cwnd < self.ssthresh {
            self.cwnd += 1;
            self.incr = self.incr.wrapping_add(mss);
        } else {
            if self.incr < mss {
                self.incr = mss;
            }
            self.incr = self
                .incr
                .wrapping_add(mss.wrapping_mul(mss) / self.incr + mss / 16);
            if (self.cwnd + 1).wrapping_mul(mss) <= self.incr {
                // mss >= 1: the MTU setter requires mtu > 24.
                self.cwnd = self.incr.wrapping_add(mss - 1) / mss;
            }
        }
        if self.cwnd > self.rmt_wnd {
            self.cwnd = self.rmt_wnd;
            self.incr = self.rmt_wnd.wrapping_mul(mss);
        }
    }

    fn resent(&self) -> u32 {
        if self.cfg.fastresend > 0 {
            self.cfg.fastresend as u32
        } else {
            u32::MAX
        }
    }

    // ------------------------------------------------------------------
    // Time
    // ------------------------------------------------------------------

    /// Flushes now: pending ACKs, window probes, newly admitted and due
    /// segments all go out (as datagrams for [`poll_transmit`](Kcp::poll_transmit)).
    /// Returns the milliseconds until the next flush is useful: kcp-go's
    /// `flush` return value in that profile (the interval, or sooner if a
    /// retransmission is due sooner), ikcp's `check` distance in the other.
    ///
    /// Event loops normally call [`handle_timeout`](Kcp::handle_timeout)
    /// instead, which also keeps the timer.
    pub fn flush(&mut self, now: Timestamp) -> u32 {
        self.clock.advance(now);
        match self.cfg.profile {
            Profile::KcpGo => {
                self.write_pending = false;
                self.flush_kcpgo(true)
            }
            Profile::Ikcp => {
                self.flush_ikcp();
                self.check_ikcp().wrapping_sub(self.clock.now())
            }
        }
    }

    /// Runs the timers due at `now`. kcp-go profile: the flush a `send`
    /// asked for, then the interval flush if due (re-armed at the delay that
    /// flush returns, as kcp-go's session does). ikcp profile: `ikcp_update`.
    pub fn handle_timeout(&mut self, now: Timestamp) {
        self.clock.advance(now);
        match self.cfg.profile {
            Profile::KcpGo => {
                if self.write_pending {
                    self.write_pending = false;
                    self.flush_kcpgo(true);
                }
                if self.clock.ext() >= self.next_flush {
                    let delay = self.flush_kcpgo(true);
                    self.next_flush = self.clock.ext() + i64::from(delay);
                }
            }
            Profile::Ikcp => self.update_ikcp(),
        }
    }

    /// When [`handle_timeout`](Kcp::handle_timeout) must next be called, or
    /// `None` if nothing is pending at all (no data queued or unacknowledged,
    /// no ACK owed, no window probe): an idle kcp-go-profile endpoint needs no
    /// timer. A time in the past means "now".
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        match self.cfg.profile {
            Profile::KcpGo => {
                if self.write_pending {
                    return Some(self.clock.now_ts());
                }
                if self.is_idle() {
                    return None;
                }
                let at = self.next_flush.max(self.clock.ext());
                Some(self.clock.ts_at(at))
            }
            Profile::Ikcp => {
                if !self.updated {
                    return Some(self.clock.now_ts());
                }
                let ts = Timestamp::from_millis(self.ts_flush);
                if self.clock.now_ts().reached(ts) {
                    Some(self.clock.now_ts())
                } else {
                    Some(ts)
                }
            }
        }
    }

    /// The kcp-go profile's interval timer: when the next periodic flush is
    /// scheduled, even while idle.
    pub fn next_flush(&self) -> Timestamp {
        self.clock.ts_at(self.next_flush)
    }

    fn is_idle(&self) -> bool {
        self.acklist.is_empty()
            && self.snd.queued() == 0
            && self.snd.unacked() == 0
            && self.probe == 0
            && self.rmt_wnd != 0
            && self.probe_wait == 0
            && (self.cfg.nocwnd || self.cwnd >= 1)
    }

    /// The next datagram to send, borrowed until the next call. Its buffer
    /// has the configured head and tail room around the KCP payload.
    ///
    /// Without head or tail room, a data segment that fills a datagram on its
    /// own is lent from the segment's own buffer (no copy); a datagram whose
    /// only segment was acknowledged or retransmitted again before it was
    /// polled is skipped as obsolete.
    pub fn poll_transmit(&mut self) -> Option<Transmit<'_>> {
        loop {
            match self.out.front()? {
                Ready::Owned => return self.out.poll_owned(),
                Ready::Lent { sn, xmit } => {
                    self.out.pop_lent();
                    if let Some(i) = self.snd.index_of(sn) {
                        let seg = &self.snd.segs[i];
                        if !seg.acked && seg.xmit == xmit {
                            return Some(self.out.lent_transmit(&seg.data));
                        }
                    }
                }
            }
        }
    }

    /// Copies the next datagram's KCP payload into `buf`; returns its length,
    /// or `None` if none is queued (or `buf` is too small to hold it).
    pub fn poll_transmit_into(&mut self, buf: &mut [u8]) -> Option<usize> {
        loop {
            match self.out.front()? {
                Ready::Owned => return self.out.poll_owned_into(buf),
                Ready::Lent { sn, xmit } => {
                    let live = self
                        .snd
                        .index_of(sn)
                        .map(|i| &self.snd.segs[i])
                        .filter(|s| !s.acked && s.xmit == xmit);
                    if let Some(seg) = live {
                        let n = seg.data.len();
                        if buf.len() < n {
                            return None;
                        }
                        buf[..n].copy_from_slice(&seg.data);
                        self.out.pop_lent();
                        self.out.count(n);
                        return Some(n);
                    }
                    self.out.pop_lent();
                }
            }
        }
    }

    /// Datagrams waiting for [`poll_transmit`](Kcp::poll_transmit).
    pub fn pending_transmits(&self) -> usize {
        self.out.ready_len()
    }

    // ------------------------------------------------------------------
    // Flush, kcp-go flavour (spec kcp-wire.md §8.4, kcpgo-vs-ikcp.md §C)
    // ------------------------------------------------------------------

    /// Writes the ACK list, probe handling and WASK/WINS; returns the header
    /// template (its sn/ts are those of the last ACK written, a quirk both
    /// references share and byte-exact traces show).
    fn flush_control(&mut self, elide_old_acks: bool) -> Header {
        let mut h = Header {
            conv: self.conv,
            cmd: Command::Ack as u8,
            frg: 0,
            wnd: self.rcv.wnd_unused(self.cfg.rcv_wnd),
            ts: 0,
            sn: 0,
            una: self.rcv.rcv_nxt,
            len: 0,
        };
        let n = self.acklist.len();
        for (i, &(sn, ts)) in self.acklist.iter().enumerate() {
            self.out.make_space(OVERHEAD);
            // kcp-go drops ACKs below rcv_nxt (una covers them), except the last.
            if !elide_old_acks || (sn.wrapping_sub(h.una) as i32) >= 0 || i + 1 == n {
                h.sn = sn;
                h.ts = ts;
                self.out.write_header(&h);
                self.stats.out_segs += 1;
            } else {
                self.stats.acks_elided += 1;
            }
        }
        self.acklist.clear();

        let now = self.clock.now();
        let probe_init = self.cfg.profile.probe_init();
        if self.rmt_wnd == 0 {
            if self.probe_wait == 0 {
                self.probe_wait = probe_init;
                self.ts_probe = now.wrapping_add(self.probe_wait);
            } else if (now.wrapping_sub(self.ts_probe) as i32) >= 0 {
                if self.probe_wait < probe_init {
                    self.probe_wait = probe_init;
                }
                // probe_wait <= PROBE_LIMIT (clamped below): no overflow.
                self.probe_wait += self.probe_wait / 2;
                if self.probe_wait > PROBE_LIMIT {
                    self.probe_wait = PROBE_LIMIT;
                }
                self.ts_probe = now.wrapping_add(self.probe_wait);
                self.probe |= ASK_SEND;
            }
        } else {
            self.ts_probe = 0;
            self.probe_wait = 0;
        }

        if self.probe & ASK_SEND != 0 {
            h.cmd = Command::WindowAsk as u8;
            self.out.make_space(OVERHEAD);
            self.out.write_header(&h);
            self.stats.out_segs += 1;
        }
        if self.probe & ASK_TELL != 0 {
            h.cmd = Command::WindowTell as u8;
            self.out.make_space(OVERHEAD);
            self.out.write_header(&h);
            self.stats.out_segs += 1;
        }
        self.probe = 0;
        h
    }

    /// Effective window `min(snd_wnd, rmt_wnd[, cwnd])`.
    fn effective_window(&self) -> u32 {
        let w = self.cfg.snd_wnd.min(self.rmt_wnd);
        if self.cfg.nocwnd { w } else { w.min(self.cwnd) }
    }

    /// Moves segments from the queue into the window; returns how many.
    fn admit(&mut self, cwnd: u32) -> usize {
        let mut n = 0;
        while (self
            .snd
            .end()
            .wrapping_sub(self.snd.base.wrapping_add(cwnd)) as i32)
            < 0
        {
            let Some(i) = self.snd.admit_next() else {
                break;
            };
            let seg = &mut self.snd.segs[i];
            seg.rto = self.rtt.rto;
            seg.ts = self.clock.now();
            seg.resendts = self.clock.now();
            n += 1;
        }
        n
    }

    fn flush_kcpgo(&mut self, full: bool) -> u32 {
        let h = self.flush_control(true);
        let cwnd = self.effective_window();
        let new_segs = self.admit(cwnd);
        let resent = if self.cfg.fastresend <= 0 {
            u32::MAX
        } else {
            self.cfg.fastresend as u32
        };
        let now = self.clock.now();
        let mut next_update = self.cfg.interval;
        let (mut change, mut lost) = (0u64, 0u64);

        if full {
            self.snd.collect_due(self.clock.ext());
            let due = core::mem::take(&mut self.snd.scratch);
            let first_unsent = self.snd.first_unsent();
            let seg_count = self.snd.len();
            for i in due.iter().map(|&i| i as usize) {
                let seg = &mut self.snd.segs[i];
                if seg.acked {
                    continue;
                }
                let send = if seg.xmit == 0 {
                    seg.rto = self.rtt.rto;
                    true
                } else if seg.fastack >= resent && seg.fastack != FASTACK_SENTINEL {
                    seg.fastack = FASTACK_SENTINEL;
                    seg.rto = self.rtt.rto;
                    change += 1;
                    self.stats.fast_retrans_segs += 1;
                    true
                } else if seg.fastack > 0 && seg.fastack != FASTACK_SENTINEL && new_segs == 0 {
                    // Early retransmit: something later was acked and nothing new is going out.
                    seg.fastack = FASTACK_SENTINEL;
                    seg.rto = self.rtt.rto;
                    change += 1;
                    self.stats.early_retrans_segs += 1;
                    true
                } else if (now.wrapping_sub(seg.resendts) as i32) >= 0 {
                    let step = if self.cfg.nodelay == 0 {
                        self.rtt.rto
                    } else {
                        self.rtt.rto / 2
                    };
                    seg.rto = seg.rto.wrapping_add(step);
                    seg.fastack = 0;
                    lost += 1;
                    true
                } else {
                    false
                };
                if send {
                    seg.resendts = now.wrapping_add(seg.rto);
                    self.transmit_segment(i, &h);
                }
                self.snd.relist_if_fast_candidate(i);
            }
            // Never-sent segments take the first branch above; the bulk of a
            // busy flush, so in a loop of their own.
            let rto = self.rtt.rto;
            for i in first_unsent..seg_count {
                let seg = &mut self.snd.segs[i];
                if seg.acked {
                    continue;
                }
                debug_assert_eq!(seg.xmit, 0, "a segment past sent_nxt was sent");
                seg.rto = rto;
                seg.resendts = now.wrapping_add(rto);
                self.transmit_segment(i, &h);
                self.snd.relist_if_fast_candidate(i);
            }
            self.snd.sent_nxt = self.snd.end();
            self.snd.scratch = due;
            if let Some(at) = self.snd.next_resend() {
                let d = at - self.clock.ext();
                if d > 0 && (d as u64) < u64::from(next_update) {
                    next_update = d as u32;
                }
            }
        }
        self.out.finish();

        self.stats.lost_segs += lost;
        self.stats.retrans_segs += lost + change; // fast and early retransmissions are both "change"
        if !self.cfg.nocwnd {
            self.react_to_loss(change > 0, lost > 0, resent, cwnd);
        }
        next_update
    }

    /// Writes segment `i` with fresh `ts`/`wnd`/`una`, and arms its timer.
    #[inline]
    fn transmit_segment(&mut self, i: usize, h: &Header) {
        let now = self.clock.now();
        let seg = &mut self.snd.segs[i];
        seg.xmit = seg.xmit.wrapping_add(1);
        seg.ts = now;
        let len = seg.payload_len();
        let hdr = Header {
            conv: self.conv,
            cmd: Command::Push as u8,
            frg: seg.frg,
            wnd: h.wnd,
            ts: now,
            sn: seg.sn,
            una: h.una,
            len: len as u32,
        };
        if self.out.can_lend(len) {
            // The segment fills a datagram on its own: send it from its own
            // buffer, header written into the room reserved in front.
            let dst: &mut [u8; OVERHEAD] = (&mut seg.data[..OVERHEAD]).try_into().expect("room");
            hdr.encode(dst);
            self.out.lend(seg.sn, seg.xmit);
        } else {
            self.out.make_space(OVERHEAD + len);
            self.out.write_header(&hdr);
            self.out.write_payload(seg.payload());
        }
        self.stats.out_segs += 1;
        if seg.xmit >= self.cfg.dead_link {
            self.dead = true;
        }
        let at = self.clock.ext_of(seg.resendts);
        let sn = seg.sn;
        self.snd.arm(at, sn);
    }

    /// Congestion reaction after a flush (shared by both profiles).
    fn react_to_loss(&mut self, fast: bool, timeout: bool, resent: u32, cwnd: u32) {
        if fast {
            let inflight = self.snd.end().wrapping_sub(self.snd.base);
            self.ssthresh = (inflight / 2).max(THRESH_MIN);
            // With resend 0 kcp-go adds 0xFFFFFFFF: the wrap gives ssthresh - 1.
            self.cwnd = self.ssthresh.wrapping_add(resent);
            self.incr = self.cwnd.wrapping_mul(self.mss);
        }
        if timeout {
            self.ssthresh = (cwnd / 2).max(THRESH_MIN);
            self.cwnd = 1;
            self.incr = self.mss;
        }
        if self.cwnd < 1 {
            self.cwnd = 1;
            self.incr = self.mss;
        }
    }

    // ------------------------------------------------------------------
    // Flush, ikcp flavour
    // ------------------------------------------------------------------

    fn flush_ikcp(&mut self) {
        if !self.updated {
            return;
        }
        let h = self.flush_control(false);
        let cwnd = self.effective_window();
        self.admit(cwnd);
        let resent = self.resent();
        let rtomin = if self.cfg.nodelay == 0 {
            self.rtt.rto >> 3
        } else {
            0
        };
        let now = self.clock.now();
        let (mut change, mut lost) = (0u64, 0u64);

        self.snd.collect_due(self.clock.ext());
        let due = core::mem::take(&mut self.snd.scratch);
        let first_unsent = self.snd.first_unsent();
        let seg_count = self.snd.len();
        for i in due
            .iter()
            .map(|&i| i as usize)
            .chain(first_unsent..seg_count)
        {
            let fast_ok = self.fast_allowed_ikcp(i);
            let seg = &mut self.snd.segs[i];
            if seg.acked {
                continue;
            }
            let send = if seg.xmit == 0 {
                seg.rto = self.rtt.rto;
                seg.resendts = now.wrapping_add(seg.rto).wrapping_add(rtomin);
                true
            } else if (now.wrapping_sub(seg.resendts) as i32) >= 0 {
                let step = match self.cfg.nodelay {
                    0 => seg.rto.max(self.rtt.rto),
                    1 => seg.rto / 2,
                    _ => self.rtt.rto / 2,
                };
                seg.rto = seg.rto.wrapping_add(step);
                seg.resendts = now.wrapping_add(seg.rto);
                lost += 1;
                true
            } else if seg.fastack >= resent && fast_ok {
                seg.fastack = 0;
                seg.resendts = now.wrapping_add(seg.rto);
                change += 1;
                self.stats.fast_retrans_segs += 1;
                true
            } else {
                false
            };
            if send {
                self.transmit_segment(i, &h);
            }
            if self.snd.segs[i].fastack >= resent && self.fast_allowed_ikcp(i) {
                self.snd.list_fast(i);
            }
        }
        self.snd.sent_nxt = self.snd.end();
        self.snd.scratch = due;
        self.out.finish();

        self.stats.lost_segs += lost;
        self.stats.retrans_segs += lost + change;
        self.react_to_loss(change > 0, lost > 0, resent, cwnd);
    }

    /// `ikcp_update`: flush once per interval.
    fn update_ikcp(&mut self) {
        let now = self.clock.now();
        if !self.updated {
            self.updated = true;
            self.ts_flush = now;
        }
        let mut slap = now.wrapping_sub(self.ts_flush) as i32;
        if !(-10000..10000).contains(&slap) {
            self.ts_flush = now;
            slap = 0;
        }
        if slap >= 0 {
            self.ts_flush = self.ts_flush.wrapping_add(self.cfg.interval);
            if (now.wrapping_sub(self.ts_flush) as i32) >= 0 {
                self.ts_flush = now.wrapping_add(self.cfg.interval);
            }
            self.flush_ikcp();
        }
    }

    /// `ikcp_check`: when `update` should run next.
    fn check_ikcp(&mut self) -> u32 {
        let now = self.clock.now();
        if !self.updated {
            return now;
        }
        let mut ts_flush = self.ts_flush;
        let d = now.wrapping_sub(ts_flush) as i32;
        if !(-10000..10000).contains(&d) {
            ts_flush = now;
        }
        if (now.wrapping_sub(ts_flush) as i32) >= 0 {
            return now;
        }
        let tm_flush = ts_flush.wrapping_sub(now) as i32;
        let tm_packet = match self.snd.next_resend() {
            Some(at) => {
                let d = at - self.clock.ext();
                if d <= 0 {
                    return now;
                }
                d.min(i64::from(i32::MAX)) as i32
            }
            None => i32::MAX,
        };
        let minimal = (tm_packet.min(tm_flush) as u32).min(self.cfg.interval);
        now.wrapping_add(minimal)
    }
}

#[cfg(feature = "sim")]
impl crate::sim::Endpoint for Kcp {
    fn handle_input(&mut self, datagram: &[u8], now: Timestamp) {
        // Errors are counted in `stats().in_errs`.
        let _ = self.input(datagram, now);
    }

    fn poll_transmit(&mut self, _now: Timestamp, buf: &mut [u8]) -> Option<usize> {
        self.poll_transmit_into(buf)
    }

    fn poll_timeout(&self) -> Option<Timestamp> {
        Kcp::poll_timeout(self)
    }

    fn handle_timeout(&mut self, now: Timestamp) {
        Kcp::handle_timeout(self, now);
    }

    fn max_datagram_size(&self) -> usize {
        // The simulator sizes its buffer once, and the MTU may change later:
        // raised, or shrunk with segments of the old size still queued (each
        // leaves alone, as large as the MTU it was cut for). No datagram is
        // larger than the largest MTU the setter accepts.
        65_535
    }
}
