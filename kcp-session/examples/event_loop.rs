//! A hand-written, single-threaded event loop driving the sans-IO types over
//! non-blocking `mio` sockets: no reactor thread, no locks, no `net` module.
//!
//! One `Endpoint<SocketAddr>` serves every peer on one UDP socket and echoes
//! every message back; N client `Connection`s, each on its own socket, live
//! in the same loop. Every pass of the loop makes the five calls of any
//! integration, in this order:
//!
//! 1. input:          socket readable → `handle_datagram(now, ..)`
//! 2. timers:         `handle_timeout(now)`
//! 3. application:    `send` / `recv` (and the endpoint's `accept` / `poll_event`)
//! 4. output:         `poll_transmit(now, buf)` until `None` → `send_to`
//! 5. sleep:          `poll_timeout()` → how long `mio::Poll::poll` may block
//!
//! ```text
//! cargo run -p kcp-session --example event_loop -- --clients 50 --seconds 2
//! cargo run -p kcp-session --example event_loop -- --quick
//! ```

use std::io::ErrorKind;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use kcp_session::{
    Connection, Endpoint, EndpointConfig, Event, MAX_DATAGRAM, SessionConfig, Timestamp,
};
use mio::net::UdpSocket;
use mio::{Events, Interest, Poll, Token};

/// The server socket's token; client `i` is `Token(i)`.
const SERVER: Token = Token(usize::MAX);
/// Every client sends one message this often while the demo runs.
const SEND_EVERY: Duration = Duration::from_millis(50);
/// Bytes per message: client id, sequence number, then a checkable pattern.
const MSG_LEN: usize = 200;
/// How long to wait for the last echoes after the clients stop sending.
const GRACE: Duration = Duration::from_secs(5);

/// `Instant` → `Timestamp`: milliseconds since an epoch taken at start-up.
/// (`Timestamp` wraps every 49.7 days; `at` ignores the wrap, fine for a
/// demo, a long-lived server would keep a u64 millisecond count.)
struct Clock(Instant);

impl Clock {
    fn now(&self) -> Timestamp {
        Timestamp::from_millis(self.0.elapsed().as_millis() as u32)
    }
    fn at(&self, t: Timestamp) -> Instant {
        self.0 + Duration::from_millis(u64::from(t.as_millis()))
    }
}

struct Client {
    socket: UdpSocket,
    conn: Connection,
    sent: u32,
    echoed: u32,
    corrupt: u32,
}

#[derive(Clone, Copy, Default)]
struct Counters {
    sent: u64,
    echoed: u64,
    server_in: u64,
    server_out: u64,
    accepted: u64,
}

fn message(id: u32, seq: u32) -> [u8; MSG_LEN] {
    let mut m = [0u8; MSG_LEN];
    m[..4].copy_from_slice(&id.to_le_bytes());
    m[4..8].copy_from_slice(&seq.to_le_bytes());
    for (i, b) in m[8..].iter_mut().enumerate() {
        *b = (id as usize + seq as usize + i) as u8;
    }
    m
}

