//! Per-endpoint counters: the ARQ part of kcp-go's SNMP.

/// Counters of one [`crate::Kcp`]; names follow kcp-go's `Snmp` fields.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Datagrams given to `input` (`InPkts`).
    pub in_pkts: u64,
    /// Bytes given to `input` (`InBytes`).
    pub in_bytes: u64,
    /// Segments parsed from valid datagrams (`InSegs`).
    pub in_segs: u64,
    /// Datagrams rejected by `input` (`InErrs`).
    pub in_errs: u64,
    /// Datagrams handed out by `poll_transmit` (`OutPkts`).
    pub out_pkts: u64,
    /// Bytes handed out, KCP headers included (`OutBytes`).
    pub out_bytes: u64,
    /// Segments emitted, control and data (`OutSegs`).
    pub out_segs: u64,
    /// Data segments retransmitted for any reason (`RetransSegs`).
    pub retrans_segs: u64,
    /// Fast retransmissions (`FastRetransSegs`).
    pub fast_retrans_segs: u64,
    /// kcp-go early retransmissions (`EarlyRetransSegs`).
    pub early_retrans_segs: u64,
    /// Retransmissions after an RTO expired (`LostSegs`).
    pub lost_segs: u64,
    /// Duplicate or out-of-window data segments received (`RepeatSegs`).
    pub repeat_segs: u64,
    /// ACK segments elided because they were below `una` (kcp-go profile).
    pub acks_elided: u64,
    /// ACKs not queued because [`crate::MAX_ACKLIST`] were already pending.
    pub acks_dropped: u64,
}
