//! [`Connection`]: one kcp-go session as a sans-IO state machine.

use std::collections::VecDeque;

use kcp_core::{Config, Kcp, Origin, RecvError, Timestamp};
use kcp_crypto::{Crypt, CryptError};
use kcp_fec::{
    Decoded, Decoder, Encoder, FecConfig, MIN_DATAGRAM, OOB_HEADER_SIZE, PacketKind, packet_kind,
};

use crate::rate::RateLimiter;
use crate::replay::{ReplayFilter, ReplayKey, received_nonce};
use crate::tx_queue::{MAX_QUEUED, TxQueue};
use crate::{ConfigError, Event, Layout, OobError, ReadError, SessionConfig, Stats, WriteError};

/// Which side opened the session.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Side {
    /// Dialled out ([`Connection::connect`]; kcp-go `ActiveOpens`).
    Client,
    /// Created by a listener for a new peer ([`Connection::accept`];
    /// kcp-go `PassiveOpens`).
    Server,
}

/// Counters the session keeps itself; KCP and FEC counters are read from
/// those layers when [`Connection::stats`] is called.
#[derive(Clone, Copy, Debug, Default)]
struct Counters {
    bytes_sent: u64,
    bytes_received: u64,
    in_errs: u64,
    in_csum_errors: u64,
    kcp_in_errors: u64,
    in_pkts: u64,
    in_bytes: u64,
    out_pkts: u64,
    out_bytes: u64,
    fec_errs: u64,
    oob_packets: u64,
}

/// One kcp-go session: KCP + optional FEC + packet crypto, framed exactly
/// as kcp-go frames a datagram (spec session.md §2–§5), with no sockets,
/// clocks, threads or randomness of its own (nonces come from the crypto
/// crate's CSPRNG).
///
/// Drive it like quinn-proto's `Connection`: feed received datagrams to
/// [`handle_datagram`](Self::handle_datagram), call
/// [`handle_timeout`](Self::handle_timeout) when
/// [`poll_timeout`](Self::poll_timeout) passes, and after each of those (and
/// after [`send`](Self::send)) drain [`poll_transmit`](Self::poll_transmit)
/// into the socket. Application data goes through [`send`](Self::send) and
/// [`recv`](Self::recv), notifications through [`poll_event`](Self::poll_event).
///
/// ```
/// use kcp_core::Timestamp;
/// use kcp_crypto::CryptName;
/// use kcp_session::{Connection, CryptConfig, SessionConfig};
///
/// let cfg = SessionConfig::fast3()
///     .with_fec(10, 3)
///     .with_crypt(CryptConfig::from_passphrase(CryptName::Aes, "secret"));
/// let now = Timestamp::from_millis(0);
/// let mut client = Connection::connect(0x1122_3344, &cfg, now)?;
/// let mut server = Connection::accept(0x1122_3344, &cfg, now)?;
///
/// client.send(b"hello")?;
/// client.handle_timeout(now);
/// let mut wire = [0u8; 1500];
/// while let Some(n) = client.poll_transmit(now, &mut wire) {
///     server.handle_datagram(now, &mut wire[..n]); // "UDP"
/// }
/// let mut buf = [0u8; 64];
/// let n = server.recv(&mut buf).unwrap();
/// assert_eq!(&buf[..n], b"hello");
/// assert_eq!(server.stats().in_pkts, 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Connection {
    conv: u32,
    side: Side,
    kcp: Kcp,
    crypt: Crypt,
    layout: Layout,
    enc: Option<Encoder>,
    /// Boxed: it is large (~5 KB) and absent on sessions without FEC.
    dec: Option<Box<Decoder>>,
    dup: usize,
    write_delay: bool,
    snd_wnd: usize,
    tx: TxQueue,
    oob_rx: TxQueue,
    rate: RateLimiter,
    events: VecDeque<Event>,
    /// Unread rest of a message larger than the reader's buffer.
    leftover: Vec<u8>,
    leftover_pos: usize,
    counters: Counters,
    /// Flush at the next timeout: write-delay mode with a full window, or a
    /// read that freed much of the receive window (see `recv`).
    flush_pending: bool,
    /// Receive-queue length when KCP last had a chance to tell the peer its
    /// window (after each datagram and timer): the peer's idea of our free
    /// window is at most `rcv_wnd` minus this.
    told_queue: usize,
    last_now: Timestamp,
    closed: bool,
    readable_signalled: bool,
    write_blocked: bool,
    dead_signalled: bool,
    oob_signalled: bool,
    /// Nonces of authenticated datagrams (client side; an endpoint's
    /// sessions are filtered by the endpoint).
    replay: ReplayFilter,
    replay_drops: u64,
    #[cfg(feature = "sim")]
    pub(crate) sim_rx: Vec<u8>,
}

