//! The echo clients' shared parts (std `echo_client`, tokio `tokio_echo`):
//! what message `i` is, and the round-trip summary.

use std::time::Duration;

/// Echo message `i` of `size` bytes: a pattern that differs per message, so
/// a stale or misordered echo is caught.
pub fn message(i: usize, size: usize) -> Vec<u8> {
    (0..size).map(|j| (i * 31 + j) as u8).collect()
}

/// Prints min / median / max of the measured round trips.
pub fn print_rtts(count: usize, size: usize, rtts: &mut [Duration]) {
    rtts.sort();
    if let (Some(min), Some(max)) = (rtts.first(), rtts.last()) {
        println!(
            "{count} echoes of {size} bytes: rtt min {min:?} median {:?} max {max:?}",
            rtts[rtts.len() / 2]
        );
    }
}
