//! kcp-core: the KCP ARQ protocol as a sans-IO state machine.
//!
//! [`Kcp`] is one conversation: it turns application messages into KCP
//! segments, retransmits what the peer did not acknowledge, reassembles what
//! arrives, and never does I/O. Time comes in as a [`Timestamp`] argument;
//! datagrams come out of [`Kcp::poll_transmit`]; [`Kcp::poll_timeout`] says
//! when to call back. The wire format is byte-compatible with kcp-go and the
//! C reference ikcp, and each one's timing behaviour is available as a
//! [`Profile`] (kcp-go's by default).
//!
//! # Which crate to pick
//!
//! ```text
//!   application ─ send / recv ──────────────────────────────────────────┐
//!   kcp-session   Connection / Endpoint (sans-IO) · KcpListener/KcpStream │
//!     │  kcp-core    ARQ: segments, windows, retransmission   ◄── you are here
//!     │  kcp-fec     Reed-Solomon parity, kcp-go framing               │
//!     │  kcp-crypto  packet ciphers, nonce + CRC32 / AEAD              │
//!   UDP datagrams ◄───────────────────────────────────────────────────────┘
//! ```
//!
//! - Talking to kcp-go or kcptun (crypto, FEC, listener), or wanting
//!   `Read`/`Write` streams over UDP sockets: `kcp-session`.
//! - Bare KCP inside your own event loop or game engine (talking to C ikcp,
//!   or to another kcp-core), `no_std` targets, or testing a protocol over a
//!   simulated lossy network (`sim` feature): this crate.
//! - Only FEC or only the ciphers: `kcp-fec`, `kcp-crypto`.
//!
//! The five calls of any integration:
//!
//! ```
//! use kcp_core::{Config, Kcp, Timestamp};
//! let mut now = Timestamp::from_millis(0);
//! let mut kcp = Kcp::new(0x1122_3344, Config::new(), now);
//! kcp.send(b"ping").unwrap();                      // 1. send
//! kcp.handle_timeout(now);                         // 2. handle_timeout
//! while let Some(datagram) = kcp.poll_transmit() { // 3. poll_transmit
//!     let _ = datagram.payload(); // -> socket.send_to(...)
//! }
//! // 4. input(datagram_from_socket, now) when the socket is readable
//! if let Some(deadline) = kcp.poll_timeout() {     // 5. poll_timeout
//!     now = deadline; // sleep until then (or until the socket is readable)
//! }
//! # let _ = now;
//! let mut buf = [0u8; 1500];
//! assert!(kcp.recv(&mut buf).is_err()); // nothing from the peer yet
//! ```
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

extern crate alloc;

/// The crate README's example, compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

mod clock;
mod config;
mod error;
pub(crate) mod kcp;
mod output;
mod recv;
mod ring;
mod rto;
pub mod segment;
mod send;
mod stats;
mod time;

#[cfg(feature = "sim")]
pub mod sim;

pub use config::{
    Config, DEFAULT_DEAD_LINK, DEFAULT_INTERVAL, DEFAULT_MTU, DEFAULT_SND_WND, Profile,
};
pub use error::{ConfigError, InputError, RecvError, SendError};
pub use kcp::{Kcp, MAX_ACKLIST, Origin, State};
pub use output::Transmit;
pub use rto::{RTO_DEF, RTO_MAX, RTO_MIN, RTO_NDL};
pub use segment::{Command, Header, OVERHEAD};
pub use stats::Stats;
pub use time::Timestamp;
