//! The implementations under test, behind [`Arq`].

use std::cell::RefCell;
use std::io;
use std::os::raw::{c_char, c_int, c_long, c_void};
use std::rc::Rc;

use kcp_core::{Config, Kcp, Profile, Timestamp};
use kcp_io::sys;

/// Settings every peer gets, so the comparison is like for like.
#[derive(Clone, Copy, Debug)]
pub struct Tuning {
    /// `nodelay` of the nodelay quadruple.
    pub nodelay: i32,
    /// Flush interval in ms.
    pub interval: i32,
    /// Fast-retransmit threshold.
    pub resend: i32,
    /// 1 disables congestion control.
    pub nc: i32,
    /// Send and receive window, segments.
    pub wnd: u16,
    /// Stream mode.
    pub stream: bool,
}

impl Tuning {
    /// nodelay(1, 10, 2, 1), windows 1024/1024, message mode.
    pub fn turbo() -> Self {
        Tuning {
            nodelay: 1,
            interval: 10,
            resend: 2,
            nc: 1,
            wnd: 1024,
            stream: false,
        }
    }
}

/// The operations a transfer needs.
pub trait Arq {
    /// Queues a message; `false` if refused.
    fn send(&mut self, data: &[u8]) -> bool;
    /// Reads one message.
    fn recv(&mut self, buf: &mut [u8]) -> Option<usize>;
    /// Feeds one datagram.
    fn input(&mut self, datagram: &[u8], now: u32);
    /// Runs timers (`ikcp_update`, or kcp-core's `handle_timeout`).
    fn update(&mut self, now: u32);
    /// Segments queued or unacknowledged.
    fn wait_snd(&self) -> usize;
    /// Hands every pending datagram to `f`.
    fn drain(&mut self, f: &mut dyn FnMut(&[u8]));
}

/// kcp-core in either profile.
pub struct Core(pub Kcp);

/// kcp-core reading with `recv_with` (fragments handed out in place, no copy
/// into a caller buffer; the callback only adds up their lengths).
pub struct CoreZeroCopy(pub Core);

impl Arq for CoreZeroCopy {
    fn send(&mut self, data: &[u8]) -> bool {
        self.0.send(data)
    }
    fn recv(&mut self, _buf: &mut [u8]) -> Option<usize> {
        let mut seen = 0;
        self.0.0.recv_with(|frag| seen += frag.len()).ok()?;
        Some(seen)
    }
    fn input(&mut self, d: &[u8], now: u32) {
        self.0.input(d, now)
    }
    fn update(&mut self, now: u32) {
        self.0.update(now)
    }
    fn wait_snd(&self) -> usize {
        self.0.wait_snd()
    }
    fn drain(&mut self, f: &mut dyn FnMut(&[u8])) {
        self.0.drain(f)
    }
}

impl Core {
    /// A kcp-core endpoint in `profile` with `t`, created at time 0.
    pub fn new(conv: u32, profile: Profile, t: Tuning) -> Self {
        let mut c = Config::with_profile(profile);
        c.set_nodelay(t.nodelay, t.interval, t.resend, t.nc)
            .set_window(t.wnd.into(), t.wnd.into())
            .set_stream(t.stream);
        Core(Kcp::new(conv, c, Timestamp::from_millis(0)))
    }
}

impl Arq for Core {
    fn send(&mut self, data: &[u8]) -> bool {
        self.0.send(data).is_ok()
    }
    fn recv(&mut self, buf: &mut [u8]) -> Option<usize> {
        self.0.recv(buf).ok()
    }
    fn input(&mut self, d: &[u8], now: u32) {
        let _ = self.0.input(d, Timestamp::from_millis(now));
    }
    fn update(&mut self, now: u32) {
        self.0.handle_timeout(Timestamp::from_millis(now));
    }
    fn wait_snd(&self) -> usize {
        self.0.wait_snd()
    }
    fn drain(&mut self, f: &mut dyn FnMut(&[u8])) {
        while let Some(t) = self.0.poll_transmit() {
            f(t.payload());
        }
    }
}

/// Datagrams a C or `kcp`-crate endpoint emitted, in reused buffers.
pub struct OutQueue {
    bufs: Vec<Vec<u8>>,
    len: usize,
    /// C only: deliver straight into this peer's `ikcp_input` from the output
    /// callback (no copy, the cheapest use of the C API) instead of queueing.
    peer: *mut sys::IKCPCB,
}

impl Default for OutQueue {
    fn default() -> Self {
        OutQueue {
            bufs: Vec::new(),
            len: 0,
            peer: std::ptr::null_mut(),
        }
    }
}

impl OutQueue {
    fn push(&mut self, d: &[u8]) {
        if self.len == self.bufs.len() {
            self.bufs.push(Vec::with_capacity(2048));
        }
        let b = &mut self.bufs[self.len];
        b.clear();
        b.extend_from_slice(d);
        self.len += 1;
    }
    fn drain(&mut self, f: &mut dyn FnMut(&[u8])) {
        for b in &self.bufs[..self.len] {
            f(b);
        }
        self.len = 0;
    }
}

/// The C reference ikcp (kcp-io's bundled classic `ikcp.c`), raw FFI.
pub struct CIkcp {
    kcp: *mut sys::IKCPCB,
    out: Box<OutQueue>,
}

