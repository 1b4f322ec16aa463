//! The smux session as a sans-IO state machine over a reliable byte
//! stream (spec smux-kcptun.md §1-§8).

use std::collections::{HashMap, VecDeque};

use kcp_core::Timestamp;

use super::config::{MuxConfig, MuxConfigError};
use super::error::{MuxError, StreamError};
use super::frame::{Cmd, FrameError, HEADER_LEN, Header, UPD_LEN, Upd, Version};
use super::stream::Stream;

/// Which end of the session this is: clients open odd stream ids from 3,
/// servers even ids from 2 (spec §3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// `smux.Client`: kcptun's client, the side that opens streams.
    Client,
    /// `smux.Server`: kcptun's server, the side that accepts them.
    Server,
}

/// A stream id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StreamId(pub u32);

/// Something the application may want to act on; see [`Mux::poll_event`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MuxEvent {
    /// The peer opened a stream: [`Mux::accept_stream`] has it.
    Incoming,
    /// A stream has data (or its end) to read.
    Readable(StreamId),
    /// A stream that refused a write has room again, or can no longer be
    /// written (peer FIN, session dead): the next `send` says which.
    Writable(StreamId),
    /// The peer closed a stream (FIN); reads drain it, then end.
    Finished(StreamId),
    /// The session died; [`Mux::error`] says why.
    Dead(MuxError),
}

/// Counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MuxStats {
    /// Frames parsed from the input.
    pub frames_in: u64,
    /// Frames written to the output.
    pub frames_out: u64,
    /// PSH payload bytes delivered to streams.
    pub bytes_in: u64,
    /// PSH payload bytes framed for sending.
    pub bytes_out: u64,
    /// PSH bytes for streams that do not exist (never opened, or closed
    /// locally), read and dropped as smux does.
    pub dropped_bytes: u64,
    /// SYNs for ids already open (ignored, as in smux).
    pub duplicate_syns: u64,
    /// SYNs refused with a FIN because `max_streams` streams were alive.
    pub refused_syns: u64,
    /// SYNs dropped because too many refusals were already queued.
    pub dropped_syns: u64,
    /// UPD or FIN frames for streams that do not exist (ignored).
    pub unknown_stream_frames: u64,
    /// NOPs sent.
    pub nops_out: u64,
}

/// Where the input parser is.
#[derive(Debug)]
enum Parse {
    /// Collecting a header (`got` bytes so far).
    Header { got: usize },
    /// Collecting a PSH payload of `len` bytes for `sid`; `deliver` is false
    /// for streams that do not exist (the bytes are dropped).
    Psh {
        sid: u32,
        len: usize,
        got: usize,
        deliver: bool,
    },
    /// Collecting an UPD payload for `sid`.
    Upd { sid: u32, got: usize },
}

/// Control frames waiting, in order (smux's control class).
#[derive(Clone, Copy, Debug)]
enum Control {
    Syn(u32),
    /// An UPD for a stream: its `consumed` value.
    Upd(u32, u32),
    Nop,
    /// A FIN refusing a stream we would not open.
    Refuse(u32),
}

/// Output batches are cut at about this many bytes.
const OUT_BATCH: usize = 64 * 1024;
/// Refusal FINs queued at most (a SYN flood beyond it is dropped).
const MAX_REFUSALS: usize = 1024;
/// UPDs one stream may have queued; beyond it the newest value replaces
/// the last queued one (smux's reader waits for each UPD to be written
/// instead; a caller that drains output between reads sees every one).
const MAX_PENDING_UPDS: u8 = 4;

