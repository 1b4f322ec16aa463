//! Wrapping millisecond timestamps, the only notion of time KCP has.
//!
//! KCP puts a 32-bit millisecond clock on the wire (`ts`) and compares every
//! timer through a signed difference, so the clock may start anywhere and wrap
//! every ~49.7 days. [`Timestamp`] keeps that arithmetic in one place; there is
//! deliberately no `Ord` impl, because "earlier" only makes sense for two
//! instants less than 2^31 ms apart.

use core::fmt;

/// A point in time, in wrapping milliseconds from an arbitrary epoch chosen by
/// the caller (the blocking adapter uses a per-endpoint `Instant`).
///
/// ```
/// use kcp_core::Timestamp;
/// let before_wrap = Timestamp::from_millis(u32::MAX - 5);
/// let after_wrap = before_wrap.add_millis(10);
/// assert_eq!(after_wrap.as_millis(), 4);
/// assert_eq!(after_wrap.diff(before_wrap), 10);
/// assert!(after_wrap.is_after(before_wrap));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Timestamp(u32);

impl Timestamp {
    /// The instant `ms` milliseconds after the epoch (mod 2^32).
    pub const fn from_millis(ms: u32) -> Self {
        Timestamp(ms)
    }

    /// The raw wrapping millisecond value, as carried in a segment's `ts`.
    pub const fn as_millis(self) -> u32 {
        self.0
    }

    /// This instant plus `ms` milliseconds (wrapping).
    #[must_use]
    pub const fn add_millis(self, ms: u32) -> Self {
        Timestamp(self.0.wrapping_add(ms))
    }

    /// Signed distance `self - earlier` in milliseconds (`_itimediff`).
    pub const fn diff(self, earlier: Timestamp) -> i32 {
        self.0.wrapping_sub(earlier.0) as i32
    }

    /// `true` if `self` is strictly after `other`.
    pub const fn is_after(self, other: Timestamp) -> bool {
        self.diff(other) > 0
    }

    /// `true` if `self` is at or after `other` (the "is due" test).
    pub const fn reached(self, other: Timestamp) -> bool {
        self.diff(other) >= 0
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}ms", self.0)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}ms", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_and_compares_across_the_wrap_point() {
        let a = Timestamp::from_millis(0xFFFF_FF00);
        let b = a.add_millis(0x200);
        assert_eq!(b.as_millis(), 0x100);
        assert_eq!(b.diff(a), 0x200);
        assert_eq!(a.diff(b), -0x200);
        assert!(b.is_after(a));
        assert!(!a.is_after(b));
        assert!(b.reached(b));
        assert!(!a.reached(b));
        // Strictly after: a time is not after itself.
        assert!(!b.is_after(b));
        assert!(b.is_after(b.add_millis(u32::MAX)));
    }

    #[test]
    fn displays_as_milliseconds() {
        extern crate alloc;
        use alloc::format;
        let t = Timestamp::from_millis(1234);
        assert_eq!(format!("{t}"), "1234ms");
        assert_eq!(format!("{t:?}"), "1234ms");
    }
}
