//! Batch paths against the scalar reference.

mod common;

use common::{all_crypts, fill};
use kcp_crypto::CryptError;
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn seal_batch_equals_scalar_seal(lens in proptest::collection::vec(0usize..1472, 0..20), seed in any::<[u8; 32]>()) {
        for (name, mut c) in all_crypts() {
            let h = c.header_len();
            let mut bufs: Vec<Vec<u8>> = lens.iter().enumerate().map(|(i, &len)| {
                let mut b = vec![0u8; len + c.overhead()];
                fill(&mut b[h..h + len], i as u64 + 1);
                b
            }).collect();
            let mut expected = bufs.clone();

            c.seed_nonces_for_tests(seed);
            let mut out = lens.clone();
            c.seal_batch(&mut bufs, &mut out).unwrap();

            c.seed_nonces_for_tests(seed);
            for (b, &len) in expected.iter_mut().zip(&lens) {
                let n = c.seal(b, len).unwrap();
                prop_assert_eq!(n, b.len());
            }
            prop_assert_eq!(&bufs, &expected, "{}", name);
            for (n, len) in out.iter().zip(&lens) {
                prop_assert_eq!(*n, len + c.overhead());
            }

            let mut results = vec![Err(CryptError::Checksum); bufs.len()];
            c.open_batch(&mut bufs, &mut results);
            for (r, (b, len)) in results.iter().zip(expected.iter_mut().zip(&lens)) {
                let range = r.clone().unwrap();
                prop_assert_eq!(range.len(), *len);
                prop_assert_eq!(c.open_in_place(b), Ok(range));
            }
        }
    }
}

#[test]
fn seal_batch_rejects_before_touching_anything() {
    for (name, mut c) in all_crypts() {
        let mut bufs = vec![vec![0u8; 100], vec![0u8; 10]];
        let mut lens = [50, 11];
        let err = c.seal_batch(&mut bufs, &mut lens).unwrap_err();
        assert!(matches!(err, CryptError::NoRoom { .. }), "{name}: {err}");
        assert_eq!(lens, [50, 11]);
        assert!(bufs.iter().flatten().all(|&b| b == 0), "{name}");
        assert_eq!(
            c.seal_batch(&mut bufs, &mut [1]),
            Err(CryptError::BatchLength { bufs: 2, lens: 1 })
        );
    }
}
