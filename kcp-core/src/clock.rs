//! The caller's wrapping u32 clock, extended to i64 for internal deadlines.
//!
//! Wire timestamps and every reference comparison stay 32-bit (the traces
//! depend on it), but timers kept across long idle periods must not
//! misfire when the u32 difference wraps after 2^31 ms, so deadlines live on
//! an extended clock that advances by the signed distance between calls.

use crate::time::Timestamp;

#[derive(Clone, Copy, Debug)]
pub(crate) struct Clock {
    now: u32,
    ext: i64,
}

impl Clock {
    pub(crate) fn new(now: Timestamp) -> Self {
        // Any start works as long as `ext as u32 == now`; 2^40 keeps it positive.
        Clock {
            now: now.as_millis(),
            ext: (1i64 << 40) + i64::from(now.as_millis()),
        }
    }

    pub(crate) fn advance(&mut self, now: Timestamp) {
        let now = now.as_millis();
        // At most 2^31 per call from 2^40: the i64 cannot overflow in any
        // realistic number of calls (2^32 calls of +2^31 ms).
        self.ext += i64::from(now.wrapping_sub(self.now) as i32);
        self.now = now;
    }

    pub(crate) fn now(&self) -> u32 {
        self.now
    }

    pub(crate) fn now_ts(&self) -> Timestamp {
        Timestamp::from_millis(self.now)
    }

    pub(crate) fn ext(&self) -> i64 {
        self.ext
    }

    /// The extended value of a 32-bit time within 2^31 ms of now.
    pub(crate) fn ext_of(&self, t: u32) -> i64 {
        self.ext + i64::from(t.wrapping_sub(self.now) as i32)
    }

    pub(crate) fn ts_at(self, ext: i64) -> Timestamp {
        Timestamp::from_millis(ext as u32)
    }
}
