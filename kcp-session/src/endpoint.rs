//! [`Endpoint`]: kcp-go's listener demux as a sans-IO state machine.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;

use kcp_core::Timestamp;
use kcp_crypto::{Crypt, CryptError};
use kcp_fec::{MIN_DATAGRAM, PacketKind, packet_kind};

use crate::demux::{Peek, peek};
use crate::replay::{ReplayConfig, ReplayFilter, ReplayKey, received_nonce};
use crate::timer::{ExtClock, TimerHeap};
use crate::{ConfigError, Connection, Event, Layout, SessionConfig, Stats};

/// kcp-go's `acceptBacklog`.
pub const DEFAULT_ACCEPT_BACKLOG: usize = 128;
/// Default cap on live sessions (kcp-go has none; this bounds memory).
pub const DEFAULT_MAX_SESSIONS: usize = 16_384;

/// Listener settings.
///
/// ```
/// use kcp_session::{EndpointConfig, SessionConfig};
/// let cfg = EndpointConfig::new(SessionConfig::kcptun_server());
/// assert_eq!(cfg.accept_backlog, 128);
/// ```
#[derive(Clone, Debug)]
pub struct EndpointConfig {
    /// Options of every session the endpoint creates (its crypt and FEC
    /// settings also decide how incoming datagrams are opened).
    pub session: SessionConfig,
    /// Sessions created but not yet [`accept`](Endpoint::accept)ed; a new
    /// peer beyond this is dropped ([`DropReason::BacklogFull`]).
    pub accept_backlog: usize,
    /// Live sessions at most ([`DropReason::TooManySessions`] beyond).
    pub max_sessions: usize,
    /// Replay protection: how many nonces the two filters remember
    /// ([`crate::replay`]); a repeat is dropped as [`DropReason::Replay`].
    pub replay: ReplayConfig,
    /// A datagram from an address without a session opens one only if it
    /// carries the first segment of a stream (PUSH with `sn` 0), as every
    /// kcp-go client's first datagram does, or is an OOB packet (which a
    /// client may send first; a session it opens sends nothing by itself);
    /// others are dropped as
    /// [`DropReason::NotOpening`] (default `true`). kcp-go opens a session
    /// for any well-formed datagram, so a replayed datagram from the middle
    /// of an old session (beyond the replay filter's short horizon) would
    /// open one and draw an answer. A client whose first datagram is lost
    /// opens with its retransmission of segment 0 instead.
    pub strict_open: bool,
}

impl EndpointConfig {
    /// `session` with kcp-go's backlog (128) and [`DEFAULT_MAX_SESSIONS`].
    pub fn new(session: SessionConfig) -> Self {
        EndpointConfig {
            session,
            accept_backlog: DEFAULT_ACCEPT_BACKLOG,
            max_sessions: DEFAULT_MAX_SESSIONS,
            replay: ReplayConfig::default(),
            strict_open: true,
        }
    }
}

/// Why the endpoint dropped a datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DropReason {
    /// Shorter than the crypt header (+ tag): kcp-go drops these silently.
    CryptTooShort,
    /// Longer than the crypt layer accepts.
    CryptTooLong,
    /// Non-AEAD CRC mismatch (kcp-go `InCsumErrors`).
    Checksum,
    /// AEAD authentication failure (kcp-go `InCsumErrors`).
    Auth,
    /// Plaintext shorter than 12 bytes.
    PlaintextTooShort,
    /// Raw KCP shorter than a header, or (for a new peer) not parseable as
    /// KCP segments of one conv.
    Malformed,
    /// Parity or a too-short FEC data shard from an unknown address.
    NoConv,
    /// Known address, different conv, `sn != 0` (spec §6).
    ConvMismatch,
    /// New peer while the accept backlog is full.
    BacklogFull,
    /// New peer while [`EndpointConfig::max_sessions`] are live.
    TooManySessions,
    /// Building the session failed (the OS random source for nonces).
    SessionSetup,
    /// Authenticated, but its nonce was seen before: a replayed (or
    /// network-duplicated) datagram ([`EndpointConfig::replay`]).
    Replay,
    /// New peer, but the datagram does not carry a stream's first segment
    /// ([`EndpointConfig::strict_open`]).
    NotOpening,
}

