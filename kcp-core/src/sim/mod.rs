//! Deterministic network simulator: virtual time, seeded lossy links.
//!
//! Enabled by the `sim` feature. Any sans-IO state machine that implements
//! [`Endpoint`] plugs in; a [`Sim`] owns two of them, joins them with one
//! [`LinkConfig`] per direction (loss, burst loss, delay, jitter, reordering,
//! duplication, bandwidth with a bottleneck queue, MTU) and drives them with
//! a virtual clock. Every random choice comes from a [`SimRng`] seeded from
//! [`SimConfig::seed`], so a run is reproducible byte for byte
//! ([`Sim::delivery_hash`]). No wall clock, no threads, no `std`.
//!
//! ```
//! use kcp_core::sim::{Direction, Endpoint, LinkConfig, Sim, SimConfig};
//! use kcp_core::Timestamp;
//!
//! /// Counts what it receives; sends `n` one-byte datagrams when asked.
//! #[derive(Default)]
//! struct Counter { to_send: u32, received: u32 }
//! impl Endpoint for Counter {
//!     fn handle_input(&mut self, _datagram: &[u8], _now: Timestamp) { self.received += 1 }
//!     fn poll_transmit(&mut self, _now: Timestamp, buf: &mut [u8]) -> Option<usize> {
//!         if self.to_send == 0 { return None }
//!         self.to_send -= 1;
//!         buf[0] = 0xAB;
//!         Some(1)
//!     }
//!     fn poll_timeout(&self) -> Option<Timestamp> { None }
//!     fn handle_timeout(&mut self, _now: Timestamp) {}
//! }
//!
//! let cfg = SimConfig::new()
//!     .seed(42)
//!     .start(Timestamp::from_millis(u32::MAX - 10)) // wraps during the run
//!     .a_to_b(LinkConfig::lossy(0.2, 30).jitter_ms(5));
//! let mut sim = Sim::with_config(Counter::default(), Counter::default(), cfg);
//!
//! sim.a_mut().to_send = 1000; // picked up by the next step
//! assert!(sim.run_until_idle(10_000));
//!
//! let ab = sim.stats(Direction::AtoB);
//! assert_eq!(ab.sent, 1000);
//! assert_eq!(u64::from(sim.b().received), ab.delivered);
//! assert!((700..900).contains(&ab.delivered)); // ~20% lost
//! assert!((30..=35).contains(&sim.elapsed_ms()));
//! ```

mod endpoint;
mod harness;
mod link;
mod rng;
#[cfg(feature = "proptest")]
pub mod strategies;

pub use endpoint::Endpoint;
pub use harness::{Direction, Fate, IN_FLIGHT_OVERHEAD, MAX_DATAGRAM_BUFFER, Sim, SimConfig, Tap};
pub use link::{DEFAULT_MAX_QUEUE_BYTES, GilbertElliott, LinkConfig, LinkStats};
pub use rng::SimRng;
