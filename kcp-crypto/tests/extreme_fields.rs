//! Issue 16 audit: the crypt framing's length arithmetic at its extremes.
//! `open` on every length from 0 to header + tail + 2 and around the
//! 1500 / 65507-byte limits, `seal` and `seal_batch` with payload lengths
//! up to `usize::MAX`, and round trips at the AEAD boundaries (empty
//! payload, one block, the largest datagram). Typed errors only, never a
//! panic (the test profile has overflow checks on).

use kcp_crypto::{Crypt, CryptError, CryptName, MAX_DATAGRAM_LEN};
use proptest::prelude::*;

fn crypt(name: CryptName) -> Crypt {
    let mut c = Crypt::new(name, &[0x5a; 32]).unwrap();
    c.seed_nonces_for_tests([7; 32]);
    c
}

fn name() -> impl Strategy<Value = CryptName> {
    prop::sample::select(CryptName::ALL.to_vec())
}

/// Lengths at every framing boundary of `c`: 0 ..= overhead + 2, the
/// AES/GCM block edges past the header, and the maximum +- 1.
fn boundary_lengths(c: &Crypt) -> Vec<usize> {
    let (o, max) = (c.overhead(), c.max_datagram_len());
    let mut v: Vec<usize> = (0..=o + 2).collect();
    for k in [15, 16, 17, 31, 32, 33] {
        v.push(c.header_len() + k + c.tail_len());
    }
    v.extend([max - 1, max, max + 1]);
    v
}