impl DropReason {
    /// Number of reasons.
    pub const COUNT: usize = 13;
    /// Every reason, in [`EndpointStats::dropped`] order.
    pub const ALL: [DropReason; Self::COUNT] = [
        DropReason::CryptTooShort,
        DropReason::CryptTooLong,
        DropReason::Checksum,
        DropReason::Auth,
        DropReason::PlaintextTooShort,
        DropReason::Malformed,
        DropReason::NoConv,
        DropReason::ConvMismatch,
        DropReason::BacklogFull,
        DropReason::TooManySessions,
        DropReason::SessionSetup,
        DropReason::Replay,
        DropReason::NotOpening,
    ];

    fn index(self) -> usize {
        self as usize
    }
}

/// The endpoint's own accounting: every datagram given to
/// [`Endpoint::handle_datagram`] is either delivered or dropped for one reason.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EndpointStats {
    /// Datagrams given to `handle_datagram`.
    pub received: u64,
    /// Datagrams handed to a session.
    pub delivered: u64,
    /// Drops, indexed like [`DropReason::ALL`].
    pub dropped: [u64; DropReason::COUNT],
    /// Sessions created (kcp-go `PassiveOpens`).
    pub sessions_created: u64,
    /// Sessions replaced by a reconnect (new conv with `sn == 0`).
    pub reconnects: u64,
}

impl EndpointStats {
    /// Drops for one reason.
    pub fn dropped(&self, reason: DropReason) -> u64 {
        self.dropped[reason.index()]
    }

    /// All drops.
    pub fn total_dropped(&self) -> u64 {
        self.dropped.iter().sum()
    }
}

/// Names a connection of an [`Endpoint`]. A handle outlives its connection
/// safely: once the slot is reused, the old handle finds nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnectionHandle {
    index: u32,
    generation: u32,
}

#[derive(Debug)]
struct Entry<A> {
    conn: Connection,
    addr: A,
    /// The deadline the heap holds for this slot (others are stale).
    timer_at: Option<i64>,
    in_tx: bool,
    in_events: bool,
    dirty: bool,
    accepted: bool,
    /// Closed and unregistered; freed once its output is drained.
    closing: bool,
}

#[derive(Debug)]
struct Slot<A> {
    generation: u32,
    entry: Option<Entry<A>>,
}

/// Server side of kcp-go's `Listener`, sans-IO, generic over the peer
/// address type.
///
/// Every datagram is opened once with the listener's cipher, then routed
/// by source address (spec session.md §6): to the address's session if the
/// conv matches (or cannot be read, e.g. parity); a different conv with
/// `sn == 0` replaces the session (reconnect), with `sn != 0` it is
/// dropped; from a new address, a datagram that carries a conv and parses
/// as KCP opens a session, queued for [`accept`](Self::accept) (at most
/// `accept_backlog` waiting). Datagrams that fail any check never create
/// state; each is counted by [`DropReason`].
///
/// Timers of all sessions sit on one heap: [`poll_timeout`](Self::poll_timeout)
/// is the earliest deadline and [`handle_timeout`](Self::handle_timeout) runs
/// only the sessions due. After the application touches a session through
/// [`connection_mut`](Self::connection_mut) the endpoint re-checks its
/// timer and output on the next call.
///
/// See the crate docs for a complete round trip.
#[derive(Debug)]
pub struct Endpoint<A> {
    config: EndpointConfig,
    crypt: Crypt,
    clock: ExtClock,
    clock_set: bool,
    slots: Vec<Slot<A>>,
    free: Vec<u32>,
    live: usize,
    by_addr: HashMap<A, ConnectionHandle>,
    accept_queue: VecDeque<ConnectionHandle>,
    timers: TimerHeap,
    tx_ready: VecDeque<(u32, u32)>,
    event_ready: VecDeque<(u32, u32)>,
    closed_events: VecDeque<ConnectionHandle>,
    dirty: Vec<u32>,
    due: Vec<u32>,
    stats: EndpointStats,
    /// Every authenticated datagram's nonce (short horizon).
    recent: ReplayFilter,
    /// Nonces of datagrams that open or try to open a session (long horizon).
    openers: ReplayFilter,
    /// Most sessions held at once (the listener's `MaxConn`).
    peak: usize,
    /// Counters of sessions already freed, and the listener's own
    /// pre-lookup checksum failures.
    retired: Stats,
}

