//! `Instant` ↔ [`Timestamp`] for one reactor: wrapping milliseconds since
//! the reactor's epoch.

use std::time::{Duration, Instant};

use kcp_core::Timestamp;

/// The reactor's clock: every session it drives shares one epoch.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Clock {
    epoch: Instant,
}

impl Clock {
    pub(crate) fn new() -> Self {
        Clock {
            epoch: Instant::now(),
        }
    }

    /// A clock whose epoch is `epoch` (the tokio smux driver passes
    /// `tokio::time::Instant::now().into_std()`, so that paused tokio time
    /// drives its timestamps).
    #[cfg(feature = "tokio")]
    pub(crate) fn starting_at(epoch: Instant) -> Self {
        Clock { epoch }
    }

    /// `at` as a wrapping millisecond timestamp.
    pub(crate) fn ts(&self, at: Instant) -> Timestamp {
        let ms = at.saturating_duration_since(self.epoch).as_millis();
        Timestamp::from_millis(ms as u32) // wraps every ~49.7 days, like KCP
    }

    /// The current time as a timestamp.
    pub(crate) fn now(&self) -> Timestamp {
        self.ts(Instant::now())
    }

    /// The instant of `deadline`, read relative to `now` (`now_ts` being
    /// `now` as a timestamp); a deadline in the past is `now`.
    pub(crate) fn instant(now: Instant, now_ts: Timestamp, deadline: Timestamp) -> Instant {
        let ms = deadline.diff(now_ts).max(0) as u64;
        now + Duration::from_millis(ms)
    }
}

/// Whole milliseconds of `d`, at least 1, saturating at `i32::MAX`: the
/// idle and linger deadlines built from it are compared through wrapping
/// 32-bit differences (`Timestamp::reached`, `diff`), which read anything
/// 2^31 ms or more ahead as already past (a 30-day idle timeout would
/// otherwise end every session at once). ~24.8 days is the longest.
pub(crate) fn millis(d: Duration) -> u32 {
    d.as_millis().clamp(1, i32::MAX as u128) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let c = Clock::new();
        let now = Instant::now();
        let ts = c.ts(now);
        let d = ts.add_millis(250);
        let at = Clock::instant(now, ts, d);
        assert_eq!(at - now, Duration::from_millis(250));
        assert_eq!(Clock::instant(now, ts, ts.add_millis(u32::MAX)), now);
        assert_eq!(millis(Duration::from_micros(10)), 1);
        let month = millis(Duration::from_secs(30 * 86_400));
        assert_eq!(month, i32::MAX as u32);
        assert!(ts.add_millis(month).is_after(ts), "still in the future");
    }
}