impl Connection {
    /// A client session for `conv` (the caller picks it, kcp-go uses 4
    /// random bytes), created at `now`. The first flush is due at `now`.
    pub fn connect(conv: u32, config: &SessionConfig, now: Timestamp) -> Result<Self, ConfigError> {
        Self::new(conv, config, now, Side::Client)
    }

    /// A server-side session for a peer that opened `conv` (what a
    /// listener creates; [`Endpoint`](crate::Endpoint) calls this).
    pub fn accept(conv: u32, config: &SessionConfig, now: Timestamp) -> Result<Self, ConfigError> {
        Self::new(conv, config, now, Side::Server)
    }

    fn new(
        conv: u32,
        cfg: &SessionConfig,
        now: Timestamp,
        side: Side,
    ) -> Result<Self, ConfigError> {
        let layout = Layout::new(cfg)?;
        let crypt = Crypt::new(cfg.crypt.name, &cfg.crypt.key).map_err(ConfigError::Crypt)?;
        let mut kc = Config::new();
        kc.set_nodelay(cfg.nodelay, cfg.interval, cfg.resend, cfg.nc)
            .set_window(cfg.snd_wnd as i32, cfg.rcv_wnd as i32)
            .set_stream(cfg.stream)
            .set_ack_nodelay(cfg.ack_nodelay)
            .set_write_delay(cfg.write_delay)
            .set_dead_link(cfg.dead_link);
        kc.set_mtu(layout.kcp_mtu as u32)
            .map_err(ConfigError::Kcp)?;
        let (enc, dec) = if cfg.fec_enabled() {
            let fc = FecConfig {
                header_offset: layout.crypt_header,
                ..FecConfig::new(cfg.data_shards, cfg.parity_shards)
            };
            let enc = Encoder::new(&fc).map_err(ConfigError::Fec)?;
            let dec = Decoder::new(&FecConfig::new(cfg.data_shards, cfg.parity_shards))
                .map_err(ConfigError::Fec)?;
            (Some(enc), Some(Box::new(dec)))
        } else {
            (None, None)
        };
        let snd_wnd = kc.snd_wnd() as usize;
        Ok(Connection {
            conv,
            side,
            kcp: Kcp::new(conv, kc, now),
            crypt,
            layout,
            enc,
            dec,
            dup: cfg.dup,
            write_delay: cfg.write_delay,
            snd_wnd,
            tx: TxQueue::with_cap(MAX_QUEUED),
            oob_rx: TxQueue::with_cap(cfg.oob_queue),
            rate: RateLimiter::new(cfg.rate_limit),
            events: VecDeque::with_capacity(5),
            leftover: Vec::new(),
            leftover_pos: 0,
            counters: Counters::default(),
            flush_pending: false,
            told_queue: 0,
            last_now: now,
            closed: false,
            readable_signalled: false,
            write_blocked: false,
            dead_signalled: false,
            oob_signalled: false,
            replay: ReplayFilter::new(
                if side == Side::Client {
                    cfg.replay_window
                } else {
                    0
                },
                ReplayKey::process(),
            ),
            replay_drops: 0,
            #[cfg(feature = "sim")]
            sim_rx: Vec::new(),
        })
    }

    // ------------------------------------------------------------------
    // Accessors
    // ------------------------------------------------------------------

    /// The conversation id.
    pub fn conv(&self) -> u32 {
        self.conv
    }

    /// Which side opened the session.
    pub fn side(&self) -> Side {
        self.side
    }

    /// Header sizes and KCP mtu.
    pub fn layout(&self) -> Layout {
        self.layout
    }

    /// Largest datagram [`poll_transmit`](Self::poll_transmit) produces (the
    /// session MTU, at most 1500): the minimum size of its buffer.
    pub fn max_datagram_size(&self) -> usize {
        self.layout.datagram
    }

    /// KCP's maximum segment payload: `send` cuts writes into pieces of this size.
    pub fn mss(&self) -> usize {
        self.layout.mss()
    }

