use crate::Timestamp;

/// A sans-IO endpoint the simulator can drive: datagrams and time in,
/// datagrams and deadlines out. `kcp_core::Kcp` implements it; so can any
/// composed stack (FEC, crypto, a whole session).
pub trait Endpoint {
    /// A datagram arrived from the peer at `now`.
    fn handle_input(&mut self, datagram: &[u8], now: Timestamp);

    /// The next datagram to put on the wire, copied into `buf`; returns its
    /// length, or `None` when nothing is queued. `buf` is at least
    /// [`Endpoint::max_datagram_size`] bytes long.
    fn poll_transmit(&mut self, now: Timestamp, buf: &mut [u8]) -> Option<usize>;

    /// The next instant at which [`Endpoint::handle_timeout`] must be called,
    /// or `None` when the endpoint has no timer armed (fully idle).
    fn poll_timeout(&self) -> Option<Timestamp>;

    /// Time passed: run whatever timers are due at `now`.
    fn handle_timeout(&mut self, now: Timestamp);

    /// Largest datagram this endpoint ever emits (sizes the simulator's buffer).
    fn max_datagram_size(&self) -> usize {
        65536
    }
}
