//! `sendmmsg(2)` on Linux: several datagrams, to any mix of peers, in one
//! syscall; a message may carry a `UDP_SEGMENT` control message (UDP GSO)
//! so a run of equal-size datagrams to one peer still leaves as one
//! message. This is the crate's only unsafe code.
//!
//! `quinn-udp` sends one `sendmsg` per destination, so a listener fanning
//! out to many peers pays one syscall per datagram; this module lets the
//! reactor send a whole batch with one.

use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, BorrowedFd};

use socket2::SockAddr;

use super::udp_batch::BATCH;

/// One message of a [`sendmmsg`] call.
pub(crate) struct Msg<'a> {
    pub(crate) to: SocketAddr,
    pub(crate) contents: &'a [u8],
    /// GSO segment size: `contents` is several datagrams of this size (the
    /// last may be shorter). `None`: one datagram.
    pub(crate) segment: Option<u16>,
}

/// Control buffer for one `UDP_SEGMENT` cmsg, aligned for `cmsghdr`.
#[derive(Clone, Copy)]
#[repr(C, align(8))]
struct Ctrl([u8; 32]);

/// Sends up to [`BATCH`] messages with one `sendmmsg`. Returns how many
/// messages the kernel took (`>= 1`; fewer than `msgs.len()` is a partial
/// send: call again with the rest). An error means the first message was
/// not sent (`WouldBlock`: the socket buffer is full).
pub(crate) fn sendmmsg(fd: BorrowedFd<'_>, msgs: &[Msg<'_>]) -> io::Result<usize> {
    let n = msgs.len().min(BATCH);
    if n == 0 {
        return Ok(0);
    }
    // SAFETY: CMSG_SPACE/CMSG_LEN are pure arithmetic on their argument.
    let (space, len) = unsafe {
        (
            libc::CMSG_SPACE(size_of::<u16>() as libc::c_uint),
            libc::CMSG_LEN(size_of::<u16>() as libc::c_uint),
        )
    };
    debug_assert!(space as usize <= size_of::<Ctrl>());
    let addrs: [Option<SockAddr>; BATCH] =
        std::array::from_fn(|i| msgs.get(i).map(|m| SockAddr::from(m.to)));
    let mut iovs: [libc::iovec; BATCH] = std::array::from_fn(|i| libc::iovec {
        iov_base: msgs.get(i).map_or(std::ptr::null_mut(), |m| {
            m.contents.as_ptr().cast_mut().cast()
        }),
        iov_len: msgs.get(i).map_or(0, |m| m.contents.len()),
    });
    let mut ctrls = [Ctrl([0; 32]); BATCH];
    // SAFETY: `mmsghdr` is a plain C struct of integers and raw pointers;
    // all-zero (null pointers, zero lengths) is a valid value.
    let mut hdrs: [libc::mmsghdr; BATCH] = unsafe { std::mem::zeroed() };
    for i in 0..n {
        let addr = addrs[i].as_ref().expect("address for every message");
        let h = &mut hdrs[i].msg_hdr;
        // The kernel only reads through these pointers (sendmmsg does not
        // write the name, the iovec or the control data).
        h.msg_name = addr.as_ptr().cast_mut().cast();
        h.msg_namelen = addr.len();
        h.msg_iov = &mut iovs[i];
        h.msg_iovlen = 1;
        if let Some(seg) = msgs[i].segment {
            h.msg_control = ctrls[i].0.as_mut_ptr().cast();
            h.msg_controllen = space as _;
            // SAFETY: `h.msg_control` points to `ctrls[i]`, 32 bytes aligned
            // to 8 and at least `space` long (checked above), so the first
            // cmsghdr and its 2 data bytes lie inside it; CMSG_FIRSTHDR is
            // non-null because `msg_controllen >= size_of::<cmsghdr>()`.
            // Unaligned write for the data, as CMSG_DATA need not be
            // aligned for u16.
            unsafe {
                let c = libc::CMSG_FIRSTHDR(h);
                (*c).cmsg_level = libc::SOL_UDP;
                (*c).cmsg_type = libc::UDP_SEGMENT;
                (*c).cmsg_len = len as _;
                std::ptr::write_unaligned(libc::CMSG_DATA(c).cast::<u16>(), seg);
            }
        }
    }
    loop {
        // SAFETY: `hdrs[..n]` are initialised message headers whose name,
        // iovec and control pointers refer to `addrs`, `iovs`, `ctrls` and
        // the callers' `contents`, all alive and unmoved until this call
        // returns; the iovecs describe readable slices of the stated
        // lengths; `fd` is an open socket borrowed for the call.
        let r = unsafe { libc::sendmmsg(fd.as_raw_fd(), hdrs.as_mut_ptr(), n as _, 0) };
        if r >= 0 {
            return Ok(r as usize);
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}
