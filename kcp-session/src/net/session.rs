//! What client and server streams share: per-session adapter state and
//! the blocking wait on a session's `Condvar`.

use std::io;
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use kcp_core::Timestamp;

use crate::{Connection, ReadError};

/// Why a session stopped being driven.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum End {
    /// Nothing arrived from the peer for the idle timeout: reads return
    /// EOF after the buffered data, writes `ConnectionAborted`.
    Idle,
    /// The listener replaced the session (the peer reconnected from the
    /// same address with a new conv): `ConnectionReset`.
    Reset,
    /// The linger ended (all acknowledged or time up) and the session was
    /// closed.
    Released,
}

/// Adapter state of one session, next to its `Connection`.
#[derive(Debug)]
pub(crate) struct SessMeta {
    /// Last datagram from the peer (for the idle timeout).
    pub(crate) last_rx: Timestamp,
    /// Linger deadline once the last handle closed the stream.
    pub(crate) closing: Option<Timestamp>,
    pub(crate) end: Option<End>,
    pub(crate) rd_shut: bool,
    pub(crate) wr_shut: bool,
    /// Every byte written was acknowledged when the linger ended.
    pub(crate) flushed: bool,
}

impl SessMeta {
    pub(crate) fn new(now: Timestamp) -> Self {
        SessMeta {
            last_rx: now,
            closing: None,
            end: None,
            rd_shut: false,
            wr_shut: false,
            flushed: false,
        }
    }
}

/// Access to one session under its owner's lock.
pub(crate) trait Project {
    /// What names the session.
    type Key: Copy;
    /// The session's adapter state and connection (`None` once released).
    fn project(&mut self, key: Self::Key) -> Option<(Option<&mut Connection>, &mut SessMeta)>;
}

/// A projected session.
pub(crate) type Sess<'a> = Option<(Option<&'a mut Connection>, &'a mut SessMeta)>;

/// Runs `f` on the session until it returns `Some`, waiting on `cv` for
/// the reactor's signal in between; `deadline` bounds the wait
/// (`TimedOut`), `nonblocking` turns a wait into `WouldBlock`.
pub(crate) fn block_on<S: Project, R>(
    m: &Mutex<S>,
    cv: &Condvar,
    key: S::Key,
    timeout: Option<Duration>,
    nonblocking: bool,
    mut f: impl FnMut(Sess<'_>) -> Option<io::Result<R>>,
) -> io::Result<R> {
    let deadline = timeout.map(|t| Instant::now() + t);
    let mut g = m
        .lock()
        .map_err(|_| io::Error::other("session lock poisoned"))?;
    loop {
        if let Some(r) = f(g.project(key)) {
            return r;
        }
        if nonblocking {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        g = match deadline {
            None => cv
                .wait(g)
                .map_err(|_| io::Error::other("session lock poisoned"))?,
            Some(d) => {
                let now = Instant::now();
                if now >= d {
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "kcp stream timed out",
                    ));
                }
                cv.wait_timeout(g, d - now)
                    .map_err(|_| io::Error::other("session lock poisoned"))?
                    .0
            }
        };
    }
}

/// One read attempt (`None` = wait).
pub(crate) fn try_read(s: Sess<'_>, buf: &mut [u8]) -> Option<io::Result<usize>> {
    let Some((conn, meta)) = s else {
        return Some(Ok(0));
    };
    if buf.is_empty() || meta.rd_shut {
        return Some(Ok(0));
    }
    let Some(conn) = conn else {
        return Some(match meta.end {
            Some(End::Reset) => Err(io::ErrorKind::ConnectionReset.into()),
            _ => Ok(0),
        });
    };
    match conn.recv(buf) {
        Ok(n) => Some(Ok(n)),
        Err(ReadError::Closed) => Some(match meta.end {
            Some(End::Reset) | None => Err(io::ErrorKind::ConnectionReset.into()),
            _ => Ok(0),
        }),
        Err(ReadError::WouldBlock) => match meta.end {
            Some(End::Reset) => Some(Err(io::ErrorKind::ConnectionReset.into())),
            Some(_) => Some(Ok(0)),
            None => None,
        },
    }
}

/// One write attempt (`None` = window full, wait). Writes at most what
/// the free send window holds (at least one segment), like a socket's
/// partial write.
pub(crate) fn try_write(s: Sess<'_>, buf: &[u8]) -> Option<io::Result<usize>> {
    let Some((Some(conn), meta)) = s else {
        return Some(Err(io::ErrorKind::NotConnected.into()));
    };
    if meta.wr_shut || meta.closing.is_some() {
        return Some(Err(io::ErrorKind::BrokenPipe.into()));
    }
    match meta.end {
        Some(End::Idle) => return Some(Err(io::ErrorKind::ConnectionAborted.into())),
        Some(End::Reset) => return Some(Err(io::ErrorKind::ConnectionReset.into())),
        Some(End::Released) => return Some(Err(io::ErrorKind::NotConnected.into())),
        None => {}
    }
    if buf.is_empty() {
        return Some(Ok(0));
    }
    if !conn.is_writable() {
        return None;
    }
    let wnd = conn.kcp().config().snd_wnd() as usize;
    let free = wnd.saturating_sub(conn.wait_snd()).max(1);
    let n = buf.len().min(free * conn.mss());
    Some(
        conn.send(&buf[..n])
            .map_err(|_| io::ErrorKind::BrokenPipe.into()),
    )
}

/// Linger/idle bookkeeping shared by both drivers, run at each service.
/// Returns `true` when the session must now be closed (linger over).
pub(crate) fn check_linger(conn: &Connection, meta: &mut SessMeta, now: Timestamp) -> bool {
    match meta.closing {
        Some(deadline) if meta.end.is_none() => {
            let acked = conn.wait_snd() == 0;
            if acked || now.reached(deadline) {
                meta.flushed = acked;
                meta.end = Some(End::Released);
                return true;
            }
            false
        }
        _ => false,
    }
}

/// Earlier of two optional deadlines.
pub(crate) fn earliest(a: Option<Timestamp>, b: Option<Timestamp>) -> Option<Timestamp> {
    match (a, b) {
        (Some(x), Some(y)) => Some(if x.diff(y) <= 0 { x } else { y }),
        (x, None) => x,
        (None, y) => y,
    }
}

/// Error for an unusable timeout, as std sockets report it.
pub(crate) fn check_timeout(t: Option<Duration>) -> io::Result<()> {
    if t == Some(Duration::ZERO) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "cannot set a 0 duration timeout",
        ));
    }
    Ok(())
}
