//! kcp-go golden vectors: `crypt.json` (both directions) and `keys.json`.

use kcp_crypto::{AeadCrypt, BlockCrypt, Crypt, CryptName, kcptun_key};
use serde_json::Value;

fn load(name: &str) -> Value {
    let path = format!("{}/../testdata/kcp-go/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!("cannot read testdata/kcp-go/{name} (at {path}): {e}; restore it from git")
    });
    serde_json::from_str(&text).expect("valid JSON")
}

fn hex(v: &Value) -> Vec<u8> {
    hex::decode(v.as_str().expect("hex string")).expect("valid hex")
}

fn block_for(constructor: &str, key: &[u8]) -> BlockCrypt {
    match constructor {
        "NewAESBlockCrypt" => BlockCrypt::aes(key),
        "NewSM4BlockCrypt" => BlockCrypt::sm4(key),
        "NewTwofishBlockCrypt" => BlockCrypt::twofish(key),
        "NewTripleDESBlockCrypt" => BlockCrypt::triple_des(key),
        "NewCast5BlockCrypt" => BlockCrypt::cast5(key),
        "NewBlowfishBlockCrypt" => BlockCrypt::blowfish(key),
        "NewTEABlockCrypt" => BlockCrypt::tea(key),
        "NewXTEABlockCrypt" => BlockCrypt::xtea(key),
        "NewSalsa20BlockCrypt" => Ok(BlockCrypt::salsa20(key)),
        "NewSimpleXORBlockCrypt" => Ok(BlockCrypt::xor(key)),
        "NewNoneBlockCrypt" => Ok(BlockCrypt::none()),
        other => panic!("unknown constructor {other}"),
    }
    .expect("valid key")
}

fn ciphers() -> Vec<Value> {
    load("crypt.json")["ciphers"]
        .as_array()
        .expect("ciphers")
        .clone()
}

#[test]
fn every_cipher_is_covered() {
    let names: Vec<String> = ciphers()
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names.len(), 15, "{names:?}");
}

#[test]
fn block_ciphers_both_directions() {
    let mut checked = 0;
    for c in ciphers() {
        if c["mode"] == "aead" {
            continue;
        }
        let name = c["name"].as_str().unwrap();
        let block = block_for(c["constructor"].as_str().unwrap(), &hex(&c["key"]));
        for case in c["cases"]
            .as_array()
            .unwrap()
            .iter()
            .chain(c["raw_cases"].as_array().unwrap())
        {
            let plain = hex(&case["plaintext_datagram"]);
            let cipher = hex(&case["ciphertext_datagram"]);
            let mut buf = plain.clone();
            block.encrypt(&mut buf);
            assert_eq!(buf, cipher, "{name} encrypt, len {}", plain.len());
            block.decrypt(&mut buf);
            assert_eq!(buf, plain, "{name} decrypt, len {}", plain.len());
            checked += 1;
        }
    }
    assert_eq!(checked, 13 * 32);
}

#[test]
fn framing_matches_kcp_go() {
    for c in ciphers() {
        let name = c["name"].as_str().unwrap();
        let key = hex(&c["key"]);
        let crypt = if c["mode"] == "aead" {
            Crypt::from_aead(AeadCrypt::aes_gcm(&key).unwrap()).unwrap()
        } else {
            Crypt::from_block(block_for(c["constructor"].as_str().unwrap(), &key)).unwrap()
        };
        assert_eq!(
            crypt.header_len() as u64,
            c["header_size"].as_u64().unwrap(),
            "{name}"
        );
        for case in c["cases"].as_array().unwrap() {
            let payload = hex(&case["payload"]);
            let nonce = hex(&case["nonce"]);
            let wire = hex(&case["ciphertext_datagram"]);
            if c["mode"] != "aead" {
                let mut crc = hex(&case["crc32"]);
                crc.reverse();
                assert_eq!(
                    u32::from_be_bytes(crc.try_into().unwrap()),
                    crc32fast::hash(&payload)
                );
            }
            let mut buf = vec![0u8; 1600];
            let h = crypt.header_len();
            buf[h..h + payload.len()].copy_from_slice(&payload);
            let n = crypt
                .seal_with_nonce(&mut buf, payload.len(), &nonce)
                .unwrap();
            assert_eq!(
                &buf[..n],
                &wire[..],
                "{name} seal, payload {}",
                payload.len()
            );
            let mut rx = wire.clone();
            assert_eq!(crypt.open(&mut rx).unwrap(), &payload[..], "{name} open");
        }
    }
}

