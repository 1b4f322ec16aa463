//! smux v1/v2, the stream multiplexer kcptun runs over a kcp-go session,
//! as a sans-IO state machine (spec smux-kcptun.md).
//!
//! - [`frame`]: the 8-byte header as a [`Header`] with `parse`/`emit`.
//! - [`Mux`]: one session over any reliable byte stream (a KCP
//!   [`Connection`](crate::Connection) in stream mode, a
//!   [`KcpStream`](crate::net::KcpStream), a TCP socket, an in-memory pipe):
//!   bytes in with [`Mux::handle_input`], bytes out with
//!   [`Mux::poll_output`], keepalive through [`Mux::poll_timeout`] /
//!   [`Mux::handle_timeout`], streams opened, accepted, written, read and
//!   closed by id.
//! - [`net`]: the blocking std driver, an [`net::SmuxSession`] over a
//!   [`KcpStream`](crate::net::KcpStream), a TCP socket or any reader/writer
//!   pair, with [`net::SmuxStream`]s that are `Read + Write`.
//! - `tokio` (feature `tokio`): the async driver, an
//!   `tokio::AsyncSmuxSession` over any `AsyncRead + AsyncWrite` byte
//!   stream (a [`tokio::KcpStream`](crate::tokio::KcpStream), a TCP
//!   stream, an in-memory duplex), one driver task per session, with
//!   `tokio::AsyncSmuxStream`s that are `AsyncRead + AsyncWrite`.
//! - [`snappy`] (feature `snappy`): kcptun's compression layer, snappy
//!   framing as a byte-stream transform between the mux and the transport.
//!
//! Wire behaviour follows smux v1.5.52 as kcptun vendors it: client ids
//! odd from 3, server ids even from 2; PSH frames of at most
//! `max_frame_size`; v2 per-stream windows (`UPD` after the first read and
//! every `max_stream_buffer / 2` bytes read); keepalive NOPs; a session
//! receive budget that stops reading the transport when spent.

pub mod frame;
pub mod net;
#[cfg(feature = "snappy")]
pub mod snappy;
#[cfg(feature = "tokio")]
pub mod tokio;

mod config;
mod error;
mod mux;
mod stream;

pub use config::{Keepalive, MuxConfig, MuxConfigError};
pub use error::{MuxError, StreamError};
pub use frame::{Cmd, FrameError, HEADER_LEN, Header, Upd, Version};
pub use mux::{Mux, MuxEvent, MuxStats, Role, StreamId};
