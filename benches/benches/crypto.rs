//! kcp-crypto benchmarks, named and shaped like kcp-go's (`crypt_test.go`):
//!
//! * `aes128` … `none`: one encrypt plus one decrypt of a 1500-byte buffer
//!   (3000 bytes counted per iteration);
//! * `crc32`: CRC-32/IEEE of 1024 bytes;
//! * `csprng_nonce`: one 16-byte nonce (kcp-go's `CsprngAES128`);
//! * `cfb_aes_128_crc32`: nonce + CRC-32 + AES-128-CFB seal of one 1400-byte datagram;
//! * `aead_aes_128_gcm`: AES-128-GCM seal of one 1400-byte datagram;
//! * `*_batch`: the same seal (or open) over 64 datagrams per call
//!   (kcp-go's `maxBatchSize`), bytes counted per datagram.

use criterion::{BenchmarkId, Criterion, Throughput, black_box, criterion_group, criterion_main};
use kcp_crypto::{BlockCrypt, Crypt, CryptName, kcptun_key};

const BATCH: usize = 64;

fn key() -> [u8; 32] {
    kcptun_key(kcp_crypto::KCPTUN_DEFAULT_PASSPHRASE.as_bytes())
}

fn block_ciphers(c: &mut Criterion) {
    let k = key();
    let ciphers: [(&str, BlockCrypt); 13] = [
        ("aes128", BlockCrypt::aes(&k[..16]).unwrap()),
        ("aes192", BlockCrypt::aes(&k[..24]).unwrap()),
        ("aes256", BlockCrypt::aes(&k).unwrap()),
        ("salsa20", BlockCrypt::salsa20(&k)),
        ("sm4", BlockCrypt::sm4(&k[..16]).unwrap()),
        ("tea", BlockCrypt::tea(&k[..16]).unwrap()),
        ("xtea", BlockCrypt::xtea(&k[..16]).unwrap()),
        ("xor", BlockCrypt::xor(&k)),
        ("blowfish", BlockCrypt::blowfish(&k).unwrap()),
        ("cast5", BlockCrypt::cast5(&k[..16]).unwrap()),
        ("3des", BlockCrypt::triple_des(&k[..24]).unwrap()),
        ("twofish", BlockCrypt::twofish(&k).unwrap()),
        ("none", BlockCrypt::none()),
    ];
    for (name, cipher) in ciphers {
        let mut g = c.benchmark_group(name);
        g.throughput(Throughput::Bytes(3000));
        let mut buf = vec![0x5Au8; 1500];
        g.bench_function("kcp-rs", |b| {
            b.iter(|| {
                cipher.encrypt(black_box(&mut buf));
                cipher.decrypt(black_box(&mut buf));
            })
        });
        g.finish();
    }
}

/// kcp-go's `CsprngAES128` shape: one 16-byte nonce from the generator
/// `seal` draws from.
fn nonce(c: &mut Criterion) {
    let mut crypt = Crypt::new(CryptName::Aes128, &key()).unwrap();
    let mut g = c.benchmark_group("csprng_nonce");
    g.throughput(Throughput::Bytes(16));
    let mut n = [0u8; 16];
    g.bench_function("kcp-rs", |b| {
        b.iter(|| crypt.fill_nonce_for_benches(black_box(&mut n)))
    });
    g.finish();
}

fn crc32(c: &mut Criterion) {
    let mut g = c.benchmark_group("crc32");
    g.throughput(Throughput::Bytes(1024));
    let buf = vec![0x5Au8; 1024];
    g.bench_function("kcp-rs", |b| b.iter(|| kcp_crypto::crc32(black_box(&buf))));
    g.finish();
}

/// One datagram per call, and [`BATCH`] per `seal_batch` call.
fn seal(c: &mut Criterion, group: &str, name: CryptName) {
    let mut crypt = Crypt::new(name, &key()).unwrap();
    let payload = 1400 - crypt.overhead();
    let mut g = c.benchmark_group(group);
    g.throughput(Throughput::Bytes(1400));
    let mut buf = vec![0x5Au8; 1500];
    g.bench_function("kcp-rs", |b| {
        b.iter(|| crypt.seal(black_box(&mut buf), payload).unwrap())
    });
    g.finish();

    let mut g = c.benchmark_group(format!("{group}_batch"));
    g.throughput(Throughput::Bytes(1400 * BATCH as u64));
    let mut bufs = vec![vec![0x5Au8; 1500]; BATCH];
    let mut lens = [0usize; BATCH];
    g.bench_function(BenchmarkId::new("kcp-rs", BATCH), |b| {
        b.iter(|| {
            lens = [payload; BATCH];
            crypt.seal_batch(black_box(&mut bufs), &mut lens).unwrap();
        })
    });
    g.finish();
}

fn open_batch(c: &mut Criterion, group: &str, name: CryptName) {
    let k = key();
    let mut tx = Crypt::new(name, &k).unwrap();
    let rx = Crypt::new(name, &k).unwrap();
    let payload = 1400 - tx.overhead();
    let mut wire = vec![vec![0x5Au8; 1500]; BATCH];
    let mut lens = [payload; BATCH];
    tx.seal_batch(&mut wire, &mut lens).unwrap();
    let mut g = c.benchmark_group(group);
    g.throughput(Throughput::Bytes(1400 * BATCH as u64));
    let mut bufs: Vec<Vec<u8>> = wire.iter().map(|w| w[..1400].to_vec()).collect();
    let mut out = vec![Ok(0..0); BATCH];
    g.bench_function(BenchmarkId::new("kcp-rs", BATCH), |b| {
        b.iter(|| {
            for (b, w) in bufs.iter_mut().zip(&wire) {
                b.copy_from_slice(&w[..1400]);
            }
            rx.open_batch(black_box(&mut bufs), &mut out);
        })
    });
    g.finish();
}

fn sessions(c: &mut Criterion) {
    seal(c, "cfb_aes_128_crc32", CryptName::Aes128);
    seal(c, "aead_aes_128_gcm", CryptName::Aes128Gcm);
    seal(c, "salsa20_seal", CryptName::Salsa20);
    open_batch(c, "cfb_aes_128_crc32_open_batch", CryptName::Aes128);
    open_batch(c, "aead_aes_128_gcm_open_batch", CryptName::Aes128Gcm);
}

criterion_group!(benches, block_ciphers, crc32, nonce, sessions);
criterion_main!(benches);
