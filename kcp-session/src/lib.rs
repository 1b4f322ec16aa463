//! kcp-session: kcp-go's session layer as sans-IO state machines.
//!
//! A [`Connection`] is one kcp-go `UDPSession` — [`kcp_core::Kcp`], an
//! optional [`kcp_fec`] encoder/decoder and a [`kcp_crypto::Crypt`] —
//! composed exactly as kcp-go frames a datagram:
//!
//! ```text
//! send:  send() ─► KCP ─► FEC stamp (+parity) ─► seal ─► poll_transmit()
//! recv:  handle_datagram() ─► open ─► FEC demux/recover ─► KCP ─► recv()
//! wire:  [crypt header 20|12|0][FEC header 8|0][KCP segments][AEAD tag 16|0]
//! ```
//!
//! An [`Endpoint`] is the listener side: it decrypts every datagram once,
//! routes it by source address, opens sessions for new peers (kcp-go's
//! demux and reconnect rule, spec session.md §6) with a bounded accept
//! backlog, and schedules all sessions' timers on one heap.
//!
//! The [`net`] module is the blocking std adapter ([`net::KcpListener`],
//! [`net::KcpStream`]); with the `tokio` feature, `tokio` is the async
//! adapter (a driver task per socket); everything else is sans-IO.
//!
//! Nothing outside [`net`] reads a clock, touches a socket or spawns a thread: time is
//! a [`Timestamp`] argument everywhere. An I/O adapter (next to this crate)
//! maps `Instant` to `Timestamp`, moves datagrams between sockets and
//! [`Connection::handle_datagram`]/[`Connection::poll_transmit`] (or the
//! [`Endpoint`] equivalents), and sleeps until `poll_timeout()`.
//!
//! ```
//! use kcp_core::Timestamp;
//! use kcp_session::{Connection, Endpoint, EndpointConfig, SessionConfig};
//!
//! let cfg = SessionConfig::fast3().with_fec(10, 3);
//! let now = Timestamp::from_millis(0);
//! let mut server: Endpoint<u32> = Endpoint::new(EndpointConfig::new(cfg.clone()))?;
//! let mut client = Connection::connect(42, &cfg, now)?;
//! client.send(b"ping")?;
//! client.handle_timeout(now);
//!
//! let mut buf = [0u8; 1500];
//! while let Some(n) = client.poll_transmit(now, &mut buf) {
//!     server.handle_datagram(now, 7, &mut buf[..n]); // from address 7
//! }
//! let (h, addr) = server.accept().expect("a new session");
//! assert_eq!(addr, 7);
//! let conn = server.connection_mut(h).unwrap();
//! let mut msg = [0u8; 16];
//! let n = conn.recv(&mut msg).unwrap();
//! conn.send(&msg[..n])?; // echo
//! server.handle_timeout(now);
//! while let Some((to, n)) = server.poll_transmit(now, &mut buf) {
//!     assert_eq!(to, 7);
//!     client.handle_datagram(now, &mut buf[..n]);
//! }
//! assert_eq!(client.recv(&mut msg), Ok(4));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
// Unsafe code only in `net::mmsg` (Linux `sendmmsg`), allowed there alone.
#![deny(unsafe_code)]
#![deny(missing_docs)]

/// The crate README's example, compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

mod config;
mod connection;
mod demux;
mod endpoint;
mod error;
mod event;
mod layout;
pub mod net;
mod rate;
pub mod replay;
#[cfg(feature = "sim")]
mod sim;
pub mod smux;
mod stats;
mod timer;
#[cfg(feature = "tokio")]
pub mod tokio;
mod tx_queue;

pub use config::{CryptConfig, Mode, SessionConfig};
pub use connection::{Connection, Side};
pub use endpoint::{
    ConnectionHandle, DEFAULT_ACCEPT_BACKLOG, DEFAULT_MAX_SESSIONS, DropReason, Endpoint,
    EndpointConfig, EndpointStats,
};
pub use error::{ConfigError, OobError, ReadError, WriteError};
pub use event::Event;
pub use layout::Layout;
pub use stats::Stats;

pub use kcp_core::Timestamp;
pub use kcp_crypto::CryptName;

/// Largest datagram any session sends or expects (kcp-go's `mtuLimit`):
/// a receive buffer of this size never truncates a kcp-go datagram.
pub const MAX_DATAGRAM: usize = kcp_fec::MTU_LIMIT;

/// The workspace README's examples, compiled and run as doctests (they use
/// kcp-core, its simulator and this crate with its tokio adapter).
#[cfg(all(doctest, feature = "sim", feature = "tokio"))]
#[doc = include_str!("../../README.md")]
struct WorkspaceReadmeDoctests;
