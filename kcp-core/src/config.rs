//! Tunables, named as kcp-go users know them, with the reference clamps.

use crate::error::ConfigError;
use crate::segment::OVERHEAD;

/// Which reference implementation's timing behaviour to reproduce. The wire
/// format is identical; they differ in RTT sampling, RTO back-off, early
/// retransmit, ACK elision and flushing from `input` (spec
/// `kcpgo-vs-ikcp.md`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Profile {
    /// kcp-go v5.6.72 `kcp.go`, byte for byte (the default).
    #[default]
    KcpGo,
    /// The classic C reference `ikcp.c` (probe init 7000 ms, fast-ack
    /// conserve, fast-ack limit 5, `rcv_wnd >= 128`), byte for byte.
    Ikcp,
}

impl Profile {
    /// Default receive window, also the initial remote window (`IKCP_WND_RCV`).
    pub const fn default_rcv_wnd(self) -> u32 {
        match self {
            Profile::KcpGo => 32,
            Profile::Ikcp => 128,
        }
    }

    /// Initial zero-window probe wait (`IKCP_PROBE_INIT`).
    pub const fn probe_init(self) -> u32 {
        match self {
            Profile::KcpGo => 500,
            Profile::Ikcp => 7000,
        }
    }

    /// Smallest MTU the setter accepts.
    pub const fn min_mtu(self) -> u32 {
        match self {
            Profile::KcpGo => OVERHEAD as u32 + 1,
            Profile::Ikcp => 50,
        }
    }

    /// Default limit on fragments per message.
    pub const fn default_max_frag(self) -> u32 {
        match self {
            Profile::KcpGo => 255,
            Profile::Ikcp => 127,
        }
    }
}

/// Default MTU (`IKCP_MTU_DEF`): the size of one KCP datagram, headers included.
pub const DEFAULT_MTU: u32 = 1400;
/// Default flush interval in ms (`IKCP_INTERVAL`).
pub const DEFAULT_INTERVAL: u32 = 100;
/// Default send window (`IKCP_WND_SND`).
pub const DEFAULT_SND_WND: u32 = 32;
/// Retransmissions after which the link is declared dead (`IKCP_DEADLINK`).
pub const DEFAULT_DEAD_LINK: u32 = 20;

/// Configuration of one KCP endpoint.
///
/// Construct with [`Config::new`] (kcp-go defaults) or [`Config::ikcp`], then
/// adjust with the setters, which apply the same clamps as the references.
///
/// ```
/// use kcp_core::{Config, Profile};
/// let mut cfg = Config::new();
/// cfg.set_nodelay(1, 10, 2, 1).set_window(128, 128);
/// cfg.set_mtu(1350).unwrap();
/// assert_eq!(cfg.interval(), 10);
/// assert_eq!(cfg.mss(), 1350 - 24);
/// assert_eq!(Config::ikcp().set_window(0, 16).rcv_wnd(), 128); // ikcp clamps to >= 128
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    pub(crate) profile: Profile,
    pub(crate) mtu: u32,
    pub(crate) snd_wnd: u32,
    pub(crate) rcv_wnd: u32,
    pub(crate) nodelay: u32,
    pub(crate) interval: u32,
    pub(crate) fastresend: i32,
    pub(crate) nocwnd: bool,
    pub(crate) stream: bool,
    pub(crate) ack_nodelay: bool,
    pub(crate) write_delay: bool,
    pub(crate) dead_link: u32,
    pub(crate) fastlimit: i32,
    pub(crate) max_frag: u32,
    pub(crate) headroom: usize,
    pub(crate) tailroom: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config::new()
    }
}

impl Config {
    /// kcp-go's defaults: mtu 1400, windows 32/32, nodelay (0, 100, 0, 0).
    pub fn new() -> Self {
        Config::with_profile(Profile::KcpGo)
    }

    /// Classic ikcp's defaults: mtu 1400, windows 32/128, nodelay (0, 100, 0, 0).
    pub fn ikcp() -> Self {
        Config::with_profile(Profile::Ikcp)
    }

    /// The defaults of `profile`.
    pub fn with_profile(profile: Profile) -> Self {
        Config {
            profile,
            mtu: DEFAULT_MTU,
            snd_wnd: DEFAULT_SND_WND,
            rcv_wnd: profile.default_rcv_wnd(),
            nodelay: 0,
            interval: DEFAULT_INTERVAL,
            fastresend: 0,
            nocwnd: false,
            stream: false,
            ack_nodelay: false,
            write_delay: false,
            dead_link: DEFAULT_DEAD_LINK,
            fastlimit: 5,
            max_frag: profile.default_max_frag(),
            headroom: 0,
            tailroom: 0,
        }
    }

    /// The behaviour profile.
    pub fn profile(&self) -> Profile {
        self.profile
    }