/// An smux session over a reliable, ordered byte stream, sans-IO.
///
/// Feed received bytes to [`handle_input`](Self::handle_input), write what
/// [`poll_output`](Self::poll_output) returns to the transport (then
/// [`advance_output`](Self::advance_output)), drive keepalive with
/// [`poll_timeout`](Self::poll_timeout) and
/// [`handle_timeout`](Self::handle_timeout), and use streams with
/// [`open_stream`](Self::open_stream), [`accept_stream`](Self::accept_stream),
/// [`send`](Self::send), [`recv`](Self::recv) and
/// [`close_stream`](Self::close_stream).
///
/// Memory is bounded: unread data by `max_receive_buffer` (plus one frame;
/// input is not consumed beyond it), unsent data by `stream_send_buffer`
/// per stream, streams by `max_streams`, waiting streams by
/// `accept_backlog`, queued control frames by the number of streams.
///
/// ```
/// use kcp_session::smux::{Mux, MuxConfig, Role};
/// use kcp_session::Timestamp;
///
/// let now = Timestamp::from_millis(0);
/// let cfg = MuxConfig::kcptun();
/// let mut client = Mux::new(Role::Client, cfg.clone(), now)?;
/// let mut server = Mux::new(Role::Server, cfg, now)?;
///
/// let id = client.open_stream()?;
/// assert_eq!(client.send(id, b"hello")?, 5);
/// // Move the bytes: here a plain in-memory pipe.
/// while let Some(out) = client.poll_output() {
///     let n = server.handle_input(out)?;
///     client.advance_output(n);
/// }
/// let sid = server.accept_stream().expect("stream opened");
/// let mut buf = [0u8; 16];
/// assert_eq!(server.recv(sid, &mut buf), Ok(5));
/// assert_eq!(&buf[..5], b"hello");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Mux {
    role: Role,
    cfg: MuxConfig,
    /// The last id opened (smux `nextStreamID`, advanced by 2 before use).
    last_id: u32,
    go_away: bool,
    streams: HashMap<u32, Stream>,
    accept_queue: VecDeque<u32>,
    /// Session receive budget (smux `bucket`).
    bucket: i64,
    parse: Parse,
    header: [u8; HEADER_LEN],
    /// A PSH or UPD payload being collected.
    payload: Vec<u8>,
    control: VecDeque<Control>,
    nop_pending: bool,
    /// `Control::Refuse` entries in `control`.
    refusals: usize,
    /// Streams with frames to send, in round-robin order.
    ring: VecDeque<u32>,
    out: Vec<u8>,
    out_pos: usize,
    events: VecDeque<MuxEvent>,
    incoming_signalled: bool,
    error: Option<MuxError>,
    closed: bool,
    /// Keepalive: a frame arrived during the current check period.
    active: bool,
    next_ping: Option<Timestamp>,
    next_check: Option<Timestamp>,
    stats: MuxStats,
}

impl Mux {
    /// A new session at `now` (keepalive timers start here: the first NOP
    /// goes out one interval later, as in smux).
    pub fn new(role: Role, cfg: MuxConfig, now: Timestamp) -> Result<Mux, MuxConfigError> {
        cfg.validate()?;
        let keepalive = cfg.keepalive;
        Ok(Mux {
            role,
            last_id: match role {
                Role::Client => 1,
                Role::Server => 0,
            },
            go_away: false,
            streams: HashMap::new(),
            accept_queue: VecDeque::new(),
            bucket: i64::from(cfg.max_receive_buffer),
            parse: Parse::Header { got: 0 },
            header: [0; HEADER_LEN],
            payload: Vec::new(),
            control: VecDeque::new(),
            nop_pending: false,
            refusals: 0,
            ring: VecDeque::new(),
            out: Vec::new(),
            out_pos: 0,
            events: VecDeque::new(),
            incoming_signalled: false,
            error: None,
            closed: false,
            active: false,
            next_ping: keepalive.map(|k| now.add_millis(k.interval_ms)),
            next_check: keepalive.map(|k| now.add_millis(k.timeout_ms)),
            stats: MuxStats::default(),
            cfg,
        })
    }

    /// The settings.
    pub fn config(&self) -> &MuxConfig {
        &self.cfg
    }

    /// Which end this is.
    pub fn role(&self) -> Role {
        self.role
    }

    /// Counters.
    pub fn stats(&self) -> MuxStats {
        self.stats
    }

    /// Why the session stopped, if it did.
    pub fn error(&self) -> Option<MuxError> {
        self.error
    }

    /// Whether the session can still exchange frames.
    pub fn is_alive(&self) -> bool {
        self.error.is_none()
    }

    /// Streams alive (opened or accepted, not yet gone).
    pub fn stream_count(&self) -> usize {
        self.streams.len()
    }

    /// Bytes held for streams: unread received data plus unsent data.
    pub fn buffered_bytes(&self) -> usize {
        self.streams
            .values()
            .map(|s| s.recv_bytes + s.send_bytes)
            .sum::<usize>()
            + self.payload.len()
            + (self.out.len() - self.out_pos)
    }