fn main() -> std::io::Result<ExitCode> {
    let (clients_n, seconds) = parse_args();
    let clock = Clock(Instant::now());
    let cfg = SessionConfig::fast3(); // message mode (stream = false), no FEC, no crypt

    let mut poll = Poll::new()?;
    let mut events = Events::with_capacity(1024);
    let mut rx = vec![0u8; MAX_DATAGRAM]; // one datagram from a socket
    let mut tx = vec![0u8; MAX_DATAGRAM]; // one datagram to a socket
    let mut msg = vec![0u8; MAX_DATAGRAM]; // one application message

    // The server: one socket, one sans-IO endpoint for every peer.
    let mut server_socket = UdpSocket::bind("127.0.0.1:0".parse().unwrap())?;
    poll.registry()
        .register(&mut server_socket, SERVER, Interest::READABLE)?;
    let server_addr = server_socket.local_addr()?;
    let mut server: Endpoint<SocketAddr> =
        Endpoint::new(EndpointConfig::new(cfg.clone())).expect("valid config");

    // The clients: one connected socket and one `Connection` each.
    let mut clients = Vec::with_capacity(clients_n);
    for i in 0..clients_n {
        let mut socket = UdpSocket::bind("127.0.0.1:0".parse().unwrap())?;
        socket.connect(server_addr)?;
        poll.registry()
            .register(&mut socket, Token(i), Interest::READABLE)?;
        let conn = Connection::connect(0x1000 + i as u32, &cfg, clock.now()).expect("config");
        clients.push(Client {
            socket,
            conn,
            sent: 0,
            echoed: 0,
            corrupt: 0,
        });
    }
    println!("server {server_addr}, {clients_n} clients, sending for {seconds} s");

    let start = Instant::now();
    let stop_sending = start + Duration::from_secs_f64(seconds);
    let give_up = stop_sending + GRACE;
    let mut next_send = start;
    let mut next_report = start + Duration::from_secs(1);
    let (mut total, mut last) = (Counters::default(), Counters::default());

    loop {
        let now = clock.now();

        // 1. Input: drain every readable socket (mio is edge-triggered).
        for event in events.iter() {
            if event.token() == SERVER {
                loop {
                    match server_socket.recv_from(&mut rx) {
                        Ok((n, from)) => {
                            total.server_in += 1;
                            server.handle_datagram(now, from, &mut rx[..n]);
                        }
                        Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                        Err(_) => continue, // e.g. an ICMP error: next datagram
                    }
                }
            } else {
                let c = &mut clients[event.token().0];
                loop {
                    match c.socket.recv(&mut rx) {
                        Ok(n) => c.conn.handle_datagram(now, &mut rx[..n]),
                        Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                        Err(_) => continue,
                    }
                }
            }
        }

        // 2. Timers: the endpoint runs only the sessions that are due.
        server.handle_timeout(now);
        for c in &mut clients {
            if c.conn.poll_timeout().is_some_and(|t| now.reached(t)) {
                c.conn.handle_timeout(now);
            }
        }

        // 3. Application. Server: accept new sessions, echo every message.
        while server.accept().is_some() {
            total.accepted += 1;
        }
        while let Some((h, ev)) = server.poll_event() {
            if ev != Event::Readable {
                continue;
            }
            let conn = server.connection_mut(h).expect("live session");
            // Read until WouldBlock: that re-arms the edge-triggered event.
            while let Ok(n) = conn.recv(&mut msg) {
                conn.send(&msg[..n]).expect("open session");
            }
        }
        // Clients: check the echoes, send one message every SEND_EVERY.
        let send_now = Instant::now() >= next_send && next_send < stop_sending;
        for (id, c) in clients.iter_mut().enumerate() {
            while let Ok(n) = c.conn.recv(&mut msg) {
                let ok = n == MSG_LEN && msg[..n] == message(id as u32, c.echoed)[..];
                c.corrupt += u32::from(!ok); // message mode keeps boundaries and order
                c.echoed += 1;
                total.echoed += 1;
            }
            if send_now {
                c.conn.send(&message(id as u32, c.sent)).expect("open");
                c.sent += 1;
                total.sent += 1;
            }
        }
        if send_now {
            next_send += SEND_EVERY;
        }

        // 4. Output: everything the state machines queued goes on the wire.
        // A full socket buffer (WouldBlock) drops the datagram: KCP resends.
        while let Some((to, n)) = server.poll_transmit(now, &mut tx) {
            total.server_out += 1;
            let _ = server_socket.send_to(&tx[..n], to);
        }
        for c in &mut clients {
            while let Some(n) = c.conn.poll_transmit(now, &mut tx) {
                let _ = c.socket.send(&tx[..n]);
            }
        }

        // Per-second counters and the end of the demo.
        let wall = Instant::now();
        if wall >= next_report {
            println!(
                "{:>4.1}s  sessions {:>4}  sent {:>6}  echoed {:>6}  server datagrams in {:>6} out {:>6}",
                (wall - start).as_secs_f64(),
                total.accepted,
                total.sent - last.sent,
                total.echoed - last.echoed,
                total.server_in - last.server_in,
                total.server_out - last.server_out,
            );
            last = total;
            next_report += Duration::from_secs(1);
        }
        let all_back = clients.iter().all(|c| c.echoed == c.sent);
        if (wall >= stop_sending && all_back) || wall >= give_up {
            break;
        }

        // 5. Sleep until the earliest KCP deadline, the next send or report,
        // or until a socket becomes readable.
        let mut wake = next_report.min(give_up);
        if next_send < stop_sending {
            wake = wake.min(next_send);
        }
        let kcp_deadlines = clients.iter().filter_map(|c| c.conn.poll_timeout());
        for t in server.poll_timeout().into_iter().chain(kcp_deadlines) {
            wake = wake.min(clock.at(t));
        }
        poll.poll(
            &mut events,
            Some(wake.saturating_duration_since(Instant::now())),
        )?;
    }

    let complete = clients
        .iter()
        .filter(|c| c.echoed == c.sent && c.corrupt == 0)
        .count();
    println!(
        "{complete}/{clients_n} clients got every echo back ({} messages of {MSG_LEN} bytes each way, {} sessions accepted)",
        total.sent, total.accepted
    );
    if complete == clients_n && total.accepted == clients_n as u64 {
        println!("OK");
        Ok(ExitCode::SUCCESS)
    } else {
        for (i, c) in clients.iter().enumerate() {
            if c.echoed != c.sent || c.corrupt != 0 {
                eprintln!(
                    "client {i}: sent {} echoed {} corrupt {}",
                    c.sent, c.echoed, c.corrupt
                );
            }
        }
        Ok(ExitCode::FAILURE)
    }
}

fn parse_args() -> (usize, f64) {
    let (mut clients, mut seconds) = (50usize, 2.0f64);
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().and_then(|v| v.parse::<f64>().ok());
        match a.as_str() {
            "--clients" => clients = value().expect("--clients N") as usize,
            "--seconds" => seconds = value().expect("--seconds S"),
            "--quick" => (clients, seconds) = (10, 1.0),
            _ => {
                println!(
                    "event_loop: an echo server (sans-IO Endpoint) and N clients (Connection)\n\
                     on non-blocking mio sockets, all driven by one hand-written loop.\n\n  \
                     --clients N   client connections                   [50]\n  \
                     --seconds S   how long the clients keep sending    [2]\n  \
                     --quick       10 clients for 1 s (CI)"
                );
                std::process::exit(if a == "--help" || a == "-h" { 0 } else { 2 });
            }
        }
    }
    (clients, seconds)
}