#[test]
fn aead_reference_backend_matches_vectors() {
    for c in ciphers().into_iter().filter(|c| c["mode"] == "aead") {
        let crypt =
            Crypt::from_aead(AeadCrypt::aes_gcm_reference(&hex(&c["key"])).unwrap()).unwrap();
        for case in c["cases"].as_array().unwrap() {
            let mut rx = hex(&case["ciphertext_datagram"]);
            assert_eq!(crypt.open(&mut rx).unwrap(), &hex(&case["payload"])[..]);
        }
    }
}

#[test]
fn kcptun_names_and_passphrase_reach_the_same_bytes() {
    for c in ciphers() {
        let Some(crypt_name) = c["kcptun_crypt"].as_str() else {
            continue;
        };
        let name: CryptName = crypt_name.parse().unwrap();
        let crypt = Crypt::from_passphrase(name, c["passphrase"].as_str().unwrap()).unwrap();
        let case = &c["cases"].as_array().unwrap()[6];
        let payload = hex(&case["payload"]);
        let mut buf = vec![0u8; 1600];
        let h = crypt.header_len();
        buf[h..h + payload.len()].copy_from_slice(&payload);
        let n = crypt
            .seal_with_nonce(&mut buf, payload.len(), &hex(&case["nonce"]))
            .unwrap();
        assert_eq!(
            &buf[..n],
            &hex(&case["ciphertext_datagram"])[..],
            "{crypt_name}"
        );
    }
}

#[test]
fn xor_table_matches() {
    for c in ciphers().into_iter().filter(|c| c["mode"] == "xor") {
        let table = hex(&c["xor_table"]);
        assert_eq!(table.len(), 1500);
        let mut buf = vec![0u8; 1500];
        BlockCrypt::xor(&hex(&c["key"])).encrypt(&mut buf);
        assert_eq!(buf, table);
    }
}

#[test]
fn keys_json() {
    let keys = load("keys.json");
    assert_eq!(keys["salt"], "kcp-go");
    assert_eq!(keys["iterations"], 4096);
    assert_eq!(
        keys["kcptun_default_key"],
        kcp_crypto::KCPTUN_DEFAULT_PASSPHRASE
    );
    let vectors = keys["vectors"].as_array().unwrap();
    assert!(!vectors.is_empty());
    for v in vectors {
        let pass = hex(&v["passphrase_hex"]);
        assert_eq!(pass, v["passphrase"].as_str().unwrap().as_bytes());
        assert_eq!(
            kcptun_key(&pass).to_vec(),
            hex(&v["key"]),
            "{}",
            v["passphrase"]
        );
    }
    let slices = keys["kcptun_key_slice_len"].as_object().unwrap();
    assert_eq!(slices.len(), CryptName::ALL.len());
    for (name, len) in slices {
        let name: CryptName = name.parse().unwrap();
        let len = len.as_u64().unwrap() as usize;
        let expected = match (name, len) {
            (CryptName::Null, _) => 0,
            (_, 0) => 32,
            (_, l) => l,
        };
        assert_eq!(name.key_len(), expected, "{name}");
    }
}

#[test]
fn spec_worked_example() {
    // session.md §13: AES-256-CFB of a 57-byte FEC-wrapped datagram.
    let plain = hex::decode("000102030405060708090a0b0c0d0e0fd9cd931000000000f1001f007856341251002000e803000005000000030000000500000068656c6c6f").unwrap();
    let wire = hex::decode("86834343335b168ca911bf584a05f990c7c0eed938973c8ff7af0c1225573f6435330486ca3f0da2ac0ca14b3077f5d908bd8915579a644ad5").unwrap();
    let crypt = Crypt::from_passphrase(CryptName::Aes, "it's a secrect").unwrap();
    let mut buf = plain.clone();
    let n = crypt
        .seal_with_nonce(&mut buf, plain.len() - 20, &plain[..16])
        .unwrap();
    assert_eq!(&buf[..n], &wire[..]);
}
