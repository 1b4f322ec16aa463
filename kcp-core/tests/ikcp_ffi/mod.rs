//! A small safe wrapper around the classic C `ikcp.c` bundled by `kcp-io`
//! (raw FFI in `kcp_io::sys`), used as the reference in differential tests.
//!
//! Every datagram the C code outputs is copied into a `VecDeque<Vec<u8>>` that
//! the wrapper owns on the heap; the C callback reaches it through ikcp's
//! `user` pointer.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::os::raw::{c_char, c_int, c_long, c_void};

use kcp_io::sys;

/// The C protocol variables that `kcp_core::State` mirrors, plus queue sizes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CState {
    pub snd_una: u32,
    pub snd_nxt: u32,
    pub rcv_nxt: u32,
    pub rx_srtt: i32,
    pub rx_rttvar: i32,
    pub rx_rto: u32,
    pub cwnd: u32,
    pub ssthresh: u32,
    pub incr: u32,
    pub rmt_wnd: u32,
    pub probe_wait: u32,
    pub ts_probe: u32,
    pub nsnd_que: u32,
    pub nsnd_buf: u32,
    pub nrcv_que: u32,
    pub nrcv_buf: u32,
    pub ackcount: u32,
    pub ts_flush: u32,
    pub current: u32,
    pub updated: bool,
    pub dead: bool,
}

/// One C ikcp control block.
pub struct CKcp {
    kcp: *mut sys::IKCPCB,
    /// Datagrams output by the C code, oldest first. Allocated with
    /// `Box::into_raw` so its address is stable and no Rust reference to it
    /// is alive while C runs; freed in `Drop`.
    out: *mut VecDeque<Vec<u8>>,
}

/// The output callback: copies `buf[..len]` into the `VecDeque<Vec<u8>>` that
/// `user` points to.
unsafe extern "C" fn output_cb(
    buf: *const c_char,
    len: c_int,
    _kcp: *mut sys::IKCPCB,
    user: *mut c_void,
) -> c_int {
    // SAFETY: `user` is the `out` pointer of the `CKcp` that created this
    // control block (set in `CKcp::new`), valid until `Drop`, and no other
    // reference to that Vec exists while ikcp runs (the wrapper only touches
    // it between C calls). `buf` points to `len` initialised bytes of ikcp's
    // flush buffer for the duration of this call, and ikcp never calls the
    // output with `len <= 0`.
    unsafe {
        let out = &mut *user.cast::<VecDeque<Vec<u8>>>();
        let bytes = std::slice::from_raw_parts(buf.cast::<u8>(), len as usize);
        out.push_back(bytes.to_vec());
    }
    0
}

impl CKcp {
    /// `ikcp_create(conv)` with the output callback installed.
    pub fn new(conv: u32) -> CKcp {
        let out = Box::into_raw(Box::new(VecDeque::<Vec<u8>>::new()));
        // SAFETY: `ikcp_create` only stores the user pointer; `out` stays
        // valid until `Drop` releases the control block first and then it.
        let kcp = unsafe { sys::ikcp_create(conv, out.cast::<c_void>()) };
        assert!(!kcp.is_null(), "ikcp_create failed");
        // SAFETY: `kcp` is a live control block returned by `ikcp_create`.
        unsafe { sys::ikcp_setoutput(kcp, output_cb) };
        CKcp { kcp, out }
    }

    /// `ikcp_nodelay`.
    pub fn nodelay(&mut self, nodelay: i32, interval: i32, resend: i32, nc: i32) {
        // SAFETY: `self.kcp` is live for the lifetime of `self`.
        unsafe { sys::ikcp_nodelay(self.kcp, nodelay, interval, resend, nc) };
    }

    /// `ikcp_wndsize`.
    pub fn wndsize(&mut self, snd: i32, rcv: i32) {
        // SAFETY: `self.kcp` is live for the lifetime of `self`.
        unsafe { sys::ikcp_wndsize(self.kcp, snd, rcv) };
    }

    /// `ikcp_setmtu`; returns its status (0 = ok).
    pub fn setmtu(&mut self, mtu: i32) -> i32 {
        // SAFETY: `self.kcp` is live for the lifetime of `self`.
        unsafe { sys::ikcp_setmtu(self.kcp, mtu) }
    }

    /// Sets the `stream` flag.
    pub fn set_stream(&mut self, stream: bool) {
        // SAFETY: `self.kcp` is live and not used concurrently; `stream` is
        // a plain int field.
        unsafe { (*self.kcp).stream = c_int::from(stream) };
    }

    /// Sets `dead_link`.
    pub fn set_dead_link(&mut self, xmit: u32) {
        // SAFETY: as in `set_stream`.
        unsafe { (*self.kcp).dead_link = xmit };
    }

    /// Sets `fastlimit`.
    pub fn set_fastlimit(&mut self, limit: i32) {
        // SAFETY: as in `set_stream`.
        unsafe { (*self.kcp).fastlimit = limit };
    }

    /// Sets `current`, the clock that `ikcp_input` and `ikcp_flush` read.
    pub fn set_current(&mut self, now: u32) {
        // SAFETY: as in `set_stream`.
        unsafe { (*self.kcp).current = now };
    }

