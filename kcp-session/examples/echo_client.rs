//! A KCP echo client with kcptun-style flags: sends `--count` messages of
//! `--size` bytes, checks the echo, prints round-trip times and kcp-go's
//! SNMP counters. Works against `echo_server` or any kcp-go echo server
//! with the same crypt/key/FEC settings.
//!
//! `cargo run -p kcp-session --example echo_client -- --target 127.0.0.1:29900 --crypt aes --key secret --mode fast3`

#[path = "common/args.rs"]
mod args;
#[path = "common/echo.rs"]
mod echo;

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use kcp_session::net::{KcpStream, NetConfig};

const HELP: &str = "echo_client [flags]
  --target ADDR    server address (default 127.0.0.1:29900)
  --count N        messages (default 10)
  --size N         bytes per message (default 1024)
  --timeout SECS   read timeout (default 10)";

fn main() -> std::io::Result<()> {
    let a = args::Args::parse(HELP);
    let target = a.str("target", "127.0.0.1:29900");
    let cfg = NetConfig::from(a.session(false));
    let s = KcpStream::connect(&target, cfg)?;
    s.set_read_timeout(Some(Duration::from_secs(a.num("timeout", 10))))?;
    println!(
        "conv {:#010x}, {} -> {}",
        s.conv(),
        s.local_addr(),
        s.peer_addr()
    );
    let (count, size): (usize, usize) = (a.num("count", 10), a.num("size", 1024));
    let mut rtts = Vec::new();
    let mut back = vec![0u8; size];
    for i in 0..count {
        let msg = echo::message(i, size);
        let t = Instant::now();
        (&s).write_all(&msg)?;
        (&s).read_exact(&mut back)?;
        rtts.push(t.elapsed());
        if back != msg {
            return Err(std::io::Error::other(format!("echo {i} differs")));
        }
    }
    echo::print_rtts(count, size, &mut rtts);
    args::print_stats("session SNMP", &s.stats());
    println!("socket: {:?}", s.io_stats());
    s.close()
}