    /// kcp-go's `GetOOBMaxSize`: largest OOB payload, 0 without FEC.
    pub fn oob_max_size(&self) -> usize {
        if self.enc.is_some() {
            self.layout.kcp_mtu - 4
        } else {
            0
        }
    }

    /// The KCP state machine (read-only: RTT, windows, queue lengths).
    pub fn kcp(&self) -> &Kcp {
        &self.kcp
    }

    /// The FEC decoder's `(data, parity)` layout, if one exists (a session
    /// without FEC creates a (1,1) decoder when FEC packets arrive, which
    /// then autotunes to the peer's layout).
    pub fn fec_decoder_layout(&self) -> Option<(usize, usize)> {
        self.dec.as_deref().map(Decoder::layout)
    }

    /// Segments queued or unacknowledged (kcp-go `WaitSnd`).
    pub fn wait_snd(&self) -> usize {
        self.kcp.wait_snd()
    }

    /// `true` while `wait_snd() < snd_wnd`: kcp-go's `Write` blocks otherwise.
    pub fn is_writable(&self) -> bool {
        !self.closed && self.kcp.wait_snd() < self.snd_wnd
    }

    /// `true` once [`close`](Self::close) was called.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// `true` when closed and every queued datagram was handed out.
    pub fn is_drained(&self) -> bool {
        self.closed && self.tx.is_empty() && self.kcp.pending_transmits() == 0
    }

    /// Whether [`poll_transmit`](Self::poll_transmit) may have something
    /// (rate limiting aside).
    pub fn has_pending_transmit(&self) -> bool {
        !self.tx.is_empty() || self.kcp.pending_transmits() > 0
    }

    /// kcp-go `SetNoDelay` on a live session (negative = keep).
    pub fn set_nodelay(&mut self, nodelay: i32, interval: i32, resend: i32, nc: i32) {
        self.kcp.set_nodelay(nodelay, interval, resend, nc);
    }

    /// kcp-go `SetWindowSize` on a live session (`0` = keep).
    pub fn set_window(&mut self, snd_wnd: u32, rcv_wnd: u32) {
        self.kcp.set_window(snd_wnd as i32, rcv_wnd as i32);
        self.snd_wnd = self.kcp.config().snd_wnd() as usize;
    }

    /// kcp-go `SetMtu` on a live session: the session MTU, headers
    /// included (spec §2.1). Segments already queued keep their size.
    pub fn set_mtu(&mut self, mtu: usize) -> Result<(), ConfigError> {
        let datagram = mtu.min(kcp_fec::MTU_LIMIT);
        let overhead = self.layout.head() + self.layout.tail;
        let kcp_mtu = datagram
            .checked_sub(overhead)
            .filter(|&m| m > kcp_core::OVERHEAD)
            .ok_or(ConfigError::Mtu { mtu, overhead })?;
        self.kcp.set_mtu(kcp_mtu as u32).map_err(ConfigError::Kcp)?;
        self.layout.datagram = datagram;
        self.layout.kcp_mtu = kcp_mtu;
        Ok(())
    }

    /// kcp-go `SetStreamMode` on a live session.
    pub fn set_stream(&mut self, stream: bool) {
        self.kcp.set_stream(stream);
    }

    /// kcp-go `SetACKNoDelay` on a live session.
    pub fn set_ack_nodelay(&mut self, on: bool) {
        self.kcp.set_ack_nodelay(on);
    }

    /// kcp-go `SetDUP` on a live session.
    pub fn set_dup(&mut self, dup: usize) {
        self.dup = dup;
    }

    /// Changes the outgoing rate limit (bytes per second, 0 = unlimited).
    pub fn set_rate_limit(&mut self, bytes_per_sec: u64) {
        self.rate.set_rate(bytes_per_sec);
    }

    /// Authenticated datagrams dropped as replays (a nonce seen before;
    /// see [`SessionConfig::replay_window`]).
    pub fn replayed_datagrams(&self) -> u64 {
        self.replay_drops
    }

    /// The adapter saw a datagram from an address other than the session's
    /// peer (spec §5: dropped, `InErrs++`).
    pub fn count_foreign_datagram(&mut self) {
        self.counters.in_errs += 1;
    }

