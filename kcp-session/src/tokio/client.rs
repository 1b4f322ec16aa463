//! A dialled session's core: one [`Connection`] on its own socket (kcp-go
//! dials one socket per session), serviced by its driver task.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::Waker;

use super::driver::{Core, Outcome};
use super::session::SessState;
use crate::net::session::{End, earliest};
use crate::net::udp_batch::{IoCounters, RxBatch, TxBatch};
use crate::{Connection, Timestamp};

pub(crate) struct ClientCore {
    pub(crate) conn: Connection,
    pub(crate) sess: SessState,
    pub(crate) peer: SocketAddr,
    pub(crate) idle_ms: Option<u32>,
    pub(crate) counters: Arc<IoCounters>,
    /// The stream's handles are gone.
    pub(crate) dropped: bool,
}

impl Core for ClientCore {
    fn service(
        &mut self,
        now: Timestamp,
        rx: &mut RxBatch,
        tx: Option<&mut TxBatch>,
        wake: &mut Vec<Waker>,
    ) -> Outcome {
        let ClientCore {
            conn, sess, peer, ..
        } = self;
        let peer = *peer;
        let live = sess.meta.end.is_none();
        rx.for_each(|from, d| {
            if from != peer {
                conn.count_foreign_datagram();
                self.counters.foreign.fetch_add(1, Ordering::Relaxed);
            } else if live {
                conn.handle_datagram(now, d);
                sess.meta.last_rx = now;
            }
        });
        rx.clear();
        let mut next = None;
        if sess.meta.end.is_none() {
            if conn.poll_timeout().is_some_and(|t| now.reached(t)) {
                conn.handle_timeout(now);
            }
            if let Some(idle) = self.idle_ms
                && sess.meta.closing.is_none()
            {
                let at = sess.meta.last_rx.add_millis(idle);
                if now.reached(at) {
                    sess.meta.end = Some(End::Idle);
                    sess.wakers.take_all(wake);
                } else {
                    next = Some(at);
                }
            }
        }
        sess.watch(Some(conn), now, &mut next, wake);
        if sess.meta.end == Some(End::Released) && !conn.is_closed() {
            conn.close(now);
        }
        let mut more_tx = false;
        if let Some(tx) = tx {
            while !tx.is_full() {
                if !tx.push_with(|b| conn.poll_transmit(now, b).map(|n| (peer, n))) {
                    break;
                }
            }
            more_tx = tx.is_full() && conn.has_pending_transmit();
        }
        while let Some(ev) = conn.poll_event() {
            sess.wakers.on_event(ev, wake);
        }
        let finished = sess.meta.end == Some(End::Released) && conn.is_drained() && !more_tx;
        if sess.meta.end.is_none() || sess.meta.end == Some(End::Released) {
            next = earliest(next, conn.poll_timeout());
        }
        Outcome {
            next,
            more_tx,
            finished: finished && self.dropped,
        }
    }

    fn abandon(&mut self, wake: &mut Vec<Waker>) {
        self.sess.wakers.take_all(wake);
    }
}
