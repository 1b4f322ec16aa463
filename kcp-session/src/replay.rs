//! Replay filter: remembers the nonces of authenticated datagrams so that a
//! captured datagram sent again is dropped instead of processed twice.
//!
//! kcp-go's framing gives every datagram a fresh random nonce (16 bytes in
//! front of the CRC for the block ciphers and salsa20, 12 for AES-GCM) but
//! never checks it: a recorded datagram authenticates again and again. The
//! receiver alone can close this without changing a byte on the wire,
//! because a sender never repeats a nonce (kcp-go's `dup` option and
//! duplicating networks repeat whole datagrams, whose second copy KCP would
//! discard anyway).
//!
//! # Structure
//!
//! Two tables take turns ("ping-pong", as shadowsocks-rust keeps its
//! salts): nonces go into the current one and are looked up in both; when
//! the current one holds `capacity` nonces, the other is cleared and becomes
//! current. So the last `capacity` nonces are always remembered (no false
//! negatives inside that horizon) and none older than `2 × capacity`.
//!
//! Each table stores a 64-bit keyed fingerprint per nonce in an
//! open-addressing array at most half full, so a lookup touches one or two
//! cache lines per table. A fresh nonce is mistaken for a replay only if
//! its fingerprint equals one of the at most `2 × capacity` stored: a
//! probability below `2 × capacity / 2⁶⁴` (< 3 × 10⁻¹⁴ at the endpoint's
//! default capacity), so in practice never — unlike a Bloom filter of a
//! quarter of the memory, whose 10⁻⁵ false positives would each cost a
//! legitimate datagram and make simulated runs depend on the random nonces.
//!
//! Fingerprints come from a keyed hash of the nonce with a per-process
//! random key ([`ReplayKey::process`]), so nobody outside the process can
//! aim nonces at one slot. Memory is fixed: `32 × capacity` bytes (capacity
//! rounded up to a power of two), allocated on the first insertion (an
//! unused filter costs nothing) and never again.
//!
//! ```
//! use kcp_session::replay::{ReplayFilter, ReplayKey};
//!
//! let mut f = ReplayFilter::new(1024, ReplayKey::process());
//! let nonce = [7u8; 16];
//! assert!(!f.check_and_insert(&nonce), "first sight");
//! assert!(f.check_and_insert(&nonce), "a replay");
//! assert_eq!(f.memory_bytes(), 32 * 1024);
//! ```

use std::hash::BuildHasher;
use std::sync::OnceLock;

/// Upper bound of the false-positive rate of a lookup at capacity 2^18
/// (the endpoint's default): `2 × 2^18 / 2^64`.
pub const FALSE_POSITIVE_BOUND: f64 = 2.0 * (1u64 << 18) as f64 / 18_446_744_073_709_551_616.0;

/// Replay protection of an [`Endpoint`](crate::Endpoint): two filters,
/// sized in nonces (0 disables one); memory is `32 ×` the size, allocated
/// on the first authenticated datagram.
///
/// ```
/// use kcp_session::{EndpointConfig, SessionConfig, replay::ReplayConfig};
/// let mut cfg = EndpointConfig::new(SessionConfig::kcptun_server());
/// assert_eq!(cfg.replay, ReplayConfig::default());
/// assert_eq!(cfg.replay.memory_bytes(), 10 << 20);
/// cfg.replay = ReplayConfig::disabled(); // kcp-go's behaviour
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReplayConfig {
    /// Every authenticated datagram is remembered until at least this many
    /// newer ones arrived (default 2^16: 2 MiB, small enough to stay mostly
    /// in the CPU caches; at 100,000 datagrams a second that is 0.65 s to
    /// 1.3 s, and 64 times a 1024-segment window: a replayed data segment
    /// older than that is one KCP already delivered, which it discards
    /// (acknowledging it again to the session's own peer, as any duplicate).
    pub recent: usize,
    /// Datagrams that open (or try to open) a session, and every datagram
    /// carrying a stream's first segment, are remembered until at least
    /// this many newer ones of that kind arrived (default 2^18: 8 MiB; a
    /// session adds one to a few, so at 10 new sessions a second this is
    /// more than two hours, at one a second a day).
    pub openers: usize,
}