    /// Opens a stream (smux `OpenStream`): its SYN is queued ahead of any
    /// data written to it.
    pub fn open_stream(&mut self) -> Result<StreamId, MuxError> {
        if let Some(e) = self.error {
            return Err(e);
        }
        if self.go_away {
            return Err(MuxError::GoAway);
        }
        if self.streams.len() >= self.cfg.max_streams {
            return Err(MuxError::TooManyStreams);
        }
        // smux advances by 2 and gives up for good when that would wrap.
        let Some(id) = self.last_id.checked_add(2) else {
            self.go_away = true;
            return Err(MuxError::GoAway);
        };
        self.last_id = id;
        self.streams.insert(id, Stream::new());
        self.control.push_back(Control::Syn(id));
        Ok(StreamId(id))
    }

    /// A stream the peer opened, oldest first.
    pub fn accept_stream(&mut self) -> Option<StreamId> {
        let id = self.accept_queue.pop_front()?;
        if self.accept_queue.is_empty() {
            self.incoming_signalled = false;
        }
        Some(StreamId(id))
    }

    /// The next event, if any. Each is queued once until acted on (a
    /// `Readable` until the stream is read, say), so the queue stays small.
    pub fn poll_event(&mut self) -> Option<MuxEvent> {
        self.events.pop_front()
    }

    /// Queues `data` for stream `id`, as much as the send buffer and (v2)
    /// the peer's window allow; returns how much was taken. Each call's
    /// bytes become their own PSH frames of at most `max_frame_size` bytes
    /// (never merged with another call's), as smux's `Write` does.
    ///
    /// `Err(Blocked)`: no room now; a [`MuxEvent::Writable`] follows.
    /// `Err(Finished)`: the peer closed the stream.
    pub fn send(&mut self, id: StreamId, data: &[u8]) -> Result<usize, StreamError> {
        if let Some(e) = self.error {
            return Err(StreamError::Session(e));
        }
        let frame = usize::from(self.cfg.max_frame_size);
        let room_cap = self.cfg.stream_send_buffer as usize;
        let v2 = self.cfg.version == Version::V2;
        let s = self.streams.get_mut(&id.0).ok_or(StreamError::Unknown)?;
        if s.local_closed {
            return Err(StreamError::Closed);
        }
        if s.peer_fin {
            return Err(StreamError::Finished);
        }
        if data.is_empty() {
            return Ok(0);
        }
        let mut k = data.len();
        let room = room_cap.saturating_sub(s.send_bytes);
        if room < k {
            // Keep frame boundaries where smux would put them.
            k = if room >= frame {
                room / frame * frame
            } else {
                room
            };
        }
        if v2 {
            let win = s.window_room().ok_or(StreamError::Consumed)? as usize;
            k = k.min(win);
        }
        if k == 0 {
            s.want_writable = true;
            return Err(StreamError::Blocked);
        }
        for piece in data[..k].chunks(frame) {
            s.send.push_back(piece.to_vec());
        }
        s.send_bytes += k;
        // smux counts numWritten in wrapping uint32.
        s.num_written = s.num_written.wrapping_add(k as u32);
        if !s.in_ring {
            s.in_ring = true;
            self.ring.push_back(id.0);
        }
        Ok(k)
    }

    /// Reads from stream `id`: at most the rest of one received PSH payload,
    /// as smux's `Read`. `Ok(0)` (with a non-empty `buf`) is the end of the
    /// stream: the peer's FIN after all its data. `Err(Blocked)`: nothing
    /// yet; a [`MuxEvent::Readable`] follows.
    pub fn recv(&mut self, id: StreamId, buf: &mut [u8]) -> Result<usize, StreamError> {
        let v2 = self.cfg.version == Version::V2;
        let half = self.cfg.max_stream_buffer / 2;
        let s = self.streams.get_mut(&id.0).ok_or(StreamError::Unknown)?;
        if s.local_closed {
            return Err(StreamError::Closed);
        }
        s.readable_signalled = false;
        if buf.is_empty() {
            return Ok(0);
        }
        let n = s.read_front(buf);
        if n == 0 {
            if s.peer_fin {
                return Ok(0);
            }
            return Err(match self.error {
                Some(e) => StreamError::Session(e),
                None => StreamError::Blocked,
            });
        }
        self.bucket += n as i64;
        if v2 {
            // smux stream.go: UPD after the first read and whenever the
            // bytes read since the last one reach MaxStreamBuffer / 2;
            // numRead and incr wrap as uint32.
            s.num_read = s.num_read.wrapping_add(n as u32);
            s.incr = s.incr.wrapping_add(n as u32);
            if (s.incr >= half || s.num_read == n as u32) && s.num_read != 0 {
                s.incr = 0;
                let consumed = s.num_read;
                if s.pending_upds < MAX_PENDING_UPDS {
                    s.pending_upds += 1;
                    self.control.push_back(Control::Upd(id.0, consumed));
                } else if let Some(Control::Upd(_, v)) = self
                    .control
                    .iter_mut()
                    .rev()
                    .find(|c| matches!(c, Control::Upd(sid, _) if *sid == id.0))
                {
                    *v = consumed;
                }
            }
        }
        Ok(n)
    }