impl<A: Copy + Eq + Hash> Endpoint<A> {
    /// A listener whose sessions use `config.session`.
    pub fn new(config: EndpointConfig) -> Result<Self, ConfigError> {
        Layout::new(&config.session)?;
        let crypt = Crypt::new(config.session.crypt.name, &config.session.crypt.key)
            .map_err(ConfigError::Crypt)?;
        Ok(Endpoint {
            crypt,
            clock: ExtClock::new(Timestamp::from_millis(0)),
            clock_set: false,
            slots: Vec::new(),
            free: Vec::new(),
            live: 0,
            by_addr: HashMap::new(),
            accept_queue: VecDeque::new(),
            timers: TimerHeap::default(),
            tx_ready: VecDeque::new(),
            event_ready: VecDeque::new(),
            closed_events: VecDeque::new(),
            dirty: Vec::new(),
            due: Vec::new(),
            stats: EndpointStats::default(),
            recent: ReplayFilter::new(config.replay.recent, ReplayKey::process()),
            openers: ReplayFilter::new(config.replay.openers, ReplayKey::process()),
            peak: 0,
            retired: Stats::default(),
            config,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &EndpointConfig {
        &self.config
    }

    /// Datagram accounting.
    pub fn stats(&self) -> &EndpointStats {
        &self.stats
    }

    /// kcp-go's SNMP view of this listener: all its sessions, live and
    /// freed, summed, plus the checksum failures seen before any lookup.
    ///
    /// Summed over every session, live and gone, except `MaxConn`: the
    /// most sessions the endpoint held at once (kcp-go's global counter),
    /// not one session's own peak. `CurrEstab` is the number of sessions
    /// not closed yet.
    pub fn snmp(&self) -> Stats {
        let mut s = self.retired;
        for e in self.slots.iter().filter_map(|s| s.entry.as_ref()) {
            s.add(&e.conn.stats());
        }
        s.max_conn = (self.peak as u64).max(s.curr_estab);
        s
    }

    /// Live sessions (accepted or not, closing ones included).
    pub fn len(&self) -> usize {
        self.live
    }

    /// `true` without sessions.
    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// Sessions waiting in the accept queue.
    pub fn backlog(&self) -> usize {
        self.accept_queue.len()
    }

    /// The session currently registered for `addr`.
    pub fn handle_of(&self, addr: &A) -> Option<ConnectionHandle> {
        self.by_addr.get(addr).copied()
    }

    /// The peer address of a session.
    pub fn addr(&self, h: ConnectionHandle) -> Option<A> {
        self.entry(h).map(|e| e.addr)
    }

    /// A session, read-only.
    pub fn connection(&self, h: ConnectionHandle) -> Option<&Connection> {
        self.entry(h).map(|e| &e.conn)
    }

    /// A session, to send, read or change settings. Marks it for a timer
    /// and output re-check at the next endpoint call.
    pub fn connection_mut(&mut self, h: ConnectionHandle) -> Option<&mut Connection> {
        let e = self.entry_mut(h)?;
        let mark = !e.dirty;
        e.dirty = true;
        if mark {
            self.dirty.push(h.index);
        }
        self.entry_mut(h).map(|e| &mut e.conn)
    }

    /// The next session opened by a peer, and the peer's address.
    pub fn accept(&mut self) -> Option<(ConnectionHandle, A)> {
        while let Some(h) = self.accept_queue.pop_front() {
            if let Some(e) = self.entry_mut(h) {
                e.accepted = true;
                return Some((h, e.addr));
            }
        }
        None
    }

    /// Processes one datagram from `from`; returns the session it was
    /// delivered to (new or existing), `None` if it was dropped.
    pub fn handle_datagram(
        &mut self,
        now: Timestamp,
        from: A,
        datagram: &mut [u8],
    ) -> Option<ConnectionHandle> {
        self.stats.received += 1;
        self.tick(now);
        // Both filters share the process key: one fingerprint serves both.
        let fp =
            received_nonce(datagram, self.crypt.nonce_len()).map(|n| self.recent.fingerprint_of(n));
        let range = match self.crypt.open_in_place(datagram) {
            Ok(r) => r,
            Err(e) => {
                let reason = match e {
                    CryptError::Checksum => DropReason::Checksum,
                    CryptError::Auth => DropReason::Auth,
                    CryptError::TooLong { .. } => DropReason::CryptTooLong,
                    _ => DropReason::CryptTooShort,
                };
                if matches!(reason, DropReason::Checksum | DropReason::Auth) {
                    self.retired.in_csum_errors += 1;
                }
                return self.drop_datagram(reason);
            }
        };
        let plain = &datagram[range];
        // The listener drops short plaintexts silently (spec §5).
        if plain.len() < MIN_DATAGRAM {
            return self.drop_datagram(DropReason::PlaintextTooShort);
        }
        let info = peek(plain);
        if info == Peek::Malformed {
            return self.drop_datagram(DropReason::Malformed);
        }
        let opening = matches!(info, Peek::Conv { opening: true, .. });
        // kcp-go's OOB packets open sessions too (a client may send one
        // before any data); a session opened by one sends nothing by itself.
        let can_open = opening || packet_kind(plain) == Some(PacketKind::Oob);
        if let Some(fp) = fp {
            if self.recent.check_and_insert_fingerprint(fp) {
                return self.drop_datagram(DropReason::Replay);
            }
            // A stream's first segment is remembered much longer, wherever
            // it goes, so that no replay of it can open a session later.
            if opening && self.openers.check_and_insert_fingerprint(fp) {
                return self.drop_datagram(DropReason::Replay);
            }
        }
        if let Some(h) = self.handle_of(&from) {
            let conv = self.entry(h).map(|e| e.conn.conv());
            match info {
                Peek::Conv { conv: c, sn, .. } if Some(c) != conv => {
                    if sn != 0 {
                        return self.drop_datagram(DropReason::ConvMismatch);
                    }
                    if self.config.strict_open && !can_open {
                        return self.drop_datagram(DropReason::NotOpening);
                    }
                    // Reconnect: the peer restarted with a new conv.
                    self.stats.reconnects += 1;
                    self.close_inner(h, now, true);
                }
                _ => {
                    self.deliver(h, now, plain);
                    return Some(h);
                }
            }
        }
        let conv = match info {
            Peek::Conv {
                conv,
                well_formed: true,
                ..
            } => conv,
            Peek::Conv { .. } | Peek::Malformed => {
                return self.drop_datagram(DropReason::Malformed);
            }
            Peek::NoConv => return self.drop_datagram(DropReason::NoConv),
        };
        if self.config.strict_open && !can_open {
            return self.drop_datagram(DropReason::NotOpening);
        }
        // An OOB packet, or without the strict rule any datagram, may open
        // a session: remember every one that tries (openings already are).
        if !opening
            && let Some(fp) = fp
            && self.openers.check_and_insert_fingerprint(fp)
        {
            return self.drop_datagram(DropReason::Replay);
        }
        if self.accept_queue.len() >= self.config.accept_backlog {
            return self.drop_datagram(DropReason::BacklogFull);
        }
        if self.live >= self.config.max_sessions {
            return self.drop_datagram(DropReason::TooManySessions);
        }
        let Ok(conn) = Connection::accept(conv, &self.config.session, now) else {
            return self.drop_datagram(DropReason::SessionSetup);
        };
        let h = self.insert(conn, from);
        self.stats.sessions_created += 1;
        self.accept_queue.push_back(h);
        self.by_addr.insert(from, h);
        self.deliver(h, now, plain);
        Some(h)
    }

    /// Writes the next datagram of any session into `buf` (at least
    /// [`MAX_DATAGRAM`](crate::MAX_DATAGRAM) bytes) and returns its
    /// destination and length. Sessions take turns, one datagram each.
    pub fn poll_transmit(&mut self, now: Timestamp, buf: &mut [u8]) -> Option<(A, usize)> {
        self.tick(now);
        self.flush_dirty();
        while let Some(&(index, generation)) = self.tx_ready.front() {
            let slot = &mut self.slots[index as usize];
            let Some(e) = slot
                .entry
                .as_mut()
                .filter(|_| slot.generation == generation)
            else {
                self.tx_ready.pop_front();
                continue;
            };
            if let Some(n) = e.conn.poll_transmit(now, buf) {
                let addr = e.addr;
                self.tx_ready.rotate_left(1);
                return Some((addr, n));
            }
            e.in_tx = false;
            self.tx_ready.pop_front();
            // Rate limiting may have armed a timer; a drained closing
            // session can go.
            self.rearm(index);
            self.reap(index);
        }
        None
    }

    /// The earliest deadline over all sessions (`None` = all idle).
    pub fn poll_timeout(&mut self) -> Option<Timestamp> {
        self.flush_dirty();
        while let Some((at, index, generation)) = self.timers.peek() {
            if self.valid_timer(at, index, generation) {
                return Some(self.clock.to_ts(at));
            }
            self.timers.pop();
        }
        None
    }

    /// Runs the sessions whose deadline is at or before `now`, only those.
    pub fn handle_timeout(&mut self, now: Timestamp) {
        let now_ext = self.tick(now);
        self.flush_dirty();
        let mut due = std::mem::take(&mut self.due);
        while let Some((at, index, generation)) = self.timers.peek() {
            if at > now_ext {
                break;
            }
            self.timers.pop();
            if self.valid_timer(at, index, generation) {
                if let Some(e) = self.slots[index as usize].entry.as_mut() {
                    e.timer_at = None;
                }
                due.push(index);
            }
        }
        for &index in &due {
            if let Some(e) = self.slots[index as usize].entry.as_mut() {
                e.conn.handle_timeout(now);
            }
            self.sync(index);
        }
        due.clear();
        self.due = due;
        self.compact_timers();
    }

    /// The next event of any session: [`Event::Closed`] for accepted
    /// sessions the endpoint replaced, then per-session events.
    pub fn poll_event(&mut self) -> Option<(ConnectionHandle, Event)> {
        self.flush_dirty();
        if let Some(h) = self.closed_events.pop_front() {
            return Some((h, Event::Closed));
        }
        while let Some(&(index, generation)) = self.event_ready.front() {
            let slot = &mut self.slots[index as usize];
            if let Some(e) = slot
                .entry
                .as_mut()
                .filter(|_| slot.generation == generation)
            {
                if let Some(ev) = e.conn.poll_event() {
                    return Some((ConnectionHandle { index, generation }, ev));
                }
                e.in_events = false;
            }
            self.event_ready.pop_front();
        }
        None
    }

    /// Closes a session (kcp-go `Close` on a listener session): final
    /// flush, address unregistered at once (a later datagram from it opens
    /// a new session); its queued datagrams still leave through
    /// [`poll_transmit`](Self::poll_transmit), then the slot is freed.
    pub fn close(&mut self, h: ConnectionHandle, now: Timestamp) {
        self.close_inner(h, now, false);
    }

    /// Removes a session at once, without draining, and returns it.
    pub fn remove(&mut self, h: ConnectionHandle) -> Option<Connection> {
        self.entry(h)?;
        self.unregister(h);
        self.free_slot(h.index)
    }

    // ------------------------------------------------------------------

    /// Advances the endpoint clock; the first `now` ever seen anchors it.
    fn tick(&mut self, now: Timestamp) -> i64 {
        if !self.clock_set {
            self.clock = ExtClock::new(now);
            self.clock_set = true;
        }
        self.clock.update(now)
    }

    fn drop_datagram(&mut self, reason: DropReason) -> Option<ConnectionHandle> {
        self.stats.dropped[reason.index()] += 1;
        None
    }

    fn deliver(&mut self, h: ConnectionHandle, now: Timestamp, plain: &[u8]) {
        self.stats.delivered += 1;
        if let Some(e) = self.entry_mut(h) {
            e.conn.handle_plaintext(now, plain);
        }
        self.sync(h.index);
    }

    fn entry(&self, h: ConnectionHandle) -> Option<&Entry<A>> {
        let s = self.slots.get(h.index as usize)?;
        (s.generation == h.generation).then_some(())?;
        s.entry.as_ref()
    }

    fn entry_mut(&mut self, h: ConnectionHandle) -> Option<&mut Entry<A>> {
        let s = self.slots.get_mut(h.index as usize)?;
        (s.generation == h.generation).then_some(())?;
        s.entry.as_mut()
    }

    fn insert(&mut self, conn: Connection, addr: A) -> ConnectionHandle {
        let entry = Entry {
            conn,
            addr,
            timer_at: None,
            in_tx: false,
            in_events: false,
            dirty: false,
            accepted: false,
            closing: false,
        };
        self.live += 1;
        self.peak = self.peak.max(self.live);
        let index = match self.free.pop() {
            Some(i) => i,
            None => {
                self.slots.push(Slot {
                    generation: 0,
                    entry: None,
                });
                (self.slots.len() - 1) as u32
            }
        };
        let slot = &mut self.slots[index as usize];
        slot.entry = Some(entry);
        ConnectionHandle {
            index,
            generation: slot.generation,
        }
    }

    fn free_slot(&mut self, index: u32) -> Option<Connection> {
        let slot = &mut self.slots[index as usize];
        let e = slot.entry.take()?;
        slot.generation = slot.generation.wrapping_add(1);
        self.free.push(index);
        self.live -= 1;
        let mut s = e.conn.stats();
        s.curr_estab = 0;
        self.retired.add(&s);
        Some(e.conn)
    }

    fn unregister(&mut self, h: ConnectionHandle) {
        let Some(e) = self.entry(h) else { return };
        let (addr, accepted) = (e.addr, e.accepted);
        if self.by_addr.get(&addr) == Some(&h) {
            self.by_addr.remove(&addr);
        }
        if !accepted {
            self.accept_queue.retain(|&q| q != h);
        }
    }

    fn close_inner(&mut self, h: ConnectionHandle, now: Timestamp, by_endpoint: bool) {
        let Some(e) = self.entry(h) else { return };
        if e.closing {
            return;
        }
        let accepted = e.accepted;
        self.unregister(h);
        if let Some(e) = self.entry_mut(h) {
            e.closing = true;
            e.conn.close(now);
        }
        if by_endpoint && accepted {
            self.closed_events.push_back(h);
        }
        self.sync(h.index);
    }

    fn flush_dirty(&mut self) {
        let mut dirty = std::mem::take(&mut self.dirty);
        for &index in &dirty {
            if let Some(e) = self.slots[index as usize].entry.as_mut() {
                e.dirty = false;
            }
            self.sync(index);
        }
        dirty.clear();
        self.dirty = dirty; // `sync` never marks dirty: nothing lost
    }

    /// After any interaction: timer, output and event queues, reaping.
    fn sync(&mut self, index: u32) {
        let slot = &self.slots[index as usize];
        let generation = slot.generation;
        // The application closed it through `connection_mut`: unregister.
        if slot
            .entry
            .as_ref()
            .is_some_and(|e| e.conn.is_closed() && !e.closing)
        {
            let h = ConnectionHandle { index, generation };
            self.unregister(h);
            if let Some(e) = self.entry_mut(h) {
                e.closing = true;
            }
        }
        self.rearm(index);
        let Some(e) = self.slots[index as usize].entry.as_mut() else {
            return;
        };
        if !e.in_tx && e.conn.has_pending_transmit() {
            e.in_tx = true;
            self.tx_ready.push_back((index, generation));
        }
        if !e.in_events && e.conn.has_events() {
            e.in_events = true;
            self.event_ready.push_back((index, generation));
        }
        self.reap(index);
    }

    fn rearm(&mut self, index: u32) {
        let slot = &mut self.slots[index as usize];
        let Some(e) = slot.entry.as_mut() else { return };
        let want = e.conn.poll_timeout().map(|t| self.clock.to_ext(t));
        if want != e.timer_at {
            e.timer_at = want;
            if let Some(at) = want {
                self.timers.push(at, index, slot.generation);
            }
        }
    }

    fn reap(&mut self, index: u32) {
        let done = self.slots[index as usize]
            .entry
            .as_ref()
            .is_some_and(|e| e.closing && e.conn.is_drained());
        if done {
            self.free_slot(index);
        }
    }

    fn valid_timer(&self, at: i64, index: u32, generation: u32) -> bool {
        let s = &self.slots[index as usize];
        s.generation == generation && s.entry.as_ref().is_some_and(|e| e.timer_at == Some(at))
    }

    /// Stale heap entries pile up when busy sessions re-arm; rebuild when
    /// they outnumber live timers.
    fn compact_timers(&mut self) {
        if self.timers.len() > 2 * self.live + 64 {
            let live = self.slots.iter().enumerate().filter_map(|(i, s)| {
                let at = s.entry.as_ref()?.timer_at?;
                Some((at, i as u32, s.generation))
            });
            self.timers.rebuild(live);
        }
    }
}