impl Default for ReplayConfig {
    fn default() -> Self {
        ReplayConfig {
            recent: 1 << 16,
            openers: 1 << 18,
        }
    }
}

impl ReplayConfig {
    /// No filtering at all, as kcp-go.
    pub fn disabled() -> Self {
        ReplayConfig {
            recent: 0,
            openers: 0,
        }
    }

    /// Filter memory once in use, in bytes.
    pub fn memory_bytes(&self) -> usize {
        ReplayFilter::new(self.recent, ReplayKey::from_seed(0)).memory_bytes()
            + ReplayFilter::new(self.openers, ReplayKey::from_seed(0)).memory_bytes()
    }
}

/// The replay key of a received `datagram` for a cipher with `nonce_len`
/// nonce bytes (`None` without a nonce): the nonce as received, before
/// decryption — for the block ciphers and salsa20 the first 16 ciphertext
/// bytes, one-to-one with the nonce under kcp-go's fixed IV; AES-GCM's
/// nonce is in clear. Taking it before decrypting lets the filter's memory
/// access overlap the decryption; callers look it up only once the
/// datagram authenticated, so forged datagrams never fill a filter.
pub(crate) fn received_nonce(datagram: &[u8], nonce_len: usize) -> Option<&[u8]> {
    let n = nonce_len.min(datagram.len());
    (n > 0).then(|| &datagram[..n])
}

/// The secret that positions nonces in the filters.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct ReplayKey([u64; 3]);

impl core::fmt::Debug for ReplayKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("ReplayKey(..)")
    }
}

impl ReplayKey {
    /// The key of this process: drawn once from the OS-seeded keys of
    /// `std`'s `RandomState`, the same for every filter of the process.
    pub fn process() -> ReplayKey {
        static KEY: OnceLock<ReplayKey> = OnceLock::new();
        *KEY.get_or_init(|| {
            let s = std::hash::RandomState::new();
            ReplayKey([s.hash_one(1u8), s.hash_one(2u8), s.hash_one(3u8)])
        })
    }

    /// A fixed key (tests and benchmarks that must be reproducible).
    pub fn from_seed(seed: u64) -> ReplayKey {
        ReplayKey([
            mix(seed ^ 0x243f_6a88_85a3_08d3),
            mix(seed ^ 0x1319_8a2e_0370_7344),
            mix(seed ^ 0xa409_3822_299f_31d0),
        ])
    }

    /// 64 well-mixed bits for `nonce` (at most 16 bytes are used).
    #[inline]
    fn hash(&self, nonce: &[u8]) -> u64 {
        let n = nonce.len().min(16);
        let word = |b: &[u8]| match <[u8; 8]>::try_from(b) {
            Ok(w) => u64::from_le_bytes(w),
            Err(_) => {
                let mut w = [0u8; 8];
                w[..b.len()].copy_from_slice(b);
                u64::from_le_bytes(w)
            }
        };
        let (lo, hi) = nonce[..n].split_at(n.min(8));
        let a = word(lo) ^ self.0[0];
        let b = word(hi) ^ self.0[1];
        let m = u128::from(a) * u128::from(b);
        mix((m as u64) ^ ((m >> 64) as u64) ^ self.0[2] ^ n as u64)
    }
}

/// Asks the CPU to bring `x`'s cache line in, without waiting for it.
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
fn prefetch<T>(x: &T) {
    use core::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
    // SAFETY: a prefetch is a hint: it never faults, reads nothing into the
    // program and writes nothing; the address is of a live reference anyway.
    // SSE, which the instruction needs, is part of every x86_64 target.
    unsafe { _mm_prefetch::<_MM_HINT_T0>((x as *const T).cast()) }
}

/// Elsewhere: nothing (the lookup then waits for the line itself; the
/// filter's results are the same, only slower).
#[cfg(not(target_arch = "x86_64"))]
fn prefetch<T>(_: &T) {}

/// murmur3's 64-bit finaliser.
#[inline]
fn mix(mut x: u64) -> u64 {
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    x ^ (x >> 33)
}

