//! smux settings: smux's defaults, kcptun's values and smux's validation
//! (spec smux-kcptun.md §2).

use core::fmt;

use super::frame::Version;

/// Settings of one [`Mux`](super::Mux). None of them is negotiated; only
/// `version` must match the peer's.
///
/// ```
/// use kcp_session::smux::{MuxConfig, Version};
/// let cfg = MuxConfig::kcptun();
/// assert_eq!(cfg.version, Version::V2);
/// assert_eq!(cfg.max_frame_size, 8192);
/// cfg.validate().unwrap();
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MuxConfig {
    /// Protocol version (smux `Version`; kcptun `--smuxver`).
    pub version: Version,
    /// Send a NOP every `keepalive_interval_ms` and declare the session dead
    /// when nothing arrived for a whole `keepalive_timeout_ms` period;
    /// `None` turns both off (smux `KeepAliveDisabled`).
    pub keepalive: Option<Keepalive>,
    /// Largest PSH payload sent (smux `MaxFrameSize`; kcptun `--framesize`).
    /// Received frames may be up to 65535 bytes whatever this says, as in
    /// smux.
    pub max_frame_size: u16,
    /// Session receive budget in bytes (smux `MaxReceiveBuffer`; kcptun
    /// `--smuxbuf`): input stops being read while the unread bytes of all
    /// streams reach it.
    pub max_receive_buffer: u32,
    /// Per-stream window announced in UPD frames (smux `MaxStreamBuffer`;
    /// kcptun `--streambuf`), v2 only.
    pub max_stream_buffer: u32,
    /// Bytes a stream may queue for sending beyond what is already framed
    /// (kcp-rs; smux blocks the writer until each frame is written instead).
    pub stream_send_buffer: u32,
    /// Opened streams waiting for `accept_stream` (smux: 1024). While full,
    /// input stops being read, as smux's receive loop blocks.
    pub accept_backlog: usize,
    /// Streams alive at once (kcp-rs; smux has no bound). A SYN beyond it
    /// is refused with a FIN.
    pub max_streams: usize,
}

/// Keepalive timing (smux `KeepAliveInterval` / `KeepAliveTimeout`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Keepalive {
    /// Milliseconds between NOPs.
    pub interval_ms: u32,
    /// Milliseconds of a check period: a session that received nothing
    /// during a whole period is dead.
    pub timeout_ms: u32,
}

/// A setting smux's `VerifyConfig` would refuse.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum MuxConfigError {
    /// Keepalive interval of 0.
    KeepaliveInterval,
    /// Keepalive timeout shorter than the interval.
    KeepaliveTimeout,
    /// `max_frame_size` of 0.
    MaxFrameSize,
    /// `max_receive_buffer` of 0 or above 2^31 - 1.
    MaxReceiveBuffer,
    /// `max_stream_buffer` of 0 or above `max_receive_buffer`.
    MaxStreamBuffer,
    /// `stream_send_buffer`, `accept_backlog` or `max_streams` of 0.
    Zero(&'static str),
}

impl fmt::Display for MuxConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MuxConfigError::KeepaliveInterval => f.write_str("keepalive interval must be positive"),
            MuxConfigError::KeepaliveTimeout => {
                f.write_str("keepalive timeout must not be shorter than the interval")
            }
            MuxConfigError::MaxFrameSize => f.write_str("max frame size must be positive"),
            MuxConfigError::MaxReceiveBuffer => {
                f.write_str("max receive buffer must be in 1..=2147483647")
            }
            MuxConfigError::MaxStreamBuffer => {
                f.write_str("max stream buffer must be in 1..=max receive buffer")
            }
            MuxConfigError::Zero(what) => write!(f, "{what} must be positive"),
        }
    }
}

impl std::error::Error for MuxConfigError {}

impl MuxConfig {
    /// smux's `DefaultConfig()`: v1, keepalive 10 s / 30 s, frames of
    /// 32768, 4 MiB session buffer, 64 KiB stream windows.
    pub fn smux_default() -> MuxConfig {
        MuxConfig {
            version: Version::V1,
            keepalive: Some(Keepalive {
                interval_ms: 10_000,
                timeout_ms: 30_000,
            }),
            max_frame_size: 32768,
            max_receive_buffer: 4_194_304,
            max_stream_buffer: 65536,
            stream_send_buffer: 65536,
            accept_backlog: 1024,
            max_streams: 65536,
        }
    }

    /// kcptun's settings: v2, frames of 8192, 4 MiB session buffer, 2 MiB
    /// stream windows, keepalive 10 s / 30 s.
    pub fn kcptun() -> MuxConfig {
        MuxConfig {
            version: Version::V2,
            max_frame_size: 8192,
            max_stream_buffer: 2_097_152,
            ..MuxConfig::smux_default()
        }
    }

    /// Checks the settings as smux's `VerifyConfig` does, plus kcp-rs's own
    /// bounds.
    pub fn validate(&self) -> Result<(), MuxConfigError> {
        if let Some(k) = self.keepalive {
            if k.interval_ms == 0 {
                return Err(MuxConfigError::KeepaliveInterval);
            }
            if k.timeout_ms < k.interval_ms {
                return Err(MuxConfigError::KeepaliveTimeout);
            }
        }
        if self.max_frame_size == 0 {
            return Err(MuxConfigError::MaxFrameSize);
        }
        if self.max_receive_buffer == 0 || self.max_receive_buffer > i32::MAX as u32 {
            return Err(MuxConfigError::MaxReceiveBuffer);
        }
        if self.max_stream_buffer == 0 || self.max_stream_buffer > self.max_receive_buffer {
            return Err(MuxConfigError::MaxStreamBuffer);
        }
        if self.stream_send_buffer == 0 {
            return Err(MuxConfigError::Zero("stream send buffer"));
        }
        if self.accept_backlog == 0 {
            return Err(MuxConfigError::Zero("accept backlog"));
        }
        if self.max_streams == 0 {
            return Err(MuxConfigError::Zero("max streams"));
        }
        Ok(())
    }
}

impl Default for MuxConfig {
    fn default() -> Self {
        MuxConfig::smux_default()
    }
}
