//! kcp-go's SNMP counters (spec session.md §11), per session and summed.

macro_rules! snmp {
    ($( $(#[$doc:meta])* $field:ident => $header:literal, )*) => {
        /// The 30 counters of kcp-go's `Snmp`, with its names.
        ///
        /// kcp-go keeps one process-global set; here every [`Connection`](crate::Connection)
        /// and [`Endpoint`](crate::Endpoint) has its own, and [`Stats::add`]
        /// sums any number of them into a global view.
        ///
        /// ```
        /// use kcp_session::Stats;
        /// let mut total = Stats::default();
        /// let a = Stats { in_pkts: 3, curr_estab: 1, ..Stats::default() };
        /// total.add(&a);
        /// total.add(&a);
        /// assert_eq!(total.in_pkts, 6);
        /// assert_eq!(total.max_conn, 2);
        /// assert_eq!(Stats::HEADER[20], "FECFullShards");
        /// assert_eq!(total.to_array()[9], 6);
        /// ```
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
        pub struct Stats {
            $( $(#[$doc])* pub $field: u64, )*
        }

        impl Stats {
            /// kcp-go's `Header()`: the names in `ToSlice()` order.
            pub const HEADER: [&'static str; 30] = [$($header,)*];

            /// kcp-go's `ToSlice()`: the values in [`Stats::HEADER`] order.
            pub fn to_array(&self) -> [u64; 30] {
                [$(self.$field,)*]
            }

            fn sum(&mut self, other: &Stats) {
                $( self.$field += other.$field; )*
            }
        }
    };
}

snmp! {
    /// Bytes accepted by `send` (`BytesSent`).
    bytes_sent => "BytesSent",
    /// Bytes returned by `recv` (`BytesReceived`).
    bytes_received => "BytesReceived",
    /// Peak of `curr_estab` (`MaxConn`).
    max_conn => "MaxConn",
    /// Client sessions created (`ActiveOpens`).
    active_opens => "ActiveOpens",
    /// Server sessions created (`PassiveOpens`).
    passive_opens => "PassiveOpens",
    /// Sessions currently open (`CurrEstab`).
    curr_estab => "CurrEstab",
    /// Datagrams from a wrong source, FEC packets too short or too long, OOB
    /// packets longer than a 1500-byte read (`InErrs`).
    in_errs => "InErrs",
    /// CRC mismatches and AEAD failures (`InCsumErrors`).
    in_csum_errors => "InCsumErrors",
    /// KCP input errors and plaintexts shorter than 12 bytes (`KCPInErrors`).
    kcp_in_errors => "KCPInErrors",
    /// Datagrams reaching the demux (`InPkts`).
    in_pkts => "InPkts",
    /// Datagrams handed out for sending (`OutPkts`).
    out_pkts => "OutPkts",
    /// KCP segments parsed (`InSegs`).
    in_segs => "InSegs",
    /// KCP segments emitted (`OutSegs`).
    out_segs => "OutSegs",
    /// Decrypted bytes reaching the demux (`InBytes`).
    in_bytes => "InBytes",
    /// Bytes handed out for sending (`OutBytes`).
    out_bytes => "OutBytes",
    /// All retransmissions (`RetransSegs`).
    retrans_segs => "RetransSegs",
    /// Fast retransmissions (`FastRetransSegs`).
    fast_retrans_segs => "FastRetransSegs",
    /// Early retransmissions (`EarlyRetransSegs`).
    early_retrans_segs => "EarlyRetransSegs",
    /// RTO retransmissions (`LostSegs`).
    lost_segs => "LostSegs",
    /// Duplicate or out-of-window data segments (`RepeatSegs`).
    repeat_segs => "RepeatSegs",
    /// FEC groups complete without recovery (`FECFullShardSet`, header `FECFullShards`).
    fec_full_shard_set => "FECFullShards",
    /// Parity shards received (`FECParityShards`).
    fec_parity_shards => "FECParityShards",
    /// Reed-Solomon failures, encode or decode (`FECErrs`).
    fec_errs => "FECErrs",
    /// Data shards rebuilt (`FECRecovered`).
    fec_recovered => "FECRecovered",
    /// FEC groups currently cached (gauge, `FECShardSet`).
    fec_shard_set => "FECShardSet",
    /// kcp-go's newest group id (`FECShardMin`); not tracked here, always 0.
    fec_shard_min => "FECShardMin",
    /// `snd_queue` length (gauge, `RingBufferSndQueue`).
    ring_buffer_snd_queue => "RingBufferSndQueue",
    /// `rcv_queue` length (gauge, `RingBufferRcvQueue`).
    ring_buffer_rcv_queue => "RingBufferRcvQueue",
    /// `snd_buf` length (gauge, `RingBufferSndBuffer`).
    ring_buffer_snd_buffer => "RingBufferSndBuffer",
    /// OOB datagrams received (`OOBPackets`).
    oob_packets => "OOBPackets",
}

impl Stats {
    /// Adds `other` into `self`: counters and gauges are summed, and
    /// `max_conn` becomes the larger of the two peaks and the summed
    /// `curr_estab` (a global peak cannot be rebuilt exactly from parts).
    pub fn add(&mut self, other: &Stats) {
        let max = self.max_conn.max(other.max_conn);
        self.sum(other);
        self.max_conn = max.max(self.curr_estab);
    }
}
