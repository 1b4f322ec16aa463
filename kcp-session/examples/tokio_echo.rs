//! The echo server and client on the tokio adapter, with kcptun-style
//! flags (shared with `echo_server`/`echo_client`): `--role server` echoes
//! every accepted session in its own task; `--role client` sends
//! `--count` messages of `--size` bytes, checks the echo and prints
//! round-trip times. Interoperates with the std examples and kcp-go peers
//! using the same crypt/key/FEC settings.
//!
//! ```sh
//! cargo run -p kcp-session --features tokio --example tokio_echo -- --role server --listen 127.0.0.1:29900 --crypt aes --key secret
//! cargo run -p kcp-session --features tokio --example tokio_echo -- --role client --target 127.0.0.1:29900 --crypt aes --key secret
//! ```

#[path = "common/args.rs"]
mod args;
#[path = "common/echo.rs"]
mod echo;

use std::time::{Duration, Instant};

use kcp_session::tokio::{KcpListener, KcpStream, NetConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const HELP: &str = "tokio_echo --role server|client [flags]
  --role ROLE      server or client (default server)
 server:
  --listen ADDR    address to listen on (default 127.0.0.1:29900)
  --sessions N     exit after N sessions ended (default 0 = never)
  --idle SECS      close sessions silent for this long (default 30)
 client:
  --target ADDR    server address (default 127.0.0.1:29900)
  --count N        messages (default 10)
  --size N         bytes per message (default 1024)
  --timeout SECS   give up on an echo after this long (default 10)";

fn main() -> std::io::Result<()> {
    let a = args::Args::parse(HELP);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    match a.str("role", "server").as_str() {
        "server" => rt.block_on(server(a)),
        "client" => rt.block_on(client(a)),
        r => {
            eprintln!("--role: unknown {r:?}\n{HELP}");
            std::process::exit(2)
        }
    }
}

async fn server(a: args::Args) -> std::io::Result<()> {
    let cfg =
        NetConfig::from(a.session(true)).with_idle_timeout(Duration::from_secs(a.num("idle", 30)));
    let listener = KcpListener::bind(a.str("listen", "127.0.0.1:29900"), cfg).await?;
    println!("listening on {}", listener.local_addr());
    let max: usize = a.num("sessions", 0);
    let mut tasks = Vec::new();
    loop {
        let (mut s, peer) = listener.accept().await?;
        println!("session {:#010x} from {peer}", s.conv());
        // One task per session; one driver task serves them all.
        tasks.push(tokio::spawn(async move {
            let mut buf = vec![0u8; 64 * 1024];
            let mut total = 0u64;
            loop {
                match s.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if s.write_all(&buf[..n]).await.is_err() {
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
        }));
        if max > 0 && tasks.len() >= max {
            break;
        }
    }
    for t in tasks {
        let _ = t.await;
    }
    let st = listener.stats();
    args::print_stats("listener SNMP (all sessions)", &st.snmp);
    println!("endpoint: {:?}\nsocket: {:?}", st.endpoint, st.io);
    Ok(())
}

async fn client(a: args::Args) -> std::io::Result<()> {
    let target = a.str("target", "127.0.0.1:29900");
    let mut s = KcpStream::connect(&target, NetConfig::from(a.session(false))).await?;
    println!(
        "conv {:#010x}, {} -> {}",
        s.conv(),
        s.local_addr(),
        s.peer_addr()
    );
    let (count, size): (usize, usize) = (a.num("count", 10), a.num("size", 1024));
    let timeout = Duration::from_secs(a.num("timeout", 10));
    let mut rtts = Vec::new();
    let mut back = vec![0u8; size];
    for i in 0..count {
        let msg = echo::message(i, size);
        let t = Instant::now();
        s.write_all(&msg).await?;
        tokio::time::timeout(timeout, s.read_exact(&mut back))
            .await
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "no echo"))??;
        rtts.push(t.elapsed());
        if back != msg {
            return Err(std::io::Error::other(format!("echo {i} differs")));
        }
    }
    echo::print_rtts(count, size, &mut rtts);
    args::print_stats("session SNMP", &s.stats());
    println!("socket: {:?}", s.io_stats());
    s.close().await
}
