//! Counters, named after kcp-go's SNMP fields where one exists.

/// Encoder counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EncoderStats {
    /// Data shards stamped.
    pub data_shards: u64,
    /// Parity shards emitted.
    pub parity_shards: u64,
    /// Groups whose parity was skipped because of the time gap (their
    /// seqids were still consumed).
    pub parity_skipped: u64,
    /// OOB packets stamped.
    pub oob_packets: u64,
}

/// Decoder counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DecoderStats {
    /// Groups that filled with all their data shards (`FECFullShardSet`).
    pub full_shard_sets: u64,
    /// Parity shards accepted (`FECParityShards`).
    pub parity_shards: u64,
    /// Data shards rebuilt by Reed-Solomon (`FECRecovered`).
    pub recovered: u64,
    /// Reconstructions that failed (`FECErrs`).
    pub errors: u64,
    /// Groups currently tracked (`FECShardSet`, a gauge).
    pub shard_sets: u64,
    /// Groups opened since the decoder was made.
    pub shard_sets_opened: u64,
    /// Rebuilt shards whose `size` field was out of range, so not handed up.
    pub recovered_invalid: u64,
    /// Shards ignored because the same seqid is already held.
    pub duplicates: u64,
    /// Shards ignored because their seqid is at or above `paws`.
    pub beyond_paws: u64,
    /// Shards ignored while the layout did not match the peer's
    /// (autotune pending).
    pub tune_skipped: u64,
    /// Shards whose group was dropped on arrival, more than 3 groups
    /// behind the newest (late, or the newest group was forged ahead).
    pub stale_shards: u64,
    /// Times a long run of stale shards re-based the newest group on the
    /// arriving stream (a kcp-rs guard; kcp-go has none).
    pub resyncs: u64,
    /// Times autotune adopted a new (data, parity) layout.
    pub retunes: u64,
    /// OOB packets seen (`OOBPackets`).
    pub oob_packets: u64,
    /// Raw (non-FEC) KCP datagrams passed through.
    pub raw_packets: u64,
    /// Datagrams dropped as too short (`InErrs` / `KCPInErrors`).
    pub too_short: u64,
    /// FEC datagrams dropped as longer than the configured maximum.
    pub too_long: u64,
}