    /// Unread bytes of stream `id`.
    pub fn readable_bytes(&self, id: StreamId) -> usize {
        self.streams.get(&id.0).map_or(0, |s| s.recv_bytes)
    }

    /// Whether the peer closed stream `id` (its FIN arrived).
    pub fn is_finished(&self, id: StreamId) -> bool {
        self.streams.get(&id.0).is_some_and(|s| s.peer_fin)
    }

    /// Closes stream `id` (smux `Stream.Close`): its unread data is
    /// discarded, its unsent data still goes out, then a FIN; later frames
    /// for it are dropped. There is no half-close in smux.
    pub fn close_stream(&mut self, id: StreamId) -> Result<(), StreamError> {
        let s = self.streams.get_mut(&id.0).ok_or(StreamError::Unknown)?;
        if s.local_closed {
            return Err(StreamError::Closed);
        }
        s.local_closed = true;
        self.bucket += s.recv_bytes as i64;
        s.recv.clear();
        s.recv_pos = 0;
        s.recv_bytes = 0;
        if !s.in_ring {
            s.in_ring = true;
            self.ring.push_back(id.0);
        }
        Ok(())
    }

    /// Closes the session (smux `Session.Close`): nothing is sent, every
    /// stream is gone, and the caller closes the transport.
    pub fn close(&mut self) {
        self.closed = true;
        self.fail(MuxError::Closed);
        self.streams.clear();
        self.accept_queue.clear();
        self.control.clear();
        self.refusals = 0;
        self.ring.clear();
        self.out.clear();
        self.out_pos = 0;
    }

    /// Feeds bytes read from the transport. Returns how many were consumed:
    /// fewer than given while the session receive budget is spent or the
    /// accept backlog is full (smux stops reading then); offer the rest
    /// again after reading from streams or accepting. A frame smux rejects
    /// kills the session (`Err`; input stops for good).
    pub fn handle_input(&mut self, input: &[u8]) -> Result<usize, MuxError> {
        if let Some(e) = self.error {
            return Err(e);
        }
        let mut pos = 0;
        while pos < input.len() {
            match self.parse {
                Parse::Header { got } => {
                    if got == 0
                        && (self.bucket <= 0 || self.accept_queue.len() >= self.cfg.accept_backlog)
                    {
                        break;
                    }
                    let n = (HEADER_LEN - got).min(input.len() - pos);
                    self.header[got..got + n].copy_from_slice(&input[pos..pos + n]);
                    pos += n;
                    if got + n < HEADER_LEN {
                        self.parse = Parse::Header { got: got + n };
                        continue;
                    }
                    self.parse = Parse::Header { got: 0 };
                    let h = match Header::parse(&self.header, self.cfg.version) {
                        Ok(h) => h,
                        Err(e) => {
                            self.fail(MuxError::Protocol(e));
                            return Err(MuxError::Protocol(e));
                        }
                    };
                    self.on_header(h);
                }
                Parse::Psh {
                    sid,
                    len,
                    got,
                    deliver,
                } => {
                    let n = (len - got).min(input.len() - pos);
                    if deliver {
                        self.payload.extend_from_slice(&input[pos..pos + n]);
                    } else {
                        self.stats.dropped_bytes += n as u64;
                    }
                    pos += n;
                    if got + n < len {
                        self.parse = Parse::Psh {
                            sid,
                            len,
                            got: got + n,
                            deliver,
                        };
                        continue;
                    }
                    self.parse = Parse::Header { got: 0 };
                    if deliver {
                        let data = core::mem::take(&mut self.payload);
                        self.deliver(sid, data);
                    }
                }
                Parse::Upd { sid, got } => {
                    let n = (UPD_LEN - got).min(input.len() - pos);
                    self.header[got..got + n].copy_from_slice(&input[pos..pos + n]);
                    pos += n;
                    if got + n < UPD_LEN {
                        self.parse = Parse::Upd { sid, got: got + n };
                        continue;
                    }
                    self.parse = Parse::Header { got: 0 };
                    let upd = Upd::parse(&self.header);
                    self.on_upd(sid, upd);
                }
            }
        }
        Ok(pos)
    }