    /// `NoDelay(nodelay, interval, resend, nc)`: a negative argument leaves
    /// that setting unchanged; `interval` is clamped to 10..=5000 ms.
    pub fn set_nodelay(&mut self, nodelay: i32, interval: i32, resend: i32, nc: i32) -> &mut Self {
        if nodelay >= 0 {
            self.nodelay = nodelay as u32;
        }
        if interval >= 0 {
            self.interval = (interval as u32).clamp(10, 5000);
        }
        if resend >= 0 {
            self.fastresend = resend;
        }
        if nc >= 0 {
            self.nocwnd = nc != 0;
        }
        self
    }

    /// `WndSize(snd, rcv)`: values `<= 0` leave the window unchanged; the ikcp
    /// profile raises `rcv` to at least 128 so any legal message fits.
    pub fn set_window(&mut self, snd: i32, rcv: i32) -> &mut Self {
        if snd > 0 {
            self.snd_wnd = snd as u32;
        }
        if rcv > 0 {
            self.rcv_wnd = match self.profile {
                Profile::KcpGo => rcv as u32,
                Profile::Ikcp => (rcv as u32).max(128),
            };
        }
        self
    }

    /// Sets the MTU (whole KCP datagram, excluding any [`headroom`](Self::set_headroom)).
    pub fn set_mtu(&mut self, mtu: u32) -> Result<&mut Self, ConfigError> {
        if mtu < self.profile.min_mtu() || mtu > 65535 {
            return Err(ConfigError::MtuOutOfRange {
                mtu,
                min: self.profile.min_mtu(),
            });
        }
        self.mtu = mtu;
        Ok(self)
    }

    /// Stream mode: message boundaries are not kept and small writes coalesce.
    pub fn set_stream(&mut self, stream: bool) -> &mut Self {
        self.stream = stream;
        self
    }

    /// kcp-go's `ackNoDelay`: flush ACKs from `input` as soon as any is pending.
    pub fn set_ack_nodelay(&mut self, on: bool) -> &mut Self {
        self.ack_nodelay = on;
        self
    }

    /// kcp-go's `SetWriteDelay`: when off (default) a `send` asks for an
    /// immediate flush, as `UDPSession.Write` does; when on, data waits for
    /// the next interval tick.
    pub fn set_write_delay(&mut self, on: bool) -> &mut Self {
        self.write_delay = on;
        self
    }

    /// Transmissions of one segment after which [`crate::Kcp::is_dead`] turns true.
    pub fn set_dead_link(&mut self, xmit: u32) -> &mut Self {
        self.dead_link = xmit;
        self
    }

    /// ikcp's `fastlimit`: a segment is fast-retransmitted only while its
    /// transmit count is at most this (`<= 0` disables the limit). Ignored
    /// by the kcp-go profile, which allows one fast resend per RTO cycle.
    pub fn set_fastlimit(&mut self, limit: i32) -> &mut Self {
        self.fastlimit = limit;
        self
    }

    /// Largest number of fragments one message may have (1..=255). Keep it
    /// below the peer's receive window or the peer can never reassemble.
    pub fn set_max_frag(&mut self, max_frag: u32) -> Result<&mut Self, ConfigError> {
        if !(1..=255).contains(&max_frag) {
            return Err(ConfigError::MaxFragOutOfRange(max_frag));
        }
        self.max_frag = max_frag;
        Ok(self)
    }

    /// Bytes reserved in front of every emitted datagram, so outer layers
    /// (FEC header, crypto nonce + CRC) write their headers without copying.
    pub fn set_headroom(&mut self, bytes: usize) -> &mut Self {
        self.headroom = bytes;
        self
    }

    /// Bytes reserved after every emitted datagram (e.g. an AEAD tag).
    pub fn set_tailroom(&mut self, bytes: usize) -> &mut Self {
        self.tailroom = bytes;
        self
    }

    /// MTU in bytes.
    pub fn mtu(&self) -> u32 {
        self.mtu
    }
    /// Payload bytes per segment (`mtu - 24`).
    pub fn mss(&self) -> u32 {
        self.mtu - OVERHEAD as u32
    }
    /// Send window in segments.
    pub fn snd_wnd(&self) -> u32 {
        self.snd_wnd
    }
    /// Receive window in segments.
    pub fn rcv_wnd(&self) -> u32 {
        self.rcv_wnd
    }
    /// Nodelay mode (0 = off).
    pub fn nodelay(&self) -> u32 {
        self.nodelay
    }
    /// Flush interval in ms.
    pub fn interval(&self) -> u32 {
        self.interval
    }
    /// Fast-retransmit threshold (0 = off).
    pub fn resend(&self) -> i32 {
        self.fastresend
    }
    /// `true` when congestion control is disabled.
    pub fn nc(&self) -> bool {
        self.nocwnd
    }
    /// `true` in stream mode.
    pub fn stream(&self) -> bool {
        self.stream
    }
    /// `true` when ACKs are flushed from `input` immediately.
    pub fn ack_nodelay(&self) -> bool {
        self.ack_nodelay
    }
    /// Bytes reserved before each datagram.
    pub fn headroom(&self) -> usize {
        self.headroom
    }
    /// Bytes reserved after each datagram.
    pub fn tailroom(&self) -> usize {
        self.tailroom
    }
}
