//! Round-trip time estimation and the retransmission timeout (spec
//! `kcp-wire.md` §8.2). The two references use different filters.

/// Largest RTO (`IKCP_RTO_MAX`).
pub const RTO_MAX: u32 = 60_000;
/// Initial RTO (`IKCP_RTO_DEF`).
pub const RTO_DEF: u32 = 200;
/// Minimum RTO in normal mode (`IKCP_RTO_MIN`).
pub const RTO_MIN: u32 = 100;
/// Minimum RTO in nodelay mode (`IKCP_RTO_NDL`).
pub const RTO_NDL: u32 = 30;

/// Smoothed RTT, its variation and the resulting RTO, in ms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RttEstimator {
    pub srtt: i32,
    pub rttvar: i32,
    pub rto: u32,
    pub minrto: u32,
}

impl RttEstimator {
    pub(crate) fn new(nodelay: u32) -> Self {
        RttEstimator {
            srtt: 0,
            rttvar: 0,
            rto: RTO_DEF,
            minrto: minrto_for(nodelay),
        }
    }

    /// kcp-go's filter: RFC 6298 shifts, with 8x less weight for samples
    /// below `srtt - rttvar`, and no floor on srtt.
    pub(crate) fn sample_kcpgo(&mut self, rtt: i32, interval: u32) {
        if self.srtt == 0 {
            self.srtt = rtt;
            self.rttvar = rtt >> 1;
        } else {
            let mut delta = rtt.wrapping_sub(self.srtt);
            self.srtt = self.srtt.wrapping_add(delta >> 3);
            delta = delta.wrapping_abs();
            if rtt < self.srtt.wrapping_sub(self.rttvar) {
                self.rttvar = self
                    .rttvar
                    .wrapping_add(delta.wrapping_sub(self.rttvar) >> 5);
            } else {
                self.rttvar = self
                    .rttvar
                    .wrapping_add(delta.wrapping_sub(self.rttvar) >> 2);
            }
        }
        self.update_rto(interval);
    }

    /// ikcp's Jacobson/Karels filter with integer division and srtt >= 1.
    pub(crate) fn sample_ikcp(&mut self, rtt: i32, interval: u32) {
        if self.srtt == 0 {
            self.srtt = rtt;
            self.rttvar = rtt / 2;
        } else {
            // ikcp computes these in 32-bit `int` (then `long` for delta), so
            // absurd samples wrap there; reproduce that exactly.
            let delta = i64::from(rtt.wrapping_sub(self.srtt)).abs();
            self.rttvar = ((i64::from(self.rttvar.wrapping_mul(3)) + delta) / 4) as i32;
            self.srtt = self.srtt.wrapping_mul(7).wrapping_add(rtt) / 8;
            if self.srtt < 1 {
                self.srtt = 1;
            }
        }
        self.update_rto(interval);
    }

    fn update_rto(&mut self, interval: u32) {
        let var4 = (self.rttvar as u32).wrapping_shl(2);
        let rto = (self.srtt as u32).wrapping_add(interval.max(var4));
        self.rto = rto.max(self.minrto).min(RTO_MAX);
    }
}

pub(crate) fn minrto_for(nodelay: u32) -> u32 {
    if nodelay != 0 { RTO_NDL } else { RTO_MIN }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_sample_seeds_both_filters() {
        let mut g = RttEstimator::new(0);
        g.sample_kcpgo(40, 100);
        assert_eq!((g.srtt, g.rttvar, g.rto), (40, 20, 140));
        let mut c = RttEstimator::new(1);
        c.sample_ikcp(40, 10);
        assert_eq!((c.srtt, c.rttvar, c.rto), (40, 20, 120));
    }

    #[test]
    fn low_samples_are_damped_in_kcpgo_only() {
        let mut g = RttEstimator::new(0);
        g.sample_kcpgo(100, 10);
        g.sample_kcpgo(10, 10); // below srtt - rttvar: >> 5
        // -90 >> 3 == -12 (arithmetic shift), and (90 - 50) >> 5 == 1
        assert_eq!((g.srtt, g.rttvar), (88, 51));
        let mut c = RttEstimator::new(0);
        c.sample_ikcp(100, 10);
        c.sample_ikcp(10, 10);
        assert_eq!((c.srtt, c.rttvar), ((700 + 10) / 8, (150 + 90) / 4));
    }

    #[test]
    fn a_sample_exactly_at_srtt_minus_rttvar_is_not_damped() {
        // kcp-go compares with `<` against the already updated srtt:
        // srtt 100 - 64/8 = 92, and 36 == 92 - 56 is not below it, so the
        // variation moves by (64 - 56) >> 2 = 2, not (64 - 56) >> 5 = 0.
        let mut g = RttEstimator::new(0);
        g.srtt = 100;
        g.rttvar = 56;
        g.sample_kcpgo(36, 10);
        assert_eq!((g.srtt, g.rttvar, g.rto), (92, 58, 92 + 4 * 58));
    }

    #[test]
    fn rto_is_clamped() {
        let mut g = RttEstimator::new(1);
        g.sample_kcpgo(1, 10);
        assert_eq!(g.rto, RTO_NDL);
        g.sample_kcpgo(200_000, 10);
        assert_eq!(g.rto, RTO_MAX);
    }
}
