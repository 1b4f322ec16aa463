//! The blocking std adapter: [`KcpListener`] and [`KcpStream`] over real
//! UDP sockets, all driven by one shared reactor thread.
//!
//! # Threads
//!
//! However many listeners and streams exist, the adapter runs **one**
//! I/O thread (`kcp-reactor`, started on first use, alive for the
//! process): a `mio` poll loop over every socket (a listener's, and each
//! dialled stream's own, as kcp-go dials one socket per session), one
//! timer heap keyed on each socket's next `poll_timeout` (an idle reactor
//! sleeps in `poll` until the exact next deadline, or forever), and a
//! `Waker` that application threads poke after a write, an OOB send or a
//! close. Application threads block on a `Condvar` per session, signalled
//! by the reactor on readable / writable / closed.
//!
//! # Time
//!
//! The reactor maps `Instant` to [`Timestamp`](crate::Timestamp) from its
//! own epoch (wrapping milliseconds).
//!
//! # Datagram I/O
//!
//! [`IoMode::Batched`] (default) receives with `recvmmsg` + UDP GRO and
//! sends runs of equal-size datagrams to one peer with UDP GSO (through
//! `quinn-udp`); on Linux a batch to several peers leaves with one
//! `sendmmsg` (the crate's only unsafe code, in `mmsg`).
//! [`IoMode::Portable`] uses one
//! `recv_from`/`send_to` per datagram. Both are tested.

pub(crate) mod clock;
mod listener;
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
mod mmsg;
mod reactor;
pub(crate) mod session;
mod stream;
pub(crate) mod udp_batch;

use std::time::Duration;

pub use listener::{Incoming, KcpListener, ListenerStats};
pub use stream::KcpStream;
#[doc(hidden)]
pub use udp_batch::BatchSender;
pub use udp_batch::{IoMode, IoStats};

use crate::replay::ReplayConfig;
use crate::{DEFAULT_ACCEPT_BACKLOG, DEFAULT_MAX_SESSIONS, EndpointConfig, SessionConfig};

/// Default [`NetConfig::linger`].
pub const DEFAULT_LINGER: Duration = Duration::from_secs(5);

/// Adapter settings: the session options plus what only a socket-owning
/// adapter needs. A [`SessionConfig`] converts into one with defaults.
///
/// ```
/// use std::time::Duration;
/// use kcp_session::SessionConfig;
/// use kcp_session::net::NetConfig;
/// let cfg = NetConfig::from(SessionConfig::fast3())
///     .with_idle_timeout(Duration::from_secs(30))
///     .with_linger(Duration::from_secs(2));
/// assert_eq!(cfg.accept_backlog, 128);
/// ```
#[derive(Clone, Debug)]
pub struct NetConfig {
    /// Options of every session (`dscp`, `read_buffer`, `write_buffer`
    /// go to the socket).
    pub session: SessionConfig,
    /// How long a closed stream keeps running to get its data
    /// acknowledged before it is released (at most 2^31 - 1 ms, ~24.8
    /// days; longer values are cut to that).
    pub linger: Duration,
    /// Close sessions from which nothing arrived for this long (`None`:
    /// never, like kcp-go; at most 2^31 - 1 ms, ~24.8 days, longer values
    /// are cut to that). See [`KcpStream`] for what reads and writes
    /// return then.
    pub idle_timeout: Option<Duration>,
    /// Listener: sessions waiting for `accept` at most (kcp-go's 128).
    pub accept_backlog: usize,
    /// Listener: live sessions at most.
    pub max_sessions: usize,
    /// Listener: replay filters ([`EndpointConfig::replay`]); a client's
    /// is [`SessionConfig::replay_window`].
    pub replay: ReplayConfig,
    /// Listener: open sessions only on a stream's first segment
    /// ([`EndpointConfig::strict_open`]).
    pub strict_open: bool,
    /// Datagram I/O path.
    pub io_mode: IoMode,
}

impl From<SessionConfig> for NetConfig {
    fn from(session: SessionConfig) -> Self {
        NetConfig {
            session,
            linger: DEFAULT_LINGER,
            idle_timeout: None,
            accept_backlog: DEFAULT_ACCEPT_BACKLOG,
            max_sessions: DEFAULT_MAX_SESSIONS,
            replay: ReplayConfig::default(),
            strict_open: true,
            io_mode: IoMode::default(),
        }
    }
}

impl NetConfig {
    /// Sets [`linger`](Self::linger).
    pub fn with_linger(mut self, linger: Duration) -> Self {
        self.linger = linger;
        self
    }

    /// Sets [`idle_timeout`](Self::idle_timeout).
    pub fn with_idle_timeout(mut self, idle: Duration) -> Self {
        self.idle_timeout = Some(idle);
        self
    }

    /// Sets [`io_mode`](Self::io_mode).
    pub fn with_io_mode(mut self, mode: IoMode) -> Self {
        self.io_mode = mode;
        self
    }

    /// Sets [`accept_backlog`](Self::accept_backlog).
    pub fn with_accept_backlog(mut self, backlog: usize) -> Self {
        self.accept_backlog = backlog;
        self
    }

    /// Sets [`replay`](Self::replay).
    pub fn with_replay(mut self, replay: ReplayConfig) -> Self {
        self.replay = replay;
        self
    }

    /// The listener's endpoint settings.
    pub(crate) fn endpoint_config(&self) -> EndpointConfig {
        let mut e = EndpointConfig::new(self.session.clone());
        e.accept_backlog = self.accept_backlog;
        e.max_sessions = self.max_sessions;
        e.replay = self.replay;
        e.strict_open = self.strict_open;
        e
    }
}
