//! A small seeded PRNG so that every simulated run is reproducible.

use core::ops::{Bound, RangeBounds};

/// A deterministic pseudo-random number generator: xoshiro256\*\* seeded
/// through SplitMix64.
///
/// Not cryptographic. It exists so that a simulation (and any test that wants
/// randomness of its own) is a pure function of one `u64` seed, on every
/// platform and every Rust version, with no dependency and no `std`.
///
/// ```
/// use kcp_core::sim::SimRng;
/// let mut a = SimRng::new(42);
/// let mut b = SimRng::new(42);
/// assert_eq!(a.next_u64(), b.next_u64());
/// let roll = a.gen_range(1..=6);
/// assert!((1..=6).contains(&roll));
/// assert!(!a.chance(0.0));
/// assert!(a.chance(1.0));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimRng {
    s: [u64; 4],
}

/// One SplitMix64 step: the recommended way to expand a 64-bit seed into
/// xoshiro state (it never yields the forbidden all-zero state in practice and
/// decorrelates nearby seeds such as 0, 1, 2).
fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl SimRng {
    /// A generator whose whole output sequence is determined by `seed`.
    pub fn new(seed: u64) -> Self {
        let mut sm = seed;
        let mut s = [0u64; 4];
        for word in &mut s {
            *word = splitmix64(&mut sm);
        }
        if s == [0; 4] {
            // Unreachable for SplitMix64 output, but the all-zero state is a
            // fixed point of xoshiro, so make it impossible by construction.
            s[0] = 1;
        }
        SimRng { s }
    }

    /// A new, independent generator derived from this one (consumes one
    /// draw). Use it to give each component its own stream so that adding
    /// draws in one place does not shift the numbers seen by another.
    #[must_use]
    pub fn fork(&mut self) -> SimRng {
        SimRng::new(self.next_u64())
    }

    /// The next 64 uniformly distributed bits.
    pub fn next_u64(&mut self) -> u64 {
        let result = self.s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = self.s[1] << 17;
        self.s[2] ^= self.s[0];
        self.s[3] ^= self.s[1];
        self.s[1] ^= self.s[2];
        self.s[0] ^= self.s[3];
        self.s[2] ^= t;
        self.s[3] = self.s[3].rotate_left(45);
        result
    }

    /// The next 32 uniformly distributed bits (the high half of a draw).
    pub fn next_u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }

    /// A uniform `f64` in `[0, 1)` with 53 bits of precision.
    pub fn next_f64(&mut self) -> f64 {
        const SCALE: f64 = 1.0 / (1u64 << 53) as f64;
        (self.next_u64() >> 11) as f64 * SCALE
    }

    /// A uniform integer in `range` (`a..b`, `a..=b`, `a..`, `..`), without
    /// modulo bias (Lemire's multiply-and-reject).
    ///
    /// Never panics: an empty range (such as `5..5` or `9..=3`) yields its
    /// start bound (or 0 if unbounded). Always consumes at least one draw.
    pub fn gen_range<R: RangeBounds<u64>>(&mut self, range: R) -> u64 {
        let lo = match range.start_bound() {
            Bound::Included(&x) => Some(x),
            Bound::Excluded(&x) => x.checked_add(1),
            Bound::Unbounded => Some(0),
        };
        let hi = match range.end_bound() {
            Bound::Included(&x) => Some(x),
            Bound::Excluded(&x) => x.checked_sub(1),
            Bound::Unbounded => Some(u64::MAX),
        };
        let x = self.next_u64();
        let (lo, hi) = match (lo, hi) {
            (Some(lo), Some(hi)) if lo <= hi => (lo, hi),
            // Empty range: a documented, panic-free answer.
            _ => return lo.unwrap_or(u64::MAX),
        };
        let Some(span) = (hi - lo).checked_add(1) else {
            // The full u64 range: every draw is already uniform.
            return x;
        };
        lo + self.below(span, x)
    }

    /// Uniform in `0..span` (`span > 0`), starting from the draw `x`.
    fn below(&mut self, span: u64, mut x: u64) -> u64 {
        let mut m = u128::from(x) * u128::from(span);
        let mut low = m as u64;
        if low < span {
            let threshold = span.wrapping_neg() % span;
            while low < threshold {
                x = self.next_u64();
                m = u128::from(x) * u128::from(span);
                low = m as u64;
            }
        }
        (m >> 64) as u64
    }

    /// `true` with probability `p`. Values at or below 0 (and NaN) are never
    /// true, values at or above 1 always are. Always consumes exactly one
    /// draw, so the stream stays aligned whatever `p` is.
    pub fn chance(&mut self, p: f64) -> bool {
        // NaN compares false, so it behaves like 0.
        self.next_f64() < p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_reference_xoshiro256starstar() {
        // Reference vector: state {1, 2, 3, 4}, from the authors' C code.
        let mut rng = SimRng { s: [1, 2, 3, 4] };
        let expected = [
            11520,
            0,
            1509978240,
            1215971899390074240,
            1216172134540287360,
        ];
        for e in expected {
            assert_eq!(rng.next_u64(), e);
        }
    }

    #[test]
    fn seeds_expand_like_reference_splitmix64() {
        // Seed 1234567, from the authors' C code (splitmix64.c).
        let mut state = 1234567;
        let expected = [
            6457827717110365317,
            3203168211198807973,
            9817491932198370423,
            4593380528125082431,
            16408922859458223821,
        ];
        for e in expected {
            assert_eq!(splitmix64(&mut state), e);
        }
    }

    /// A seed recorded with a failing run replays that run on any later
    /// version: the streams below are part of the contract. The bounded
    /// draws follow Lemire's multiply-and-reject exactly (values from an
    /// independent implementation of the paper's algorithm); the span
    /// 2^63 + 1 rejects about half of all draws, 13 times in these 12.
    #[test]
    fn seeded_streams_never_change() {
        let mut rng = SimRng::new(2026);
        let raw = [rng.next_u64(), rng.next_u64(), rng.next_u64()];
        assert_eq!(
            raw,
            [
                10583478199052185109,
                5232962402658359512,
                14988153452874227418
            ]
        );
        let mut rng = SimRng::new(7);
        let wide: [u64; 12] = core::array::from_fn(|_| rng.gen_range(0..=1 << 63));
        assert_eq!(
            wide,
            [
                6461677535414237997,
                7744196453246319819,
                9049029322324588832,
                9139072988219048332,
                1400256439129669809,
                6750200521807187948,
                2367621049898315487,
                1443456880271936157,
                1233180231008125398,
                1581129764374607292,
                6007701357827324246,
                6913927766047711413,
            ]
        );
        let mut rng = SimRng::new(7);
        let dice: [u64; 20] = core::array::from_fn(|_| rng.gen_range(1..=6));
        assert_eq!(
            dice,
            [5, 2, 6, 6, 6, 6, 1, 1, 3, 1, 4, 5, 6, 6, 3, 4, 2, 3, 1, 1]
        );
    }

    /// Lemire's rule keeps a draw whose low product equals the threshold:
    /// every output then has exactly `2^64 / span` accepted draws, which
    /// is what makes the result unbiased. This state's first draw is
    /// `u64::MAX`, whose product with 2^63 + 1 sits exactly there.
    #[test]
    fn a_draw_on_the_rejection_threshold_is_kept() {
        let mut rng = SimRng {
            s: [1, 0x4fc7_1c71_c71c_71c7, 2, 3],
        };
        assert_eq!(rng.clone().next_u64(), u64::MAX);
        assert_eq!(rng.gen_range(0..=1 << 63), 1 << 63);
    }

    /// `next_u32` is the high half of the draw `next_u64` would return.
    #[test]
    fn next_u32_is_the_high_half() {
        let mut a = SimRng::new(5);
        let mut b = a.clone();
        for _ in 0..100 {
            assert_eq!(u64::from(a.next_u32()), b.next_u64() >> 32);
        }
    }

    /// `chance(0.0)` is never true, even on the one draw that maps to 0.0
    /// (state `s[1] == 0` yields the all-zero output).
    #[test]
    fn chance_zero_is_false_on_the_zero_draw() {
        let mut rng = SimRng { s: [1, 0, 0, 0] };
        assert_eq!(rng.clone().next_f64(), 0.0);
        assert!(!rng.chance(0.0));
    }

    #[test]
    fn same_seed_same_stream_and_seeds_differ() {
        let mut a = SimRng::new(7);
        let mut b = SimRng::new(7);
        let mut c = SimRng::new(8);
        let mut differs = false;
        for _ in 0..100 {
            let x = a.next_u64();
            assert_eq!(x, b.next_u64());
            differs |= x != c.next_u64();
        }
        assert!(differs);
    }

    #[test]
    fn gen_range_stays_in_bounds_and_covers_them() {
        let mut rng = SimRng::new(1);
        let mut seen = [false; 7];
        for _ in 0..1000 {
            let v = rng.gen_range(3..10);
            assert!((3..10).contains(&v));
            seen[(v - 3) as usize] = true;
            let w = rng.gen_range(3..=4);
            assert!(w == 3 || w == 4);
        }
        assert!(seen.iter().all(|&s| s));
        assert_eq!(rng.gen_range(5..=5), 5);
        let _ = rng.gen_range(..);
        let _ = rng.gen_range(u64::MAX..=u64::MAX);
    }

    #[test]
    #[allow(clippy::reversed_empty_ranges)]
    fn empty_ranges_do_not_panic() {
        let mut rng = SimRng::new(1);
        assert_eq!(rng.gen_range(5..5), 5);
        assert_eq!(rng.gen_range(9..=3), 9);
        assert_eq!(rng.gen_range(0..0), 0);
        let _ = rng.gen_range((Bound::Excluded(u64::MAX), Bound::Unbounded));
    }

    #[test]
    fn chance_edges_and_rate() {
        let mut rng = SimRng::new(3);
        let mut hits = 0;
        for _ in 0..10_000 {
            assert!(!rng.chance(0.0));
            assert!(!rng.chance(-1.0));
            assert!(!rng.chance(f64::NAN));
            assert!(rng.chance(1.0));
            assert!(rng.chance(f64::INFINITY));
            hits += u32::from(rng.chance(0.25));
        }
        assert!((2300..2700).contains(&hits), "{hits}");
    }

    #[test]
    fn forks_are_independent_streams() {
        let mut parent = SimRng::new(9);
        let mut a = parent.fork();
        let mut b = parent.fork();
        assert_ne!(a.next_u64(), b.next_u64());
    }
}
