//! Shared harness for the kcp-rs benchmarks: the ARQ implementations measured
//! side by side (kcp-core, C ikcp through `kcp-io`'s raw FFI, the `kcp`
//! crate) behind one small trait, and the transfer loops that drive them.

#![deny(missing_docs)]

pub mod allocator;
pub mod peers;
pub mod transfer;
