//! kcp-core: the KCP ARQ protocol as a sans-IO state machine.
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

mod time;

#[cfg(feature = "sim")]
pub mod sim;

pub use time::Timestamp;
