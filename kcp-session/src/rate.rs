//! kcp-go's outgoing token bucket (`SetRateLimit`), driven by `now`.

use kcp_core::Timestamp;

/// kcp-go's burst: 64 datagrams of 1500 bytes.
pub(crate) const BURST_BYTES: u64 = 64 * 1500;

/// Tokens are kept in milli-bytes so that a slow rate refilled every
/// millisecond does not round down to nothing.
#[derive(Debug)]
pub(crate) struct RateLimiter {
    bytes_per_sec: u64,
    tokens_m: i64,
    /// Bucket size in milli-bytes: kcp-go's burst, or 2 ms worth of the rate
    /// if larger. Time only advances in whole milliseconds here, so a bucket
    /// smaller than one tick's refill would cap the rate below the setting.
    burst_m: i64,
    last: Option<Timestamp>,
}

fn burst_m(bytes_per_sec: u64) -> i64 {
    (BURST_BYTES.max(bytes_per_sec / 500) as i64).saturating_mul(1000)
}

impl RateLimiter {
    pub(crate) fn new(bytes_per_sec: u64) -> Self {
        RateLimiter {
            bytes_per_sec,
            tokens_m: burst_m(bytes_per_sec),
            burst_m: burst_m(bytes_per_sec),
            last: None,
        }
    }

    pub(crate) fn set_rate(&mut self, bytes_per_sec: u64) {
        self.bytes_per_sec = bytes_per_sec;
        self.burst_m = burst_m(bytes_per_sec);
    }

    fn refill(&mut self, now: Timestamp) {
        if let Some(last) = self.last {
            let ms = now.diff(last).max(0) as i64;
            // A rate above i64::MAX bytes/s must not wrap negative (config,
            // not wire; issue 16 audit): saturate instead.
            let rate = i64::try_from(self.bytes_per_sec).unwrap_or(i64::MAX);
            let add = ms.saturating_mul(rate);
            self.tokens_m = self.tokens_m.saturating_add(add).min(self.burst_m);
        }
        if self.last.is_none_or(|l| now.is_after(l)) {
            self.last = Some(now);
        }
    }

    /// May a datagram leave at `now`? (A datagram may overdraw the bucket;
    /// the next one then waits until it is paid back.)
    pub(crate) fn ready(&mut self, now: Timestamp) -> bool {
        if self.bytes_per_sec == 0 {
            return true;
        }
        self.refill(now);
        self.tokens_m >= 0
    }

    pub(crate) fn consume(&mut self, bytes: usize) {
        if self.bytes_per_sec != 0 {
            // `bytes` is one datagram (<= 1500); saturating all the same.
            let cost = i64::try_from(bytes)
                .unwrap_or(i64::MAX)
                .saturating_mul(1000);
            self.tokens_m = self.tokens_m.saturating_sub(cost);
        }
    }

    /// When the bucket is paid back, if it is in debt.
    pub(crate) fn ready_at(&self) -> Option<Timestamp> {
        if self.bytes_per_sec == 0 || self.tokens_m >= 0 {
            return None;
        }
        let last = self.last?;
        let ms = self.tokens_m.unsigned_abs().div_ceil(self.bytes_per_sec);
        Some(last.add_millis(ms.min(u64::from(u32::MAX / 2)) as u32))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn huge_rates_saturate() {
        let t = Timestamp::from_millis;
        // 2^63 bytes/s used to become i64::MIN and drain the bucket for good.
        for rate in [1u64 << 63, u64::MAX] {
            let mut r = RateLimiter::new(rate);
            assert!(r.ready(t(0)));
            r.consume(1500);
            assert!(r.ready(t(1)), "{rate}: a millisecond refills any debt");
            assert_eq!(r.ready_at(), None);
        }
    }

    #[test]
    fn fast_rates_are_not_capped_by_the_burst() {
        // 100 MB/s refills 100 KB per millisecond, more than kcp-go's 96 KB
        // burst: the bucket holds two milliseconds' worth instead, so a
        // sender woken every millisecond gets the whole rate.
        let t = Timestamp::from_millis;
        let mut r = RateLimiter::new(100_000_000);
        let mut sent = 0u64;
        for ms in 0..1000 {
            while r.ready(t(ms)) {
                r.consume(1500);
                sent += 1500;
            }
        }
        assert!(sent >= 100_000_000, "{sent} bytes in one second");
        assert!(sent <= 100_000_000 + 200_000 + 1500, "{sent}");
    }

    #[test]
    fn bucket_paces() {
        let t = Timestamp::from_millis;
        let mut r = RateLimiter::new(100_000); // 100 bytes per ms
        assert!(r.ready(t(0)));
        r.consume(BURST_BYTES as usize + 1000);
        assert!(!r.ready(t(0)));
        assert_eq!(r.ready_at(), Some(t(10)));
        assert!(!r.ready(t(9)));
        assert!(r.ready(t(10)));
        assert!(RateLimiter::new(0).ready(t(0)));
    }
}