    /// This session's counters with kcp-go's SNMP names. `active_opens`
    /// or `passive_opens` is 1 and `curr_estab`/`max_conn` 1 while open, so
    /// that [`Stats::add`] over all sessions gives kcp-go's global view.
    pub fn stats(&self) -> Stats {
        let c = &self.counters;
        let k = self.kcp.stats();
        let st = self.kcp.state();
        let d = self.dec.as_ref().map(|d| *d.stats()).unwrap_or_default();
        let open = u64::from(!self.closed);
        Stats {
            bytes_sent: c.bytes_sent,
            bytes_received: c.bytes_received,
            max_conn: 1,
            active_opens: u64::from(self.side == Side::Client),
            passive_opens: u64::from(self.side == Side::Server),
            curr_estab: open,
            in_errs: c.in_errs + d.too_long,
            in_csum_errors: c.in_csum_errors,
            kcp_in_errors: c.kcp_in_errors,
            in_pkts: c.in_pkts,
            out_pkts: c.out_pkts,
            in_segs: k.in_segs,
            out_segs: k.out_segs,
            in_bytes: c.in_bytes,
            out_bytes: c.out_bytes,
            retrans_segs: k.retrans_segs,
            fast_retrans_segs: k.fast_retrans_segs,
            early_retrans_segs: k.early_retrans_segs,
            lost_segs: k.lost_segs,
            repeat_segs: k.repeat_segs,
            fec_full_shard_set: d.full_shard_sets,
            fec_parity_shards: d.parity_shards,
            fec_errs: c.fec_errs + d.errors,
            fec_recovered: d.recovered,
            fec_shard_set: d.shard_sets,
            fec_shard_min: 0,
            ring_buffer_snd_queue: st.snd_queue as u64,
            ring_buffer_rcv_queue: st.rcv_queue as u64,
            ring_buffer_snd_buffer: st.snd_buf as u64,
            oob_packets: c.oob_packets,
        }
    }

    // ------------------------------------------------------------------
    // Application side
    // ------------------------------------------------------------------

    /// kcp-go's `Write`: cuts `data` into pieces of at most
    /// [`mss`](Self::mss) bytes, each its own KCP message (so `frg` is
    /// always 0 on the wire, spec §8), and accepts all of it regardless of
    /// the window (check [`is_writable`](Self::is_writable) first for
    /// back-pressure, as kcp-go's blocking `Write` does). The flush follows
    /// at the next [`handle_timeout`](Self::handle_timeout), which
    /// [`poll_timeout`](Self::poll_timeout) reports as due now — unless
    /// write-delay is on and the window is not full.
    pub fn send(&mut self, data: &[u8]) -> Result<usize, WriteError> {
        if self.closed {
            return Err(WriteError::Closed);
        }
        for piece in data.chunks(self.layout.mss()) {
            self.kcp.send(piece).map_err(WriteError::Kcp)?;
        }
        self.counters.bytes_sent += data.len() as u64;
        let full = self.kcp.wait_snd() >= self.snd_wnd;
        if full {
            self.write_blocked = true;
            // kcp-core flushes on write by itself unless write-delay is on.
            if self.write_delay {
                self.flush_pending = true;
            }
        }
        Ok(data.len())
    }

    /// kcp-go's `Read`: the rest of a partly read message first, otherwise
    /// the next complete message (truncated to `buf`, the rest kept for the
    /// next call). A read never spans two messages.
    pub fn recv(&mut self, buf: &mut [u8]) -> Result<usize, ReadError> {
        if self.leftover_pos < self.leftover.len() {
            let rest = &self.leftover[self.leftover_pos..];
            let n = rest.len().min(buf.len());
            buf[..n].copy_from_slice(&rest[..n]);
            self.leftover_pos += n;
            self.counters.bytes_received += n as u64;
            return Ok(n);
        }
        if self.closed {
            return Err(ReadError::Closed);
        }
        // A zero-length message at the head is never consumed (kcp-go
        // stalls the same way, spec §8 / kcpgo-vs-ikcp.md A4).
        let size = match self.kcp.peek_size() {
            Ok(n) if n > 0 => n,
            _ => {
                self.readable_signalled = false;
                return Err(ReadError::WouldBlock);
            }
        };
        let n = if size <= buf.len() {
            self.kcp
                .recv(buf)
                .map_err(|_: RecvError| ReadError::WouldBlock)?
        } else {
            self.leftover.clear();
            self.leftover_pos = 0;
            self.kcp
                .recv_vec(&mut self.leftover)
                .map_err(|_| ReadError::WouldBlock)?;
            let n = buf.len();
            buf.copy_from_slice(&self.leftover[..n]);
            self.leftover_pos = n;
            n
        };
        self.counters.bytes_received += n as u64;
        self.tell_window_if_reopened();
        Ok(n)
    }

