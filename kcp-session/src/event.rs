//! What a connection tells its driver.

/// Application-level events of a [`Connection`](crate::Connection),
/// drained with [`Connection::poll_event`](crate::Connection::poll_event)
/// (or [`Endpoint::poll_event`](crate::Endpoint::poll_event)). Each kind is
/// queued at most once until it is consumed, so the queue stays tiny.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Event {
    /// A complete message can be read (kcp-go's read notification).
    /// Edge-triggered: raised again only after `recv` returned
    /// [`ReadError::WouldBlock`](crate::ReadError::WouldBlock).
    Readable,
    /// The send window has room again after `send` filled it.
    Writable,
    /// OOB packets are waiting in [`Connection::recv_oob`](crate::Connection::recv_oob).
    /// Raised again only after `recv_oob` returned `None`.
    OobReceived,
    /// A segment was sent `dead_link` times without an ACK. kcp-go itself
    /// never acts on this; the application may close the session.
    DeadLink,
    /// The endpoint closed the session (a peer reconnected from the same
    /// address with a new conv, spec §6). Only from
    /// [`Endpoint::poll_event`](crate::Endpoint::poll_event).
    Closed,
}