    fn on_header(&mut self, h: Header) {
        self.stats.frames_in += 1;
        self.active = true;
        match h.cmd {
            Cmd::Nop => {}
            Cmd::Syn => self.on_syn(h.sid),
            Cmd::Fin => match self.streams.get_mut(&h.sid) {
                Some(s) if !s.local_closed => {
                    if !s.peer_fin {
                        s.peer_fin = true;
                        self.events.push_back(MuxEvent::Finished(StreamId(h.sid)));
                        self.signal_readable(h.sid);
                        self.signal_writable(h.sid);
                    }
                }
                _ => self.stats.unknown_stream_frames += 1,
            },
            Cmd::Psh => {
                if h.length == 0 {
                    return;
                }
                let deliver = self
                    .streams
                    .get(&h.sid)
                    .is_some_and(|s| !s.local_closed && !s.peer_fin);
                self.payload.clear();
                if deliver {
                    self.payload.reserve(usize::from(h.length));
                }
                self.parse = Parse::Psh {
                    sid: h.sid,
                    len: usize::from(h.length),
                    got: 0,
                    deliver,
                };
            }
            Cmd::Upd => self.parse = Parse::Upd { sid: h.sid, got: 0 },
        }
    }

    fn on_syn(&mut self, sid: u32) {
        if self.streams.contains_key(&sid) {
            self.stats.duplicate_syns += 1;
            return;
        }
        if self.streams.len() >= self.cfg.max_streams {
            if self.refusals >= MAX_REFUSALS {
                self.stats.dropped_syns += 1;
            } else {
                self.stats.refused_syns += 1;
                self.refusals += 1;
                self.control.push_back(Control::Refuse(sid));
            }
            return;
        }
        self.streams.insert(sid, Stream::new());
        self.accept_queue.push_back(sid);
        if !self.incoming_signalled {
            self.incoming_signalled = true;
            self.events.push_back(MuxEvent::Incoming);
        }
    }

    fn deliver(&mut self, sid: u32, data: Vec<u8>) {
        // The stream may have been closed while its payload streamed in.
        let Some(s) = self.streams.get_mut(&sid).filter(|s| !s.local_closed) else {
            self.stats.dropped_bytes += data.len() as u64;
            return;
        };
        let n = data.len();
        s.recv_bytes += n;
        s.recv.push_back(data);
        self.bucket -= n as i64;
        self.stats.bytes_in += n as u64;
        self.signal_readable(sid);
    }

    fn on_upd(&mut self, sid: u32, upd: Upd) {
        match self.streams.get_mut(&sid) {
            Some(s) if !s.local_closed => {
                // smux overwrites both values, whatever they are.
                s.peer_consumed = upd.consumed;
                s.peer_window = upd.window;
                self.signal_writable(sid);
            }
            _ => self.stats.unknown_stream_frames += 1,
        }
    }

    fn signal_readable(&mut self, sid: u32) {
        if let Some(s) = self.streams.get_mut(&sid)
            && !s.readable_signalled
        {
            s.readable_signalled = true;
            self.events.push_back(MuxEvent::Readable(StreamId(sid)));
        }
    }

    fn signal_writable(&mut self, sid: u32) {
        if let Some(s) = self.streams.get_mut(&sid)
            && s.want_writable
        {
            s.want_writable = false;
            self.events.push_back(MuxEvent::Writable(StreamId(sid)));
        }
    }

    fn fail(&mut self, e: MuxError) {
        if self.error.is_some() {
            return;
        }
        self.error = Some(e);
        self.events.push_back(MuxEvent::Dead(e));
        let ids: Vec<u32> = self.streams.keys().copied().collect();
        for sid in ids {
            self.signal_readable(sid);
            self.signal_writable(sid);
        }
    }

    /// Bytes to write to the transport, if any; report what was written with
    /// [`advance_output`](Self::advance_output). Control frames (SYN, UPD,
    /// NOP) go first; then one data frame per stream in turn, so a stream's
    /// PSH frames and its FIN keep their order.
    pub fn poll_output(&mut self) -> Option<&[u8]> {
        if self.closed {
            return None;
        }
        if self.out_pos == self.out.len() {
            self.out.clear();
            self.out_pos = 0;
            self.fill_output();
        }
        (self.out_pos < self.out.len()).then(|| &self.out[self.out_pos..])
    }

