//! Forward error correction for kcp-rs, byte-compatible with kcp-go's
//! `fec.go`.
//!
//! * [`ReedSolomon`]: systematic Reed-Solomon over GF(2^8) whose parity is
//!   byte-identical to klauspost/reedsolomon `New(d, p)` (kcp-go's codec),
//!   with run-time selected SIMD kernels ([`Backend`]).
//! * [`Encoder`] and [`Decoder`]: sans-IO state machines implementing
//!   kcp-go's FEC framing (8-byte header, parity groups, seqid wrapping,
//!   OOB packets, autotune), working in place on caller buffers.
#![cfg_attr(not(feature = "std"), no_std)]
#![deny(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]

extern crate alloc;

/// The crate README's example, compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

mod codec;
mod error;
mod gf;
mod matrix;
mod rs;

pub use codec::Backend;
pub use error::FecError;
pub use rs::ReedSolomon;
mod autotune;
mod config;
mod decoder;
mod encoder;
mod group_codec;
mod header;
#[cfg(feature = "rs-simd")]
mod simd16;
mod stats;

pub use config::{Codec, FecConfig};
pub use decoder::{Decoded, Decoder, Recovered, RecoveredIter, RecoveredShard};
pub use encoder::{Encoder, ParityPackets};
pub use header::{
    HEADER_SIZE, MIN_DATAGRAM, MTU_LIMIT, OOB_HEADER_SIZE, OOB_SEQID, PacketKind,
    SHARD_HEADER_SIZE, TYPE_DATA, TYPE_OOB, TYPE_PARITY, packet_kind, paws,
};
pub use stats::{DecoderStats, EncoderStats};
