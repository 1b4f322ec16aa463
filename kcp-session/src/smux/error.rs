//! Session- and stream-level errors of the smux state machine.

use core::fmt;

use super::frame::FrameError;

/// Why a [`Mux`](super::Mux) session stopped, or why it refused a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum MuxError {
    /// The peer sent a frame smux rejects ("invalid protocol"): wrong
    /// version, unknown command, UPD on v1. Input stops here for good, as
    /// in smux; streams still hand out what they buffered.
    Protocol(FrameError),
    /// Nothing arrived during a whole keepalive period.
    KeepaliveTimeout,
    /// [`Mux::close`](super::Mux::close) was called.
    Closed,
    /// The stream id space is used up (smux `ErrGoAway`).
    GoAway,
    /// `max_streams` streams are alive.
    TooManyStreams,
}

impl fmt::Display for MuxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MuxError::Protocol(e) => write!(f, "invalid protocol: {e}"),
            MuxError::KeepaliveTimeout => f.write_str("keepalive timeout"),
            MuxError::Closed => f.write_str("session closed"),
            MuxError::GoAway => f.write_str("stream ids exhausted (go away)"),
            MuxError::TooManyStreams => f.write_str("too many streams"),
        }
    }
}

impl std::error::Error for MuxError {}

/// Why a stream call did not go through.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum StreamError {
    /// No such stream: never opened, or closed and gone.
    Unknown,
    /// Closed locally.
    Closed,
    /// Nothing to read yet, or no room (window or send buffer) to write:
    /// wait for [`MuxEvent::Readable`](super::MuxEvent::Readable) /
    /// [`MuxEvent::Writable`](super::MuxEvent::Writable).
    Blocked,
    /// The peer closed the stream (FIN): writes fail with this, as smux's
    /// return `io.EOF`.
    Finished,
    /// The peer's UPD claims it consumed more than was sent (smux
    /// `ErrConsumed`).
    Consumed,
    /// The session is dead or closed.
    Session(MuxError),
}

impl fmt::Display for StreamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StreamError::Unknown => f.write_str("unknown stream"),
            StreamError::Closed => f.write_str("stream closed"),
            StreamError::Blocked => f.write_str("stream would block"),
            StreamError::Finished => f.write_str("stream finished by the peer"),
            StreamError::Consumed => f.write_str("peer consumed more than sent"),
            StreamError::Session(e) => write!(f, "session: {e}"),
        }
    }
}

impl std::error::Error for StreamError {}