    /// `ikcp_send`: bytes accepted, or ikcp's negative status.
    pub fn send(&mut self, data: &[u8]) -> i32 {
        let len = c_int::try_from(data.len()).expect("message fits c_int");
        // SAFETY: `data` is valid for `len` bytes and only read; ikcp copies
        // it into its own segments before returning.
        unsafe { sys::ikcp_send(self.kcp, data.as_ptr().cast::<c_char>(), len) }
    }

    /// `ikcp_recv` into `buf`: the message length, or ikcp's negative status.
    pub fn recv(&mut self, buf: &mut [u8]) -> i32 {
        let len = c_int::try_from(buf.len()).expect("buffer fits c_int");
        // SAFETY: `buf` is valid for writes of `len` bytes, and ikcp writes
        // at most `len` (it returns -3 without writing if the message is
        // larger).
        unsafe { sys::ikcp_recv(self.kcp, buf.as_mut_ptr().cast::<c_char>(), len) }
    }

    /// `ikcp_peeksize`.
    pub fn peeksize(&self) -> i32 {
        // SAFETY: `self.kcp` is live; `ikcp_peeksize` only reads.
        unsafe { sys::ikcp_peeksize(self.kcp) }
    }

    /// `ikcp_input` at `now` (sets `current` first, as the Rust port's
    /// `input(data, now)` does): 0, or ikcp's negative status.
    pub fn input(&mut self, data: &[u8], now: u32) -> i32 {
        self.set_current(now);
        let size = c_long::try_from(data.len()).expect("datagram fits c_long");
        // SAFETY: `data` is valid for `size` bytes and only read; ikcp copies
        // payloads it keeps.
        unsafe { sys::ikcp_input(self.kcp, data.as_ptr().cast::<c_char>(), size) }
    }

    /// `ikcp_update(now)`; output goes to the queue drained by
    /// [`CKcp::drain_output`].
    pub fn update(&mut self, now: u32) {
        // SAFETY: `self.kcp` is live; the output callback only touches
        // `self.out`, which no Rust reference aliases during the call.
        unsafe { sys::ikcp_update(self.kcp, now) };
    }

    /// `ikcp_flush` with `current = now`.
    pub fn flush(&mut self, now: u32) {
        self.set_current(now);
        // SAFETY: as in `update`.
        unsafe { sys::ikcp_flush(self.kcp) };
    }

    /// `ikcp_check(now)`.
    pub fn check(&self, now: u32) -> u32 {
        // SAFETY: `self.kcp` is live; `ikcp_check` only reads.
        unsafe { sys::ikcp_check(self.kcp, now) }
    }

    /// `ikcp_waitsnd`.
    pub fn waitsnd(&self) -> i32 {
        // SAFETY: `self.kcp` is live; `ikcp_waitsnd` only reads.
        unsafe { sys::ikcp_waitsnd(self.kcp) }
    }

    /// Takes every datagram output so far, oldest first.
    pub fn drain_output(&mut self) -> Vec<Vec<u8>> {
        // SAFETY: `self.out` is valid until `Drop`; no C call is running
        // (we hold `&mut self`), so this is the only reference to it.
        unsafe { std::mem::take(&mut *self.out) }.into()
    }

    /// Takes the oldest datagram output so far.
    pub fn pop_output(&mut self) -> Option<Vec<u8>> {
        // SAFETY: as in `drain_output`.
        unsafe { (*self.out).pop_front() }
    }

    /// Datagrams waiting in the output queue.
    pub fn pending_output(&self) -> usize {
        // SAFETY: as in `drain_output` (shared access, no C call running).
        unsafe { (*self.out).len() }
    }

    /// A snapshot of the control block's variables.
    pub fn state(&self) -> CState {
        // SAFETY: `self.kcp` is live and no C call is running; we only read
        // plain integer fields.
        let k = unsafe { &*self.kcp };
        CState {
            snd_una: k.snd_una,
            snd_nxt: k.snd_nxt,
            rcv_nxt: k.rcv_nxt,
            rx_srtt: k.rx_srtt,
            rx_rttvar: k.rx_rttval,
            rx_rto: k.rx_rto as u32,
            cwnd: k.cwnd,
            ssthresh: k.ssthresh,
            incr: k.incr,
            rmt_wnd: k.rmt_wnd,
            probe_wait: k.probe_wait,
            ts_probe: k.ts_probe,
            nsnd_que: k.nsnd_que,
            nsnd_buf: k.nsnd_buf,
            nrcv_que: k.nrcv_que,
            nrcv_buf: k.nrcv_buf,
            ackcount: k.ackcount,
            ts_flush: k.ts_flush,
            current: k.current,
            updated: k.updated != 0,
            dead: k.state != 0,
        }
    }
}

impl Drop for CKcp {
    fn drop(&mut self) {
        // SAFETY: `self.kcp` came from `ikcp_create` and is released exactly
        // once, before the output queue it points to; `self.out` came from
        // `Box::into_raw` and is reclaimed exactly once.
        unsafe {
            sys::ikcp_release(self.kcp);
            drop(Box::from_raw(self.out));
        }
    }
}