/// A pair of fingerprint tables taking turns; see the module docs.
#[derive(Debug, Clone)]
pub struct ReplayFilter {
    key: ReplayKey,
    capacity: usize,
    /// Both tables interleaved: slot `i` of table `t` is `slots[i][t]`, so
    /// one cache line serves the probes of both (empty until first use);
    /// 0 marks a free slot.
    slots: Vec<[u64; 2]>,
    /// Slots per table: a power of two, at least twice `capacity`.
    size: usize,
    /// Which table is current (0 or 1).
    current: usize,
    /// Nonces inserted into the current table.
    inserted: usize,
    rotations: u64,
}

/// A nonce's keyed fingerprint, computed (and its slot fetched into the
/// cache) ahead of the lookup: an endpoint takes it from the datagram as
/// received, so the memory access overlaps the decryption, and looks it up
/// once the datagram authenticated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fingerprint(u64);

/// What a probe of both tables found.
enum Probe {
    /// In one of the tables.
    Seen,
    /// In neither; the current table's free slot for it.
    New(usize),
}

impl ReplayFilter {
    /// A filter that remembers at least the last `capacity` nonces (0: a
    /// disabled filter that remembers nothing and never allocates).
    pub fn new(capacity: usize, key: ReplayKey) -> ReplayFilter {
        let size = match capacity {
            0 => 0,
            c => (2 * c).next_power_of_two(),
        };
        ReplayFilter {
            key,
            capacity,
            slots: Vec::new(),
            size,
            current: 0,
            inserted: 0,
            rotations: 0,
        }
    }

    /// `false` for a filter built with capacity 0.
    pub fn is_enabled(&self) -> bool {
        self.capacity > 0
    }