unsafe extern "C" fn c_output(
    buf: *const c_char,
    len: c_int,
    kcp: *mut sys::IKCPCB,
    user: *mut c_void,
) -> c_int {
    // SAFETY: `user` is the `OutQueue` boxed in `CIkcp`, alive as long as the
    // ikcpcb; `buf` holds `len` bytes for the duration of the call; `peer`,
    // when set by `connect_direct`, is a live ikcpcb other than `kcp`.
    unsafe {
        let q = &mut *(user as *mut OutQueue);
        if q.peer.is_null() {
            q.push(std::slice::from_raw_parts(buf as *const u8, len as usize));
        } else {
            (*q.peer).current = (*kcp).current;
            sys::ikcp_input(q.peer, buf, len as c_long);
        }
    }
    0
}

impl CIkcp {
    /// A C ikcp endpoint with `t`, its output collected in a queue.
    pub fn new(conv: u32, t: Tuning) -> Self {
        let mut out = Box::<OutQueue>::default();
        let user = &mut *out as *mut OutQueue as *mut c_void;
        // SAFETY: plain constructor calls on a fresh ikcpcb; `user` outlives it
        // (both are owned by the returned value, released in `Drop`).
        let kcp = unsafe {
            let k = sys::ikcp_create(conv, user);
            assert!(!k.is_null());
            sys::ikcp_setoutput(k, c_output);
            sys::ikcp_nodelay(k, t.nodelay, t.interval, t.resend, t.nc);
            sys::ikcp_wndsize(k, t.wnd.into(), t.wnd.into());
            (*k).stream = i32::from(t.stream);
            k
        };
        CIkcp { kcp, out }
    }
}

impl CIkcp {
    /// Wires two endpoints so each one's output callback calls the other's
    /// `ikcp_input` directly. Both must outlive any use of either.
    pub fn connect_direct(a: &mut CIkcp, b: &mut CIkcp) {
        a.out.peer = b.kcp;
        b.out.peer = a.kcp;
    }
}

impl Drop for CIkcp {
    fn drop(&mut self) {
        // SAFETY: created by `ikcp_create`, released once.
        unsafe { sys::ikcp_release(self.kcp) }
    }
}

impl Arq for CIkcp {
    fn send(&mut self, data: &[u8]) -> bool {
        // SAFETY: valid ikcpcb; `data` is readable for its length.
        unsafe {
            sys::ikcp_send(
                self.kcp,
                data.as_ptr() as *const c_char,
                data.len() as c_int,
            ) >= 0
        }
    }
    fn recv(&mut self, buf: &mut [u8]) -> Option<usize> {
        // SAFETY: valid ikcpcb; `buf` is writable for its length.
        let n = unsafe {
            sys::ikcp_recv(
                self.kcp,
                buf.as_mut_ptr() as *mut c_char,
                buf.len() as c_int,
            )
        };
        (n >= 0).then_some(n as usize)
    }
    fn input(&mut self, d: &[u8], now: u32) {
        // SAFETY: valid ikcpcb; `d` readable; setting `current` is what
        // `ikcp_update` does and makes input see the same clock as ours.
        unsafe {
            (*self.kcp).current = now;
            sys::ikcp_input(self.kcp, d.as_ptr() as *const c_char, d.len() as c_long);
        }
    }
    fn update(&mut self, now: u32) {
        // SAFETY: valid ikcpcb.
        unsafe { sys::ikcp_update(self.kcp, now) }
    }
    fn wait_snd(&self) -> usize {
        // SAFETY: valid ikcpcb.
        unsafe { sys::ikcp_waitsnd(self.kcp) as usize }
    }
    fn drain(&mut self, f: &mut dyn FnMut(&[u8])) {
        self.out.drain(f);
    }
}

/// `io::Write` sink for the `kcp` crate.
#[derive(Clone, Default)]
pub struct SharedOut(Rc<RefCell<OutQueue>>);

impl io::Write for SharedOut {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.borrow_mut().push(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The `kcp` crate (a Rust port of ikcp).
pub struct KcpCrate {
    kcp: kcp::Kcp<SharedOut>,
    out: SharedOut,
}

impl KcpCrate {
    /// A `kcp` crate endpoint with `t`.
    pub fn new(conv: u32, t: Tuning) -> Self {
        let out = SharedOut::default();
        let mut kcp = if t.stream {
            kcp::Kcp::new_stream(conv, out.clone())
        } else {
            kcp::Kcp::new(conv, out.clone())
        };
        kcp.set_nodelay(t.nodelay != 0, t.interval, t.resend, t.nc != 0);
        kcp.set_wndsize(t.wnd, t.wnd);
        KcpCrate { kcp, out }
    }
}

impl Arq for KcpCrate {
    fn send(&mut self, data: &[u8]) -> bool {
        self.kcp.send(data).is_ok()
    }
    fn recv(&mut self, buf: &mut [u8]) -> Option<usize> {
        self.kcp.recv(buf).ok()
    }
    fn input(&mut self, d: &[u8], _now: u32) {
        let _ = self.kcp.input(d);
    }
    fn update(&mut self, now: u32) {
        let _ = self.kcp.update(now);
    }
    fn wait_snd(&self) -> usize {
        self.kcp.wait_snd()
    }
    fn drain(&mut self, f: &mut dyn FnMut(&[u8])) {
        self.out.0.borrow_mut().drain(f);
    }
}