    /// `n` bytes of what [`poll_output`](Self::poll_output) returned were
    /// written.
    pub fn advance_output(&mut self, n: usize) {
        self.out_pos = (self.out_pos + n).min(self.out.len());
    }

    fn push_frame(&mut self, cmd: Cmd, sid: u32, payload: &[u8]) {
        // Payloads here are at most max_frame_size (u16) or 8 bytes.
        let h = Header {
            version: self.cfg.version,
            cmd,
            length: payload.len() as u16,
            sid,
        };
        let at = self.out.len();
        self.out.resize(at + HEADER_LEN, 0);
        h.emit(&mut self.out[at..]);
        self.out.extend_from_slice(payload);
        self.stats.frames_out += 1;
    }

    fn fill_output(&mut self) {
        while let Some(c) = self.control.pop_front() {
            match c {
                Control::Syn(sid) => self.push_frame(Cmd::Syn, sid, &[]),
                Control::Nop => {
                    self.nop_pending = false;
                    self.stats.nops_out += 1;
                    self.push_frame(Cmd::Nop, 0, &[]);
                }
                Control::Refuse(sid) => {
                    self.refusals -= 1;
                    self.push_frame(Cmd::Fin, sid, &[]);
                }
                Control::Upd(sid, consumed) => {
                    // A stream closed meanwhile is gone: its UPD too.
                    if let Some(s) = self.streams.get_mut(&sid) {
                        s.pending_upds -= 1;
                        let window = self.cfg.max_stream_buffer;
                        let upd = Upd { consumed, window }.to_bytes();
                        self.push_frame(Cmd::Upd, sid, &upd);
                    }
                }
            }
        }
        while self.out.len() < OUT_BATCH {
            let Some(sid) = self.ring.pop_front() else {
                break;
            };
            let Some(s) = self.streams.get_mut(&sid) else {
                continue;
            };
            if let Some(piece) = s.send.pop_front() {
                s.send_bytes -= piece.len();
                let more = !s.send.is_empty() || s.local_closed;
                let wake = s.want_writable;
                if more {
                    self.ring.push_back(sid);
                } else {
                    s.in_ring = false;
                }
                self.stats.bytes_out += piece.len() as u64;
                self.push_frame(Cmd::Psh, sid, &piece);
                if wake {
                    self.signal_writable(sid);
                }
            } else if s.local_closed {
                // Everything sent: FIN, and the stream is gone.
                self.streams.remove(&sid);
                self.push_frame(Cmd::Fin, sid, &[]);
            } else {
                s.in_ring = false;
            }
        }
    }

    /// When [`handle_timeout`](Self::handle_timeout) wants to run next
    /// (keepalive), or `None`.
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        if self.error.is_some() {
            return None;
        }
        match (self.next_ping, self.next_check) {
            (Some(p), Some(c)) => Some(if c.is_after(p) { p } else { c }),
            (p, c) => p.or(c),
        }
    }

    /// Runs keepalive at `now` (spec §5): a NOP every interval (at most one
    /// waiting), and at every timeout period's end the session dies if
    /// nothing arrived during it, unless the local side stopped reading on
    /// purpose (receive budget spent).
    pub fn handle_timeout(&mut self, now: Timestamp) {
        let Some(k) = self.cfg.keepalive else {
            return;
        };
        if self.error.is_some() {
            return;
        }
        if let Some(p) = self.next_ping.filter(|p| now.reached(*p)) {
            if !self.nop_pending {
                self.nop_pending = true;
                self.control.push_back(Control::Nop);
            }
            // Ticks missed while nobody called are not made up (smux's
            // ticker drops them too): the next one is the first after now.
            let late = now.diff(p) as u32 / k.interval_ms;
            self.next_ping = Some(p.add_millis(late.wrapping_add(1).wrapping_mul(k.interval_ms)));
        }
        if let Some(c) = self.next_check.filter(|c| now.reached(*c)) {
            let late = now.diff(c) as u32 / k.timeout_ms;
            self.next_check = Some(c.add_millis(late.wrapping_add(1).wrapping_mul(k.timeout_ms)));
            // Periods missed while nobody called count as one: a late
            // caller does not kill a session that heard from its peer.
            if self.active {
                self.active = false;
            } else if self.bucket > 0 {
                self.fail(MuxError::KeepaliveTimeout);
            }
        }
    }
}

impl From<FrameError> for MuxError {
    fn from(e: FrameError) -> Self {
        MuxError::Protocol(e)
    }
}
