//! Deterministic network simulator: virtual time, seeded lossy links.
//!
//! Enabled by the `sim` feature. See [`Endpoint`] for how any sans-IO state
//! machine plugs in.

mod endpoint;

pub use endpoint::Endpoint;
