//! A KCP echo server with kcptun-style flags: every accepted session gets
//! back what it sends. Any kcp-go `DialWithOptions` client (or
//! `echo_client`) with the same crypt/key/FEC settings can talk to it.
//!
//! `cargo run -p kcp-session --example echo_server -- --listen 127.0.0.1:29900 --crypt aes --key secret --mode fast3`

#[path = "common/args.rs"]
mod args;

use std::io::{Read, Write};
use std::time::Duration;

use kcp_session::net::{KcpListener, NetConfig};

const HELP: &str = "echo_server [flags]
  --listen ADDR    address to listen on (default 127.0.0.1:29900)
  --sessions N     exit after N sessions ended (default 0 = never)
  --idle SECS      close sessions silent for this long (default 30)";

fn main() -> std::io::Result<()> {
    let a = args::Args::parse(HELP);
    let cfg =
        NetConfig::from(a.session(true)).with_idle_timeout(Duration::from_secs(a.num("idle", 30)));
    let listener = KcpListener::bind(a.str("listen", "127.0.0.1:29900"), cfg)?;
    println!("listening on {}", listener.local_addr());
    let max: usize = a.num("sessions", 0);
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    let mut served = 0;
    loop {
        let (s, peer) = listener.accept()?;
        println!("session {:#010x} from {peer}", s.conv());
        let done = done_tx.clone();
        // The application's own thread per session (the adapter itself
        // runs one I/O thread whatever the number of sessions).
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 64 * 1024];
            let mut total = 0u64;
            loop {
                match (&s).read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if (&s).write_all(&buf[..n]).is_err() {
                            break;
                        }
                        total += n as u64;
                    }
                }
            }
            println!(
                "session {:#010x} from {peer} ended, {total} bytes echoed",
                s.conv()
            );
            args::print_stats("session SNMP", &s.stats());
            let _ = done.send(());
        });
        served += 1;
        if max > 0 && served >= max {
            break;
        }
    }
    for _ in 0..served {
        let _ = done_rx.recv();
    }
    let st = listener.stats();
    args::print_stats("listener SNMP (all sessions)", &st.snmp);
    println!("endpoint: {:?}\nsocket: {:?}", st.endpoint, st.io);
    Ok(())
}
