//! One smux stream's state inside a [`Mux`](super::Mux).

use std::collections::VecDeque;

/// Receive and send state of one stream.
#[derive(Debug)]
pub(super) struct Stream {
    /// Received PSH payloads, whole, in order; a read never spans two, as
    /// in smux (the v2 UPD schedule depends on it).
    pub recv: VecDeque<Vec<u8>>,
    /// Bytes of `recv[0]` already read.
    pub recv_pos: usize,
    /// Unread bytes in `recv`.
    pub recv_bytes: usize,
    /// The peer sent FIN: reads drain `recv`, then see the end.
    pub peer_fin: bool,
    /// Closed locally: FIN queued after `send`, then the stream goes.
    pub local_closed: bool,
    /// PSH payloads not yet framed, each at most `max_frame_size`.
    pub send: VecDeque<Vec<u8>>,
    /// Bytes in `send`.
    pub send_bytes: usize,
    /// In the data round-robin ring.
    pub in_ring: bool,
    /// v2: bytes accepted for sending, mod 2^32 (smux `numWritten`).
    pub num_written: u32,
    /// v2: the peer's last UPD `consumed` (smux `peerConsumed`).
    pub peer_consumed: u32,
    /// v2: the peer's last UPD `window` (smux `peerWindow`, first 262144).
    pub peer_window: u32,
    /// v2: bytes delivered to the application, mod 2^32 (smux `numRead`).
    pub num_read: u32,
    /// v2: bytes delivered since the last UPD (smux `incr`).
    pub incr: u32,
    /// v2: UPDs of this stream waiting in the control queue.
    pub pending_upds: u8,
    /// A `Readable` event is queued and not yet answered by a read.
    pub readable_signalled: bool,
    /// A write was refused for room; signal `Writable` when room returns.
    pub want_writable: bool,
}

/// smux's initial guess of the peer's window (`frame.go:50`).
pub(super) const INITIAL_PEER_WINDOW: u32 = 262_144;

impl Stream {
    pub fn new() -> Stream {
        Stream {
            recv: VecDeque::new(),
            recv_pos: 0,
            recv_bytes: 0,
            peer_fin: false,
            local_closed: false,
            send: VecDeque::new(),
            send_bytes: 0,
            in_ring: false,
            num_written: 0,
            peer_consumed: 0,
            peer_window: INITIAL_PEER_WINDOW,
            num_read: 0,
            incr: 0,
            pending_upds: 0,
            readable_signalled: false,
            want_writable: false,
        }
    }

    /// Copies the rest of the front payload (at most `buf.len()` bytes).
    pub fn read_front(&mut self, buf: &mut [u8]) -> usize {
        let Some(front) = self.recv.front() else {
            return 0;
        };
        let rest = &front[self.recv_pos..];
        let n = rest.len().min(buf.len());
        buf[..n].copy_from_slice(&rest[..n]);
        self.recv_pos += n;
        if self.recv_pos == front.len() {
            self.recv.pop_front();
            self.recv_pos = 0;
        }
        self.recv_bytes -= n;
        n
    }

    /// v2 writer room (spec §8.2): `peerWindow - (numWritten - peerConsumed)`
    /// with smux's wrapping 32-bit arithmetic; `None` when the peer claims
    /// to have consumed more than was sent.
    pub fn window_room(&self) -> Option<u32> {
        let inflight = self.num_written.wrapping_sub(self.peer_consumed) as i32;
        if inflight < 0 {
            return None;
        }
        // smux computes int32(peerWindow) - inflight in wrapping int32.
        let win = (self.peer_window as i32).wrapping_sub(inflight);
        Some(win.max(0) as u32)
    }
}
