//! kcptun-style flags for the echo examples, parsed without dependencies.

use std::collections::HashMap;
use std::str::FromStr;

use kcp_crypto::{CryptName, KCPTUN_DEFAULT_PASSPHRASE};
use kcp_session::{CryptConfig, Mode, SessionConfig, Stats};

pub struct Args(HashMap<String, String>);

pub const COMMON_HELP: &str = "\
  --crypt NAME     aes, aes-128, aes-192, aes-128-gcm, salsa20, blowfish, twofish,
                   cast5, 3des, tea, xtea, xor, sm4, none, null (default aes)
  --key PASS       pre-shared passphrase, PBKDF2 as kcptun (default kcptun's)
  --mode MODE      normal, fast, fast2, fast3 (default fast)
  --ds N --ps N    FEC data / parity shards (default 10 / 3; 0 0 = off)
  --mtu N          session MTU (default 1350)
  --sndwnd N --rcvwnd N   windows (default 128/512 client, 1024/1024 server)
  --dscp N         DSCP of the socket (default 0)
  --sockbuf N      socket buffer bytes (default 4194304)";

impl Args {
    /// `--flag value` pairs from the command line.
    pub fn parse(help: &str) -> Args {
        let mut m = HashMap::new();
        let mut it = std::env::args().skip(1);
        while let Some(a) = it.next() {
            if a == "-h" || a == "--help" {
                println!("{help}\n{COMMON_HELP}");
                std::process::exit(0);
            }
            let Some(k) = a.strip_prefix("--").or_else(|| a.strip_prefix('-')) else {
                eprintln!("unexpected argument {a:?}\n{help}");
                std::process::exit(2);
            };
            let (k, v) = match k.split_once('=') {
                Some((k, v)) => (k.to_string(), v.to_string()),
                None => (k.to_string(), it.next().unwrap_or_default()),
            };
            m.insert(k, v);
        }
        Args(m)
    }

    pub fn str(&self, k: &str, default: &str) -> String {
        self.0
            .get(k)
            .cloned()
            .unwrap_or_else(|| default.to_string())
    }

    pub fn num<T: FromStr>(&self, k: &str, default: T) -> T {
        match self.0.get(k) {
            None => default,
            Some(v) => v.parse().unwrap_or_else(|_| {
                eprintln!("--{k}: bad number {v:?}");
                std::process::exit(2)
            }),
        }
    }

    /// The session config, kcptun's defaults for `server` or client.
    pub fn session(&self, server: bool) -> SessionConfig {
        let mode = match self.str("mode", "fast").as_str() {
            "normal" => Mode::Normal,
            "fast" => Mode::Fast,
            "fast2" => Mode::Fast2,
            "fast3" => Mode::Fast3,
            m => {
                eprintln!("--mode: unknown {m:?}");
                std::process::exit(2)
            }
        };
        let crypt = self.str("crypt", "aes");
        let name = CryptName::from_str(&crypt).unwrap_or_else(|_| {
            eprintln!("--crypt: unknown {crypt:?}");
            std::process::exit(2)
        });
        let key = self.str("key", KCPTUN_DEFAULT_PASSPHRASE);
        let (sw, rw) = if server { (1024, 1024) } else { (128, 512) };
        let sockbuf = self.num("sockbuf", 4usize << 20);
        let mut s = SessionConfig::with_mode(mode)
            .with_crypt(CryptConfig::from_passphrase(name, &key))
            .with_fec(self.num("ds", 10), self.num("ps", 3))
            .with_mtu(self.num("mtu", 1350))
            .with_window(self.num("sndwnd", sw), self.num("rcvwnd", rw));
        s.stream = true;
        s.dscp = self.num("dscp", 0);
        s.read_buffer = sockbuf;
        s.write_buffer = sockbuf;
        s
    }
}

/// kcp-go's SNMP table, non-zero counters only.
pub fn print_stats(title: &str, s: &Stats) {
    println!("{title}:");
    for (name, v) in Stats::HEADER.iter().zip(s.to_array()) {
        if v != 0 {
            println!("  {name:<22} {v}");
        }
    }
}