    /// How many bytes the next [`recv`](Self::recv) returns given a large
    /// enough buffer: the unread rest of a partly read message, else the
    /// size of the next complete message; `None` when nothing is ready
    /// (or the connection is closed and nothing partly read is left).
    ///
    /// ```
    /// use kcp_core::Timestamp;
    /// use kcp_session::{Connection, SessionConfig};
    ///
    /// let (cfg, now) = (SessionConfig::fast3(), Timestamp::from_millis(0));
    /// let mut a = Connection::connect(1, &cfg, now)?;
    /// let mut b = Connection::accept(1, &cfg, now)?;
    /// a.send(b"hello")?;
    /// a.handle_timeout(now);
    /// let mut wire = [0u8; 1500];
    /// while let Some(n) = a.poll_transmit(now, &mut wire) {
    ///     b.handle_datagram(now, &mut wire[..n]);
    /// }
    /// assert_eq!(b.peek_size(), Some(5));
    /// let mut two = [0u8; 2];
    /// b.recv(&mut two)?;
    /// assert_eq!(b.peek_size(), Some(3)); // the rest of the message
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn peek_size(&self) -> Option<usize> {
        if self.leftover_pos < self.leftover.len() {
            return Some(self.leftover.len() - self.leftover_pos);
        }
        if self.closed {
            return None;
        }
        self.kcp.peek_size().ok().filter(|&n| n > 0)
    }

    /// A reader that fell behind lets the receive queue fill; the sender
    /// then slows to the window it last heard of, and KCP tells it about a
    /// drained queue only at the next timer flush (10 ms in kcp-go's turbo
    /// settings), or at once only if the queue had been completely full. So
    /// once reading has taken the queue from at least half the window down
    /// below a quarter, announce the window now (a WINS segment, which
    /// kcp-go and ikcp peers read like any other header).
    fn tell_window_if_reopened(&mut self) {
        let wnd = self.kcp.config().rcv_wnd() as usize;
        let queued = self.kcp.state().rcv_queue;
        if self.told_queue >= wnd / 2 && queued < wnd / 4 {
            self.kcp.announce_window();
            self.flush_pending = true;
            self.told_queue = queued;
        }
    }

    /// Sends an out-of-band datagram (kcp-go `SendOOB`, spec §4.5): needs
    /// FEC, never retransmitted, silently dropped if the output queue is full.
    pub fn send_oob(&mut self, payload: &[u8]) -> Result<(), OobError> {
        if self.closed {
            return Err(OobError::Closed);
        }
        let max = self.oob_max_size();
        let Some(enc) = self.enc.as_mut() else {
            return Err(OobError::FecDisabled);
        };
        if payload.len() > max {
            return Err(OobError::TooLong {
                len: payload.len(),
                max,
            });
        }
        let Some(mut buf) = self.tx.take_buf() else {
            return Ok(());
        };
        let ch = self.layout.crypt_header;
        let len = ch + OOB_HEADER_SIZE + payload.len();
        buf[ch + OOB_HEADER_SIZE..len].copy_from_slice(payload);
        if enc.encode_oob(&mut buf[..len], self.conv).is_err() {
            self.counters.fec_errs += 1;
            self.tx.recycle(buf);
            return Ok(());
        }
        match self.crypt.seal(&mut buf, len - ch) {
            Ok(n) => self.tx.push(buf, n),
            Err(_) => self.tx.recycle(buf),
        }
        Ok(())
    }

    /// Copies the oldest received OOB payload into `buf` (truncated to its
    /// length); returns the payload length.
    pub fn recv_oob(&mut self, buf: &mut [u8]) -> Option<usize> {
        let n = self.oob_rx.pop_into_truncated(buf);
        if n.is_none() {
            self.oob_signalled = false;
        }
        n
    }

    /// `true` when [`poll_event`](Self::poll_event) has something.
    pub fn has_events(&self) -> bool {
        !self.events.is_empty()
    }

