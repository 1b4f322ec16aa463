//! A kcptun client or server, wire-compatible with xtaci/kcptun (smux v2
//! over kcp-go sessions, snappy compression unless `--nocomp`), with
//! kcptun's flag names and defaults.
//!
//! ```sh
//! # in place of `kcptun_server -t 127.0.0.1:8388 -l :4000 --key secret`
//! cargo run --release -p kcp-session --features snappy --example kcptun -- \
//!     server -t 127.0.0.1:8388 -l :4000 --key secret
//! # in place of `kcptun_client -r vps:4000 -l :8388 --key secret`
//! cargo run --release -p kcp-session --features snappy --example kcptun -- \
//!     client -r vps:4000 -l :8388 --key secret
//! ```

#[cfg(not(feature = "snappy"))]
fn main() {
    eprintln!(
        "the kcptun example needs the snappy feature:\n  \
         cargo run --release -p kcp-session --features snappy --example kcptun -- --help"
    );
    std::process::exit(2);
}

#[cfg(feature = "snappy")]
mod tunnel;

#[cfg(feature = "snappy")]
fn main() {
    if let Err(e) = app::main() {
        eprintln!("kcptun: {e}");
        std::process::exit(1);
    }
}

#[cfg(feature = "snappy")]
mod app {
    use std::collections::HashMap;
    use std::net::TcpListener;
    use std::str::FromStr;
    use std::time::Duration;

    use kcp_crypto::{CryptName, KCPTUN_DEFAULT_PASSPHRASE};
    use kcp_session::net::{KcpListener, NetConfig};
    use kcp_session::smux::{Keepalive, MuxConfig, Version};
    use kcp_session::{CryptConfig, Mode, SessionConfig};

    use crate::tunnel::{Client, Options, Server};