fn payload_len() -> impl Strategy<Value = usize> {
    prop_oneof![
        3 => 0usize..64,
        1 => prop::sample::select(vec![
            MAX_DATAGRAM_LEN - 28,
            MAX_DATAGRAM_LEN - 20,
            MAX_DATAGRAM_LEN,
            MAX_DATAGRAM_LEN + 1,
            1480,
            1500,
            0x7fff_ffff,
            0xffff_ffff,
            usize::MAX - 27,
            usize::MAX - 1,
            usize::MAX,
        ]),
        1 => any::<usize>(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Random bytes of every boundary length: `TooShort` below the
    /// overhead, `TooLong` above the maximum, else opened or a checksum /
    /// tag failure; the payload range lies inside the datagram.
    #[test]
    fn open_at_every_boundary_length_is_typed(name in name(), seed in any::<u8>()) {
        let c = crypt(name);
        for len in boundary_lengths(&c) {
            let mut d: Vec<u8> = (0..len).map(|i| (i as u8).wrapping_mul(97) ^ seed).collect();
            match c.open_in_place(&mut d) {
                Err(CryptError::TooShort { len: l, min }) => {
                    prop_assert_eq!((l, min), (len, c.overhead()));
                    prop_assert!(len < c.overhead());
                }
                Err(CryptError::TooLong { len: l, max }) => {
                    prop_assert_eq!((l, max), (len, c.max_datagram_len()));
                    prop_assert!(len > max);
                }
                Err(CryptError::Checksum) => prop_assert!(c.block().is_some()),
                Err(CryptError::Auth) => prop_assert!(c.aead().is_some()),
                Err(e) => prop_assert!(false, "{:?}: unexpected {:?}", name, e),
                Ok(r) => {
                    prop_assert!((c.overhead()..=c.max_datagram_len()).contains(&len));
                    prop_assert_eq!(r, c.header_len()..len - c.tail_len());
                }
            }
        }
    }

    /// `seal` with any payload length and buffer: `NoRoom` or `TooLong`
    /// (buffer untouched) or a datagram that opens to the payload.
    #[test]
    fn seal_with_extreme_lengths_is_typed(
        name in name(),
        payload_len in payload_len(),
        slack in prop_oneof![Just(0usize), Just(1), 0usize..40],
    ) {
        let mut c = crypt(name);
        let fits = payload_len <= c.max_datagram_len() - c.overhead();
        // A buffer sized for the request when it is sane, else a small one.
        let size = if fits { payload_len + c.overhead() + slack } else { 64 + slack };
        let mut buf: Vec<u8> = (0..size).map(|i| i as u8).collect();
        let before = buf.clone();
        match c.seal(&mut buf, payload_len) {
            Ok(n) => {
                prop_assert!(fits);
                prop_assert_eq!(n, payload_len + c.overhead());
                let h = c.header_len();
                let want = before[h..h + payload_len].to_vec();
                prop_assert_eq!(c.open(&mut buf[..n]).unwrap(), &want[..]);
            }
            Err(CryptError::NoRoom { needed, len }) => {
                prop_assert_eq!(len, size);
                prop_assert_eq!(needed, payload_len.saturating_add(c.overhead()));
                prop_assert_eq!(&buf, &before);
            }
            Err(CryptError::TooLong { len, max }) => {
                prop_assert!(len > max && !fits);
                prop_assert_eq!(&buf, &before);
            }
            Err(e) => prop_assert!(false, "{:?}: unexpected {:?}", name, e),
        }
    }

    /// `seal_batch` checks every length before touching any buffer: one
    /// extreme length fails the whole batch with the buffers unchanged;
    /// otherwise every datagram opens.
    #[test]
    fn seal_batch_with_an_extreme_length_changes_nothing(
        name in name(),
        lens in prop::collection::vec(payload_len(), 1..12),
    ) {
        let mut c = crypt(name);
        let mut bufs: Vec<Vec<u8>> = (0..lens.len()).map(|i| vec![i as u8; 1600]).collect();
        let before = bufs.clone();
        let mut out = lens.clone();
        match c.seal_batch(&mut bufs, &mut out) {
            Ok(()) => {
                for (i, (b, &n)) in bufs.iter_mut().zip(&out).enumerate() {
                    prop_assert_eq!(n, lens[i] + c.overhead());
                    let p = c.open(&mut b[..n]).unwrap().to_vec();
                    prop_assert_eq!(p, vec![i as u8; lens[i]]);
                }
            }
            Err(CryptError::NoRoom { .. } | CryptError::TooLong { .. }) => {
                prop_assert_eq!(&bufs, &before);
                prop_assert_eq!(&out, &lens);
            }
            Err(e) => prop_assert!(false, "{:?}: unexpected {:?}", name, e),
        }
        // Mismatched slices are a typed error too.
        let mut short = vec![0usize; lens.len() + 1];
        prop_assert_eq!(
            c.seal_batch(&mut bufs, &mut short),
            Err(CryptError::BatchLength { bufs: lens.len(), lens: lens.len() + 1 })
        );
    }
}

/// Round trips at the AEAD and block boundaries: empty payload, one byte,
/// a block -1/0/+1, and the largest payload the cipher accepts.
#[test]
fn round_trips_at_block_and_size_boundaries() {
    for name in CryptName::ALL {
        let mut c = crypt(name);
        let max_payload = c.max_datagram_len() - c.overhead();
        for len in [
            0,
            1,
            7,
            8,
            9,
            15,
            16,
            17,
            1460,
            max_payload - 1,
            max_payload,
        ] {
            let mut buf = vec![0u8; len + c.overhead()];
            let h = c.header_len();
            for (i, b) in buf[h..h + len].iter_mut().enumerate() {
                *b = (i % 251) as u8;
            }
            let want = buf[h..h + len].to_vec();
            let n = c.seal(&mut buf, len).unwrap();
            assert_eq!(n, buf.len(), "{name:?} {len}");
            assert_eq!(c.open(&mut buf[..n]).unwrap(), &want[..], "{name:?} {len}");
        }
        // One byte more than the maximum is refused on both sides.
        let mut buf = vec![0u8; max_payload + 1 + c.overhead()];
        assert!(matches!(
            c.seal(&mut buf, max_payload + 1),
            Err(CryptError::TooLong { .. })
        ));
        assert!(matches!(c.open(&mut buf), Err(CryptError::TooLong { .. })));
    }
}
