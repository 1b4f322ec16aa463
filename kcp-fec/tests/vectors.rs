//! kcp-go golden vectors (testdata/kcp-go/fec.json): parity matrix rows,
//! encoder output byte for byte, and the decoder step by step, on every
//! available GF(2^8) backend.

use kcp_fec::{Backend, Decoded, Decoder, Encoder, FecConfig, ReedSolomon};
use serde_json::Value;

const VECTORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../testdata/kcp-go/fec.json");

fn load() -> Value {
    let text = std::fs::read_to_string(VECTORS).unwrap_or_else(|e| {
        panic!("cannot read testdata/kcp-go/fec.json (at {VECTORS}): {e}; restore it from git")
    });
    serde_json::from_str(&text).expect("valid json")
}

fn hex(v: &Value) -> Vec<u8> {
    hex::decode(v.as_str().expect("hex string")).expect("valid hex")
}

fn usize_of(v: &Value) -> usize {
    v.as_u64().expect("number") as usize
}

fn backends() -> Vec<Backend> {
    Backend::ALL
        .into_iter()
        .filter(|b| b.is_available())
        .collect()
}

#[test]
fn parity_matrix_rows() {
    let v = load();
    let rows = v["parity_matrix_rows"].as_object().unwrap();
    assert!(!rows.is_empty());
    for (key, want) in rows {
        let (d, p) = key.split_once(',').unwrap();
        let (d, p): (usize, usize) = (d.parse().unwrap(), p.parse().unwrap());
        let rs = ReedSolomon::new(d, p).unwrap();
        let want = want.as_array().unwrap();
        assert_eq!(want.len(), p);
        for (k, row) in want.iter().enumerate() {
            assert_eq!(rs.parity_row(k), hex(row).as_slice(), "{key} row {k}");
        }
    }
}

#[test]
fn encoder_sets_byte_for_byte() {
    let v = load();
    let sets = v["encoder_sets"].as_array().unwrap();
    assert_eq!(sets.len(), 16);
    for backend in backends() {
        for set in sets {
            let (d, p) = (
                usize_of(&set["data_shards"]),
                usize_of(&set["parity_shards"]),
            );
            let ho = usize_of(&set["header_offset"]);
            let name = format!("{d}+{p} {} on {backend}", set["payload_set"]);
            let cfg = FecConfig {
                header_offset: ho,
                // The harness forces parity for every group.
                parity_skip_gap_ms: None,
                backend: Some(backend),
                ..FecConfig::new(d, p)
            };
            let mut enc = Encoder::new(&cfg).unwrap();
            for group in set["groups"].as_array().unwrap() {
                assert_eq!(
                    enc.next_seqid() as u64,
                    group["first_seqid"].as_u64().unwrap(),
                    "{name}"
                );
                let payloads = group["payloads"].as_array().unwrap();
                let data_packets = group["data_packets"].as_array().unwrap();
                let parity_packets = group["parity_packets"].as_array().unwrap();
                for (i, payload) in payloads.iter().enumerate() {
                    let mut dg = vec![0u8; ho + 8];
                    dg.extend_from_slice(&hex(payload));
                    let parity = enc.encode(&mut dg, i as u32).unwrap();
                    assert_eq!(
                        &dg[ho..],
                        hex(&data_packets[i]).as_slice(),
                        "{name} data {i}"
                    );
                    if i + 1 < payloads.len() {
                        assert!(parity.is_empty());
                        continue;
                    }
                    assert_eq!(parity.len(), p, "{name}");
                    for (k, pkt) in parity.iter().enumerate() {
                        let want = hex(&parity_packets[k]);
                        assert_eq!(&pkt[ho..], want.as_slice(), "{name} parity {k}");
                        assert_eq!(pkt.len() - ho - 6, usize_of(&group["shard_len"]), "{name}");
                    }
                }
            }
        }
    }
}

#[test]
fn decode_cases_step_by_step() {
    let v = load();
    let cases = v["decode_cases"].as_array().unwrap();
    assert_eq!(cases.len(), 50);
    for backend in backends() {
        for case in cases {
            let (d, p) = (
                usize_of(&case["data_shards"]),
                usize_of(&case["parity_shards"]),
            );
            let name = format!("{d}+{p} {} on {backend}", case["name"]);
            let cfg = FecConfig {
                backend: Some(backend),
                ..FecConfig::new(d, p)
            };
            let mut dec = Decoder::new(&cfg).unwrap();
            let packets: Vec<Vec<u8>> = case["group_packets"]
                .as_array()
                .unwrap()
                .iter()
                .map(hex)
                .collect();
            let steps = case["steps"].as_array().unwrap();
            let order = case["feed_order"].as_array().unwrap();
            assert_eq!(steps.len(), order.len());
            let (mut shards, mut payloads, mut indices) = (Vec::new(), Vec::new(), Vec::new());
            for (step, idx) in steps.iter().zip(order) {
                let pkt = &packets[usize_of(idx)];
                let out = dec.input(pkt).unwrap();
                match (&out, usize_of(idx) < d) {
                    (Decoded::Data { kcp, .. }, true) => assert_eq!(*kcp, &pkt[8..]),
                    (Decoded::Parity { .. }, false) => {}
                    _ => panic!("{name}: wrong kind {out:?}"),
                }
                let got: Vec<Vec<u8>> = out.recovered().iter().map(|r| r.shard.to_vec()).collect();
                let want: Vec<Vec<u8>> = step["recovered"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(hex)
                    .collect();
                assert_eq!(got, want, "{name} after feeding {idx}");
                for r in out.recovered() {
                    payloads.push(r.payload.to_vec());
                    indices.push(r.index);
                    shards.push(r.shard.to_vec());
                }
            }
            let want_shards: Vec<Vec<u8>> = case["recovered_shards"]
                .as_array()
                .unwrap()
                .iter()
                .map(hex)
                .collect();
            let want_payloads: Vec<Vec<u8>> = case["recovered_payloads"]
                .as_array()
                .unwrap()
                .iter()
                .map(hex)
                .collect();
            let want_indices: Vec<usize> = case["recovered_indices"]
                .as_array()
                .unwrap()
                .iter()
                .map(usize_of)
                .collect();
            assert_eq!(shards, want_shards, "{name}");
            assert_eq!(payloads, want_payloads, "{name}");
            assert_eq!(indices, want_indices, "{name}");
            assert_eq!(dec.stats().recovered, want_indices.len() as u64, "{name}");
        }
    }
}