    /// Nonces always remembered (the horizon is `capacity` to `2 ×
    /// capacity` nonces).
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Bytes of memory once in use (`32 × capacity` for a power-of-two
    /// capacity); nothing is allocated before the first insertion.
    pub fn memory_bytes(&self) -> usize {
        self.size * core::mem::size_of::<[u64; 2]>()
    }

    /// Bytes allocated right now (0 until the first insertion).
    pub fn allocated_bytes(&self) -> usize {
        self.slots.capacity() * core::mem::size_of::<[u64; 2]>()
    }

    /// Times the tables swapped roles.
    pub fn rotations(&self) -> u64 {
        self.rotations
    }

    /// The nonce's fingerprint (never 0, the free mark).
    #[inline]
    fn fingerprint(&self, nonce: &[u8]) -> u64 {
        self.key.hash(nonce).max(1)
    }

    /// Walks both tables' probe sequences (linear, from the same home slot)
    /// at once; each table's walk ends at its first free slot. Both are at
    /// most half full, so both walks end.
    #[inline]
    fn probe(&self, fp: u64) -> Probe {
        let (mask, cur) = (self.size - 1, self.current);
        let mut i = fp as usize & mask;
        let (mut in_cur, mut in_old) = (true, true);
        let mut free = 0;
        loop {
            let pair = &self.slots[i];
            if in_cur {
                match pair[cur] {
                    0 => {
                        in_cur = false;
                        free = i;
                    }
                    v if v == fp => return Probe::Seen,
                    _ => {}
                }
            }
            if in_old {
                match pair[1 - cur] {
                    0 => in_old = false,
                    v if v == fp => return Probe::Seen,
                    _ => {}
                }
            }
            if !in_cur && !in_old {
                return Probe::New(free);
            }
            i = (i + 1) & mask;
        }
    }

    /// The fingerprint of `nonce` for
    /// [`check_and_insert_fingerprint`](Self::check_and_insert_fingerprint),
    /// with its home slot read now so that it is in the cache by then.
    /// Filters built with the same [`ReplayKey`] give the same value.
    #[inline]
    pub fn fingerprint_of(&self, nonce: &[u8]) -> Fingerprint {
        let fp = self.fingerprint(nonce);
        if let Some(pair) = self.slots.get(fp as usize & self.size.wrapping_sub(1)) {
            // The cache line arrives while the caller decrypts.
            prefetch(pair);
        }
        Fingerprint(fp)
    }

    /// `true` if `nonce` was seen within the horizon.
    pub fn contains(&self, nonce: &[u8]) -> bool {
        self.capacity > 0
            && !self.slots.is_empty()
            && matches!(self.probe(self.fingerprint(nonce)), Probe::Seen)
    }

    /// Remembers `nonce`.
    pub fn insert(&mut self, nonce: &[u8]) {
        self.check_and_insert(nonce);
    }

    /// Looks `nonce` up and remembers it: `true` means a replay (seen
    /// before within the horizon).
    #[inline]
    pub fn check_and_insert(&mut self, nonce: &[u8]) -> bool {
        let fp = Fingerprint(self.fingerprint(nonce));
        self.check_and_insert_fingerprint(fp)
    }

    /// [`check_and_insert`](Self::check_and_insert) of a nonce whose
    /// fingerprint was taken with [`fingerprint_of`](Self::fingerprint_of).
    #[inline]
    pub fn check_and_insert_fingerprint(&mut self, fp: Fingerprint) -> bool {
        let fp = fp.0;
        if self.capacity == 0 {
            return false;
        }
        if self.slots.is_empty() {
            self.slots = vec![[0; 2]; self.size];
        }
        let Probe::New(mut at) = self.probe(fp) else {
            return true;
        };
        if self.inserted == self.capacity {
            // The current table is full: the older one is cleared and
            // becomes current, and `fp` goes to its home slot there.
            self.current = 1 - self.current;
            let cur = self.current;
            for pair in &mut self.slots {
                pair[cur] = 0;
            }
            self.inserted = 0;
            self.rotations += 1;
            at = fp as usize & (self.size - 1);
        }
        self.slots[at][self.current] = fp;
        self.inserted += 1;
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Distinct 16-byte nonces from a counter run through a permutation.
    fn nonce(i: u64, salt: u64) -> [u8; 16] {
        let mut n = [0u8; 16];
        n[..8].copy_from_slice(&mix(i ^ salt).to_le_bytes());
        n[8..].copy_from_slice(&mix(i.wrapping_add(0x9e37_79b9) ^ !salt).to_le_bytes());
        n
    }

    /// A fingerprint depends on every bit of the nonce and of the key:
    /// flipping any one nonce bit, or the same bit in either half, changes
    /// about half of the output bits, and every seed gives its own key. A
    /// weak mix would let nonces that differ in a few bits collide (a
    /// legitimate datagram dropped as a replay).
    #[test]
    fn fingerprints_avalanche_on_every_nonce_and_key_bit() {
        let mut flipped_bits = 0u64;
        let mut samples = 0u64;
        for seed in 0..8 {
            let key = ReplayKey::from_seed(seed);
            for i in 0..64 {
                let n = nonce(i, seed);
                let h = key.hash(&n);
                for bit in 0..128 {
                    let mut m = n;
                    m[bit / 8] ^= 1 << (bit % 8);
                    let d = h ^ key.hash(&m);
                    assert_ne!(d, 0, "seed {seed} nonce {i} bit {bit}");
                    flipped_bits += u64::from(d.count_ones());
                    samples += 1;
                    if bit < 64 {
                        // The same bit in the other half: another fingerprint.
                        let mut o = n;
                        o[8 + bit / 8] ^= 1 << (bit % 8);
                        assert_ne!(key.hash(&m), key.hash(&o), "halves {bit}");
                    }
                }
            }
        }
        let avg = flipped_bits as f64 / samples as f64;
        assert!(
            (30.0..34.0).contains(&avg),
            "{avg} of 64 bits flip on average"
        );
        let n = nonce(7, 7);
        let mut seen: Vec<u64> = (0..256).map(|s| ReplayKey::from_seed(s).hash(&n)).collect();
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen.len(), 256, "every seed its own key");
    }

    #[test]
    fn remembers_exactly_the_horizon() {
        let cap = 10_000;
        let mut f = ReplayFilter::new(cap, ReplayKey::from_seed(1));
        assert_eq!(f.capacity(), cap);
        for i in 0..5 * cap as u64 {
            assert!(
                !f.check_and_insert(&nonce(i, 0)),
                "fresh nonce {i} taken for a replay"
            );
            assert!(f.check_and_insert(&nonce(i, 0)), "nonce {i} not remembered");
            // Everything of the last `cap` nonces is still there.
            if i % 997 == 0 {
                for back in [0, 1, cap as u64 / 2, cap as u64 - 1] {
                    if let Some(j) = i.checked_sub(back) {
                        assert!(f.contains(&nonce(j, 0)), "nonce {j} forgotten at {i}");
                    }
                }
            }
        }
        // 50,000 nonces, 10,000 per table: four rotations.
        assert_eq!(f.rotations(), 4);
        // The current table holds the last 10,000 (40,000..50,000) and the
        // other the 10,000 before; anything older is forgotten.
        assert!(f.contains(&nonce(30_000, 0)));
        assert!(!f.contains(&nonce(29_999, 0)));
        let remembered = (0..5 * cap as u64)
            .filter(|&j| f.contains(&nonce(j, 0)))
            .count();
        assert_eq!(remembered, 2 * cap);
    }

    #[test]
    fn no_false_positive_at_capacity() {
        let cap = 1 << 16;
        let mut f = ReplayFilter::new(cap, ReplayKey::from_seed(7));
        // Both tables full: the worst moment, just before a rotation.
        for i in 0..2 * cap as u64 {
            f.insert(&nonce(i, 0));
        }
        assert_eq!(f.rotations(), 1);
        let queries = 2_000_000u64;
        let hits = (0..queries)
            .filter(|&i| f.contains(&nonce(i, 0xdead_beef)))
            .count();
        // The bound is 2 × 2^16 / 2^64 per lookup: 7e-15 here, so over two
        // million lookups the expected count is 1.4e-8.
        assert_eq!(hits, 0);
        const { assert!(FALSE_POSITIVE_BOUND < 3e-14) };
    }

    #[test]
    fn memory_is_fixed_and_allocated_on_first_use() {
        let mut f = ReplayFilter::new(1 << 12, ReplayKey::from_seed(3));
        assert_eq!(f.allocated_bytes(), 0);
        assert!(!f.contains(&[1; 16]));
        assert_eq!(f.allocated_bytes(), 0, "a lookup allocates nothing");
        f.insert(&[1; 16]);
        let bytes = f.allocated_bytes();
        assert_eq!(bytes, f.memory_bytes());
        assert_eq!(bytes, 32 << 12);
        for i in 0..100_000u64 {
            f.check_and_insert(&nonce(i, 5));
        }
        assert_eq!(f.allocated_bytes(), bytes, "no growth");
        // Not a power of two: rounded up.
        assert_eq!(
            ReplayFilter::new(3000, ReplayKey::from_seed(3)).memory_bytes(),
            16 * 8192
        );
        let mut off = ReplayFilter::new(0, ReplayKey::from_seed(3));
        assert!(!off.check_and_insert(&[1; 16]) && !off.check_and_insert(&[1; 16]));
        assert!(!off.is_enabled() && !off.contains(&[1; 16]));
        assert_eq!((off.allocated_bytes(), off.memory_bytes()), (0, 0));
    }

    #[test]
    fn short_nonces_and_keys_matter() {
        // 12- and 8-byte nonces (AES-GCM, or any prefix) work the same.
        let mut f = ReplayFilter::new(64, ReplayKey::from_seed(9));
        assert!(!f.check_and_insert(&[5; 12]));
        assert!(!f.check_and_insert(&[5; 8]), "a prefix is another nonce");
        assert!(f.check_and_insert(&[5; 12]));
        // Different keys give the same nonce different fingerprints.
        let a = ReplayFilter::new(1 << 10, ReplayKey::from_seed(1));
        let b = ReplayFilter::new(1 << 10, ReplayKey::from_seed(2));
        let differ = (0..64u64)
            .filter(|&i| a.fingerprint(&nonce(i, 0)) != b.fingerprint(&nonce(i, 0)))
            .count();
        assert_eq!(differ, 64);
        assert_eq!(ReplayKey::process(), ReplayKey::process());
        assert_eq!(format!("{:?}", ReplayKey::from_seed(1)), "ReplayKey(..)");
    }

    #[test]
    fn colliding_slots_probe_on() {
        // A tiny table: many nonces share a home slot and still all count.
        let mut f = ReplayFilter::new(4, ReplayKey::from_seed(11));
        for i in 0..4u64 {
            assert!(!f.check_and_insert(&nonce(i, 1)));
        }
        for i in 0..4u64 {
            assert!(f.contains(&nonce(i, 1)));
        }
        assert_eq!(f.memory_bytes(), 2 * 8 * 8);
    }
}
