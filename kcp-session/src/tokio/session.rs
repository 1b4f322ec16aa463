//! Per-session adapter state of the tokio adapter: the std adapter's
//! [`SessMeta`] (linger, idle, shutdown flags) plus the wakers of the tasks
//! waiting on the session.

use std::task::Waker;

use crate::net::session::{End, SessMeta, check_linger, earliest};
use crate::{Connection, Event, Timestamp};

/// Wakers of the tasks waiting on one session, one per kind of wait (a
/// stream has one reader and one writer at a time: their methods take
/// `&mut self`).
#[derive(Debug, Default)]
pub(crate) struct Wakers {
    pub(crate) rd: Option<Waker>,
    pub(crate) wr: Option<Waker>,
    pub(crate) oob: Option<Waker>,
    /// `poll_shutdown` / `close` waiting for acknowledgements.
    pub(crate) shut: Option<Waker>,
}

impl Wakers {
    pub(crate) fn take_all(&mut self, out: &mut Vec<Waker>) {
        out.extend(
            [&mut self.rd, &mut self.wr, &mut self.oob, &mut self.shut]
                .into_iter()
                .filter_map(Option::take),
        );
    }

    /// The wakers an event concerns.
    pub(crate) fn on_event(&mut self, ev: Event, out: &mut Vec<Waker>) {
        let w = match ev {
            Event::Readable => self.rd.take(),
            Event::Writable => self.wr.take(),
            Event::OobReceived => self.oob.take(),
            Event::DeadLink => None,
            Event::Closed => {
                self.take_all(out);
                None
            }
        };
        out.extend(w);
    }
}

/// One session's adapter state.
#[derive(Debug)]
pub(crate) struct SessState {
    pub(crate) meta: SessMeta,
    pub(crate) wakers: Wakers,
    /// `poll_shutdown` started: it waits for acknowledgements until then.
    pub(crate) flush_by: Option<Timestamp>,
    /// A shutdown waiter wants the driver to watch `flush_by`.
    pub(crate) flush_watch: bool,
}

impl SessState {
    pub(crate) fn new(now: Timestamp) -> Self {
        SessState {
            meta: SessMeta::new(now),
            wakers: Wakers::default(),
            flush_by: None,
            flush_watch: false,
        }
    }

    /// Deadlines the driver watches for this session (linger after a
    /// close, a shutdown waiting for acknowledgements): run at each
    /// service. Returns whether the linger just ended (the caller closes
    /// the connection) and whether the session still needs watching; adds
    /// its next deadline to `next`.
    pub(crate) fn watch(
        &mut self,
        conn: Option<&Connection>,
        now: Timestamp,
        next: &mut Option<Timestamp>,
        wake: &mut Vec<Waker>,
    ) -> (bool, bool) {
        let mut released = false;
        if self.meta.closing.is_some() && self.meta.end.is_none() {
            match conn {
                Some(c) if check_linger(c, &mut self.meta, now) => released = true,
                Some(_) => *next = earliest(*next, self.meta.closing),
                None => {
                    self.meta.end = Some(End::Released);
                    released = true;
                }
            }
            if released {
                self.wakers.take_all(wake);
            }
        }
        if self.flush_watch {
            let by = self.flush_by.unwrap_or(now);
            let done = self.meta.end.is_some()
                || conn.is_none_or(|c| c.wait_snd() == 0)
                || now.reached(by);
            if done {
                self.flush_watch = false;
                wake.extend(self.wakers.shut.take());
            } else {
                *next = earliest(*next, Some(by));
            }
        }
        let lingering = self.meta.closing.is_some() && self.meta.end.is_none();
        (released, lingering || self.flush_watch)
    }
}