    /// The next application event.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// Closes the session (kcp-go `Close`): one last flush, nothing sent to
    /// signal it (KCP has no FIN). Already queued datagrams still come out
    /// of [`poll_transmit`](Self::poll_transmit); reads return what was
    /// partly read, then [`ReadError::Closed`]. Idempotent.
    pub fn close(&mut self, now: Timestamp) {
        if self.closed {
            return;
        }
        self.advance(now);
        self.kcp.flush(now);
        self.closed = true;
    }

    // ------------------------------------------------------------------
    // Network side
    // ------------------------------------------------------------------

    /// Processes one received datagram (decrypted in place). Bad datagrams
    /// are dropped and counted (spec §5); there is no error to handle.
    pub fn handle_datagram(&mut self, now: Timestamp, datagram: &mut [u8]) {
        if self.closed {
            return;
        }
        let fp = received_nonce(datagram, self.crypt.nonce_len())
            .filter(|_| self.replay.is_enabled())
            .map(|n| self.replay.fingerprint_of(n));
        match self.crypt.open_in_place(datagram) {
            Ok(r) => {
                if let Some(fp) = fp
                    && self.replay.check_and_insert_fingerprint(fp)
                {
                    self.replay_drops += 1;
                    return;
                }
                self.handle_plaintext(now, &datagram[r])
            }
            Err(CryptError::Checksum | CryptError::Auth) => self.counters.in_csum_errors += 1,
            // A datagram longer than 1500 would be cut by kcp-go's read and
            // then fail its checksum.
            Err(CryptError::TooLong { .. }) => self.counters.in_csum_errors += 1,
            // Shorter than the crypt header: dropped silently, as kcp-go does.
            Err(_) => {}
        }
    }

    /// Processes a datagram the caller already decrypted with this
    /// session's cipher (the [`Endpoint`](crate::Endpoint) opens before
    /// looking sessions up): FEC header + KCP, or KCP alone.
    pub fn handle_plaintext(&mut self, now: Timestamp, data: &[u8]) {
        if self.closed {
            return;
        }
        self.advance(now);
        let c = &mut self.counters;
        if data.len() < MIN_DATAGRAM {
            c.kcp_in_errors += 1;
            return;
        }
        c.in_pkts += 1;
        c.in_bytes += data.len() as u64;
        match packet_kind(data) {
            Some(PacketKind::Data | PacketKind::Parity) => {
                let dec = self.dec.get_or_insert_with(|| {
                    Box::new(Decoder::new(&FecConfig::new(1, 1)).expect("(1,1) is a valid layout"))
                });
                let kcp = &mut self.kcp;
                let mut errs = 0;
                // An error (shard too long) is counted by the decoder
                // (`too_long`, reported as InErrs).
                if let Ok(decoded) = dec.input(data) {
                    if let Decoded::Data { kcp: segs, .. } = &decoded {
                        errs += u64::from(kcp.input_from(segs, now, Origin::Regular).is_err());
                    }
                    for r in decoded.recovered() {
                        errs +=
                            u64::from(kcp.input_from(r.payload, now, Origin::Recovered).is_err());
                    }
                }
                c.kcp_in_errors += errs;
            }
            Some(PacketKind::Oob) => {
                c.oob_packets += 1;
                // `data.len() >= MIN_DATAGRAM == OOB_HEADER_SIZE` (checked
                // above). The queue's buffers hold kcp-go's 1500-byte read:
                // a longer OOB packet (the crypt layer accepts up to 65507
                // bytes; kcp-go's read would have cut it) is an InErrs drop,
                // not a slice overrun (issue 16 audit).
                let payload = &data[OOB_HEADER_SIZE..];
                if payload.len() > crate::tx_queue::BUF_SIZE {
                    c.in_errs += 1;
                } else if self.oob_rx.push_copy(payload) && !self.oob_signalled {
                    self.oob_signalled = true;
                    self.events.push_back(Event::OobReceived);
                }
            }
            _ => {
                if self.kcp.input_from(data, now, Origin::Regular).is_err() {
                    c.kcp_in_errors += 1;
                }
            }
        }
        self.note_progress();
    }

    /// Runs the timers due at `now`: the flush a `send` asked for and the
    /// periodic KCP flush (retransmissions, ACKs, window probes).
    pub fn handle_timeout(&mut self, now: Timestamp) {
        self.advance(now);
        if self.closed {
            return;
        }
        self.kcp.handle_timeout(now);
        if self.flush_pending {
            self.flush_pending = false;
            self.kcp.flush(now);
        }
        self.note_progress();
    }