    const HELP: &str = "\
kcptun client|server [flags]   (kcptun's flag names and defaults)

client:
  -l, --localaddr ADDR    local TCP listen address (default :12948)
  -r, --remoteaddr ADDR   kcptun server address (default vps:29900)
  --conn N                KCP sessions, TCP connections in turn (default 1)
server:
  -l, --listen ADDR       KCP listen address (default :29900)
  -t, --target ADDR       TCP target for every stream (default 127.0.0.1:12948)
both:
  --key PASS              pre-shared secret (default \"it's a secrect\")
  --crypt NAME            aes, aes-128, aes-192, aes-128-gcm, salsa20, blowfish,
                          twofish, cast5, 3des, tea, xtea, xor, sm4, none, null
                          (default aes; unknown names mean aes, as in kcptun)
  --mode MODE             fast3, fast2, fast, normal, manual (default fast)
  --nodelay --interval --resend --nc   manual mode values (0, 50, 0, 0)
  --mtu N                 (default 1350)
  --sndwnd N --rcvwnd N   (client 128/512, server 1024/1024)
  --datashard, --ds N     FEC data shards (default 10)
  --parityshard, --ps N   FEC parity shards (default 3)
  --dscp N                (default 0)
  --nocomp                no snappy compression (must match the peer)
  --acknodelay            flush ACKs at once
  --sockbuf N             socket buffers (default 4194304)
  --ratelimit N           bytes per second per session, 0 = unlimited
  --smuxver N             1 or 2 (default 2; must match the peer)
  --smuxbuf N             session receive buffer (default 4194304)
  --streambuf N           per-stream window, v2 (default 2097152)
  --framesize N           smux frame size (default 8192)
  --keepalive N           seconds between keepalives (default 10; timeout 30 s)
  --closewait 0           accepted with 0 only (close at once)
  --autoexpire 0          accepted with 0 only (no expiry)
  --quiet                 no per-session lines
  --duration SECS         stop after this long and print stats (kcp-rs)

not supported (refused): --tcp, --QPP, --QPPCount, --autoexpire N>0,
--scavengettl, --closewait N>0, --pprof, --snmplog, --snmpperiod, --log, -c";

    /// Flags that take no value.
    const BOOLS: &[&str] = &["nocomp", "acknodelay", "quiet"];
    /// Short and alternative names.
    const ALIASES: &[(&str, &str)] = &[("ds", "datashard"), ("ps", "parityshard")];
    /// kcptun options this program does not implement.
    const UNSUPPORTED: &[(&str, &str)] = &[
        ("tcp", "the tcpraw fake-TCP transport"),
        ("QPP", "quantum permutation pads"),
        ("QPPCount", "quantum permutation pads"),
        ("scavengettl", "session expiry (--autoexpire)"),
        ("pprof", "Go's profiler"),
        ("snmplog", "SNMP logging"),
        ("snmpperiod", "SNMP logging"),
        ("log", "log files (stderr only)"),
        ("c", "JSON configuration files"),
    ];

    struct Flags(HashMap<String, String>);

    fn usage(msg: &str) -> String {
        format!("{msg}\n(kcptun --help lists the flags)")
    }

    impl Flags {
        fn parse(args: &[String], server: bool) -> Result<Flags, String> {
            let mut m = HashMap::new();
            let mut it = args.iter();
            while let Some(a) = it.next() {
                let Some(k) = a.strip_prefix("--").or_else(|| a.strip_prefix('-')) else {
                    return Err(usage(&format!("unexpected argument {a:?}")));
                };
                let (k, inline) = match k.split_once('=') {
                    Some((k, v)) => (k, Some(v.to_string())),
                    None => (k, None),
                };
                let mut k = k.to_string();
                if let Some((_, full)) = ALIASES.iter().find(|(s, _)| *s == k) {
                    k = full.to_string();
                }
                k = match (k.as_str(), server) {
                    ("l" | "listen" | "localaddr", true) => "listen".into(),
                    ("l" | "localaddr", false) => "localaddr".into(),
                    ("t" | "target", true) => "target".into(),
                    ("r" | "remoteaddr", false) => "remoteaddr".into(),
                    _ => k,
                };
                if let Some((_, what)) = UNSUPPORTED.iter().find(|(n, _)| *n == k) {
                    return Err(format!("--{k} ({what}) is not supported by this kcptun"));
                }
                let v = if BOOLS.contains(&k.as_str()) {
                    inline.unwrap_or_else(|| "true".into())
                } else {
                    match inline.or_else(|| it.next().cloned()) {
                        Some(v) => v,
                        None => return Err(usage(&format!("--{k} needs a value"))),
                    }
                };
                m.insert(k, v);
            }
            let f = Flags(m);
            for (k, v) in &f.0 {
                let ok_value_zero = matches!(k.as_str(), "closewait" | "autoexpire");
                if ok_value_zero && v != "0" {
                    return Err(format!(
                        "--{k} {v}: only 0 is supported by this kcptun (kcp-rs)"
                    ));
                }
            }
            let known: &[&str] = &[
                "listen",
                "target",
                "localaddr",
                "remoteaddr",
                "conn",
                "key",
                "crypt",
                "mode",
                "nodelay",
                "interval",
                "resend",
                "nc",
                "mtu",
                "sndwnd",
                "rcvwnd",
                "datashard",
                "parityshard",
                "dscp",
                "nocomp",
                "acknodelay",
                "sockbuf",
                "ratelimit",
                "smuxver",
                "smuxbuf",
                "streambuf",
                "framesize",
                "keepalive",
                "closewait",
                "autoexpire",
                "quiet",
                "duration",
            ];
            for k in f.0.keys() {
                if !known.contains(&k.as_str())
                    || (server && matches!(k.as_str(), "conn" | "autoexpire"))
                {
                    return Err(usage(&format!("unknown option --{k}")));
                }
            }
            Ok(f)
        }

        fn str(&self, k: &str, default: &str) -> String {
            self.0.get(k).cloned().unwrap_or_else(|| default.into())
        }

        fn num<T: FromStr>(&self, k: &str, default: T) -> Result<T, String> {
            match self.0.get(k) {
                None => Ok(default),
                Some(v) => v.parse().map_err(|_| format!("--{k}: bad number {v:?}")),
            }
        }

        fn bool(&self, k: &str) -> Result<bool, String> {
            match self.0.get(k).map(String::as_str) {
                None | Some("false") => Ok(false),
                Some("true") => Ok(true),
                Some(v) => Err(format!("--{k}: expected true or false, got {v:?}")),
            }
        }
    }

    /// kcptun accepts `:port` for "every address".
    fn addr(a: &str) -> String {
        match a.strip_prefix(':') {
            Some(port) => format!("0.0.0.0:{port}"),
            None => a.to_string(),
        }
    }

    fn options(f: &Flags, server: bool) -> Result<Options, String> {
        let mut s = match f.str("mode", "fast").as_str() {
            "normal" => SessionConfig::with_mode(Mode::Normal),
            "fast" => SessionConfig::with_mode(Mode::Fast),
            "fast2" => SessionConfig::with_mode(Mode::Fast2),
            "fast3" => SessionConfig::with_mode(Mode::Fast3),
            // kcptun: any other mode is "manual", from the four flags.
            _ => SessionConfig::with_mode(Mode::Normal).nodelay((
                f.num("nodelay", 0)?,
                f.num("interval", 50)?,
                f.num("resend", 0)?,
                f.num("nc", 0)?,
            )),
        };
        let name = CryptName::from_kcptun(&f.str("crypt", "aes"));
        let key = f.str("key", KCPTUN_DEFAULT_PASSPHRASE);
        let (sw, rw) = if server { (1024, 1024) } else { (128, 512) };
        s = s
            .with_crypt(CryptConfig::from_passphrase(name, &key))
            .with_fec(f.num("datashard", 10)?, f.num("parityshard", 3)?)
            .with_mtu(f.num("mtu", 1350)?)
            .with_window(f.num("sndwnd", sw)?, f.num("rcvwnd", rw)?);
        s.stream = true;
        s.write_delay = false;
        s.ack_nodelay = f.bool("acknodelay")?;
        s.rate_limit = f.num("ratelimit", 0)?;
        s.dscp = f.num("dscp", 0)?;
        let sockbuf = f.num("sockbuf", 4usize << 20)?;
        s.read_buffer = sockbuf;
        s.write_buffer = sockbuf;

        let mut m = MuxConfig::kcptun();
        m.version = match f.num("smuxver", 2u8)? {
            1 => Version::V1,
            2 => Version::V2,
            v => return Err(format!("--smuxver {v}: 1 or 2")),
        };
        m.max_receive_buffer = f.num("smuxbuf", 4_194_304)?;
        m.max_stream_buffer = f.num("streambuf", 2_097_152)?;
        m.max_frame_size = f.num("framesize", 8192)?;
        let ka: u32 = f.num("keepalive", 10)?;
        m.keepalive = Some(Keepalive {
            interval_ms: ka.saturating_mul(1000),
            timeout_ms: 30_000,
        });
        m.validate().map_err(|e| format!("smux settings: {e}"))?;
        Ok(Options {
            net: NetConfig::from(s),
            smux: m,
            compress: !f.bool("nocomp")?,
            conn: f.num("conn", 1)?,
            quiet: f.bool("quiet")?,
        })
    }

    pub fn main() -> Result<(), String> {
        let args: Vec<String> = std::env::args().skip(1).collect();
        if args.is_empty() || args.iter().any(|a| a == "-h" || a == "--help") {
            println!("{HELP}");
            return Ok(());
        }
        let server = match args[0].as_str() {
            "server" => true,
            "client" => false,
            other => {
                return Err(usage(&format!(
                    "first argument: client or server, not {other:?}"
                )));
            }
        };
        let f = Flags::parse(&args[1..], server)?;
        let opts = options(&f, server)?;
        let duration: u64 = f.num("duration", 0)?;
        let err = |e: std::io::Error| e.to_string();
        if server {
            let listen = addr(&f.str("listen", ":29900"));
            let target = f.str("target", "127.0.0.1:12948");
            let listener = KcpListener::bind(&listen, opts.net.clone()).map_err(err)?;
            println!(
                "kcptun server: listening on {} (KCP), target {target}, compression {}",
                listener.local_addr(),
                if opts.compress { "on" } else { "off" }
            );
            let srv = Server::new(listener, &target, opts);
            let counters = srv.counters();
            if duration > 0 {
                let stop = srv.stopper();
                std::thread::spawn(move || {
                    std::thread::sleep(Duration::from_secs(duration));
                    stop.stop();
                });
            }
            srv.run().map_err(err)?;
            counters.print("kcptun server");
        } else {
            let local = addr(&f.str("localaddr", ":12948"));
            let remote = f.str("remoteaddr", "vps:29900");
            let listener = TcpListener::bind(&local).map_err(err)?;
            println!(
                "kcptun client: listening on {} (TCP), remote {remote}, compression {}",
                listener.local_addr().map_err(err)?,
                if opts.compress { "on" } else { "off" }
            );
            let cli = Client::new(listener, &remote, opts);
            let counters = cli.counters();
            if duration > 0 {
                let stop = cli.stopper().map_err(err)?;
                std::thread::spawn(move || {
                    std::thread::sleep(Duration::from_secs(duration));
                    stop.stop();
                });
            }
            cli.run().map_err(err)?;
            counters.print("kcptun client");
        }
        Ok(())
    }
}
