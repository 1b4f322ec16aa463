//! Detects the peer's (data, parity) layout from the seqid/type "pulses" of
//! recent shards (spec session.md §4.4, kcp-go autotune.go).

/// Samples kept: 256 plus two for the edges.
const SAMPLES: usize = 258;

#[derive(Clone, Copy, Debug, Default)]
struct Pulse {
    is_data: bool,
    seq: u32,
}

/// Ring of the last [`SAMPLES`] shards, with a sort buffer so detection
/// never allocates.
#[derive(Clone, Debug)]
pub(crate) struct AutoTune {
    ring: [Pulse; SAMPLES],
    sorted: [Pulse; SAMPLES],
    next: usize,
    count: usize,
}

impl Default for AutoTune {
    fn default() -> Self {
        AutoTune {
            ring: [Pulse::default(); SAMPLES],
            sorted: [Pulse::default(); SAMPLES],
            next: 0,
            count: 0,
        }
    }
}

impl AutoTune {
    pub(crate) fn sample(&mut self, is_data: bool, seq: u32) {
        self.ring[self.next] = Pulse { is_data, seq };
        self.next = (self.next + 1) % SAMPLES;
        self.count = (self.count + 1).min(SAMPLES);
    }

    /// Length of a run of `is_data` shards between two edges of a run of
    /// consecutive seqids, or `None`.
    pub(crate) fn find_period(&mut self, is_data: bool) -> Option<usize> {
        if self.count < 3 {
            return None;
        }
        let n = self.count;
        let newest = self.ring[(self.next + SAMPLES - 1) % SAMPLES].seq;
        let oldest = (self.next + SAMPLES - n) % SAMPLES;
        for i in 0..n {
            self.sorted[i] = self.ring[(oldest + i) % SAMPLES];
        }
        // kcp-go sorts with the wrapping comparison `seq_a - seq_b < 0`,
        // which is not a total order on hostile input. Keying on the
        // distance from the newest sample gives the same order whenever
        // the samples span less than 2^31 (always, for a real peer) and
        // can never upset the sort.
        let sorted = &mut self.sorted[..n];
        sorted.sort_unstable_by_key(|p| {
            (
                p.seq.wrapping_sub(newest).wrapping_add(0x8000_0000),
                p.is_data,
            )
        });

        let mut left = None;
        for i in 1..n {
            if sorted[i - 1].seq.wrapping_add(1) != sorted[i].seq {
                return None;
            }
            if sorted[i - 1].is_data != is_data && sorted[i].is_data == is_data {
                left = Some(i);
                break;
            }
        }
        let left = left?;
        for i in left + 1..n {
            if sorted[i - 1].seq.wrapping_add(1) != sorted[i].seq {
                return None;
            }
            if sorted[i - 1].is_data == is_data && sorted[i].is_data != is_data {
                return Some(i - left);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(t: &mut AutoTune, d: u32, p: u32, from: u32, count: u32) {
        for s in from..from + count {
            t.sample(s % (d + p) < d, s);
        }
    }

    #[test]
    fn finds_layouts() {
        for (d, p) in [(10, 3), (1, 1), (3, 1), (5, 2), (20, 10)] {
            let mut t = AutoTune::default();
            feed(&mut t, d, p, 1, 3 * (d + p));
            assert_eq!(t.find_period(true), Some(d as usize), "{d},{p}");
            assert_eq!(t.find_period(false), Some(p as usize), "{d},{p}");
        }
    }

    #[test]
    fn three_samples_are_enough_for_a_period_of_one() {
        let mut t = AutoTune::default();
        t.sample(false, 7);
        t.sample(true, 8);
        assert_eq!(t.find_period(true), None, "two samples: one edge at most");
        t.sample(false, 9);
        assert_eq!(t.find_period(true), Some(1));
    }

    /// The sort keys on the distance from the newest sample, so seqids on
    /// either side of 2^31 (half the range; one peer's counter gets there
    /// after ~2 billion shards) still sort as one run, whatever the unused
    /// slots of a ring not yet full hold.
    #[test]
    fn finds_layouts_across_the_middle_of_the_seqid_range() {
        for (d, p) in [(10, 3), (3, 1)] {
            let mut t = AutoTune::default();
            let from = 0x8000_0000 - (d + p) * 2 - 1;
            feed(&mut t, d, p, from, 3 * (d + p));
            assert_eq!(t.find_period(true), Some(d as usize), "{d},{p}");
            assert_eq!(t.find_period(false), Some(p as usize), "{d},{p}");
        }
    }

    #[test]
    fn needs_contiguous_seqids_and_handles_wrap() {
        let mut t = AutoTune::default();
        assert_eq!(t.find_period(true), None);
        t.sample(true, 1);
        t.sample(true, 5);
        t.sample(false, 9);
        assert_eq!(t.find_period(true), None);
        let mut t = AutoTune::default();
        // seqids straddling u32::MAX sort by wrapping distance.
        for s in 0..40u32 {
            let seq = 0xFFFF_FFF0u32.wrapping_add(s);
            t.sample(s % 4 < 3, seq);
        }
        assert_eq!(t.find_period(true), Some(3));
        assert_eq!(t.find_period(false), Some(1));
    }
}