    /// When [`handle_timeout`](Self::handle_timeout) must next run (or,
    /// under a rate limit with output waiting, when
    /// [`poll_transmit`](Self::poll_transmit) can go on). `None` = idle. A
    /// time in the past means now.
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        let mut t = if self.closed {
            None
        } else {
            self.kcp.poll_timeout()
        };
        if self.flush_pending && !self.closed {
            t = Some(self.last_now);
        }
        if let Some(r) = self.rate.ready_at().filter(|_| self.has_pending_transmit()) {
            t = Some(match t {
                Some(x) if x.diff(r) <= 0 => x,
                _ => r,
            });
        }
        t
    }

    /// Writes the next datagram to send into `out` and returns its length;
    /// `None` when nothing is queued (or the rate limit says wait until
    /// [`poll_timeout`](Self::poll_timeout)). Order is kcp-go's: each data
    /// datagram, its `dup` copies, then the parity packets it completed.
    ///
    /// # Panics
    /// If `out` is shorter than [`max_datagram_size`](Self::max_datagram_size).
    pub fn poll_transmit(&mut self, now: Timestamp, out: &mut [u8]) -> Option<usize> {
        assert!(
            out.len() >= self.layout.datagram,
            "poll_transmit buffer shorter than the session MTU"
        );
        self.advance(now);
        if !self.rate.ready(now) {
            return None;
        }
        let n = match self.tx.pop_into(out) {
            Some(n) => n,
            None => self.next_kcp_datagram(now, out)?,
        };
        self.rate.consume(n);
        self.counters.out_pkts += 1;
        self.counters.out_bytes += n as u64;
        Some(n)
    }

    /// Takes KCP's next datagram straight into `out` behind the header
    /// room, FEC-stamps and seals it in place; queues dup copies and parity.
    fn next_kcp_datagram(&mut self, now: Timestamp, out: &mut [u8]) -> Option<usize> {
        let l = self.layout;
        debug_assert!(self.tx.is_empty(), "queued datagrams go first");
        loop {
            // The whole buffer, not just `kcp_mtu`: after an MTU shrink a
            // queued segment may still be larger, and must not block the queue.
            let room = out.len().min(kcp_fec::MTU_LIMIT) - l.tail;
            let k = self.kcp.poll_transmit_into(&mut out[l.head()..room])?;
            let len = l.head() + k;
            let parity = match self.enc.as_mut() {
                Some(enc) => match enc.encode(&mut out[..len], now.as_millis()) {
                    Ok(p) => Some(p),
                    Err(_) => {
                        self.counters.fec_errs += 1;
                        continue;
                    }
                },
                None => None,
            };
            let Ok(n) = self
                .crypt
                .seal(&mut out[..len + l.tail], len - l.crypt_header)
            else {
                continue;
            };
            for _ in 0..self.dup {
                self.tx.push_copy(&out[..n]);
            }
            // Parity is sealed in pooled buffers (with tag room) and leaves
            // right after this datagram and its copies.
            for p in parity.iter().flat_map(|p| p.iter()) {
                let Some(mut b) = self.tx.take_buf() else {
                    break;
                };
                b[..p.len()].copy_from_slice(p);
                match self.crypt.seal(&mut b, p.len() - l.crypt_header) {
                    Ok(m) => self.tx.push(b, m),
                    Err(_) => self.tx.recycle(b),
                }
            }
            return Some(n);
        }
    }

    fn advance(&mut self, now: Timestamp) {
        if now.is_after(self.last_now) {
            self.last_now = now;
        }
    }

    /// kcp-go's notifications after input and timers.
    fn note_progress(&mut self) {
        self.told_queue = self.kcp.state().rcv_queue;
        if !self.readable_signalled && self.kcp.peek_size().is_ok_and(|n| n > 0) {
            self.readable_signalled = true;
            self.events.push_back(Event::Readable);
        }
        if self.write_blocked && self.kcp.wait_snd() < self.snd_wnd {
            self.write_blocked = false;
            self.events.push_back(Event::Writable);
        }
        if !self.dead_signalled && self.kcp.is_dead() {
            self.dead_signalled = true;
            self.events.push_back(Event::DeadLink);
        }
    }
}
