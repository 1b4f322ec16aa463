//! An `Endpoint` whose sessions echo what they read, and client
//! `Connection`s routed to it in-test (a client's address is its index):
//! one millisecond of that world per `step`. Shared by the memory and
//! allocation tests.

use kcp_core::Timestamp;
use kcp_session::{Connection, Endpoint, Event};

/// Runs client timers and output, the endpoint's input, accepts, echoes,
/// timers and output, at `now`; returns the bytes echoed back to clients.
pub fn step(
    ep: &mut Endpoint<u32>,
    clients: &mut [Connection],
    now: Timestamp,
    wire: &mut [u8],
    rbuf: &mut [u8],
) -> u64 {
    for (addr, c) in clients.iter_mut().enumerate() {
        if c.poll_timeout().is_some_and(|t| now.reached(t)) {
            c.handle_timeout(now);
        }
        while let Some(n) = c.poll_transmit(now, wire) {
            ep.handle_datagram(now, addr as u32, &mut wire[..n]);
        }
    }
    while ep.accept().is_some() {}
    while let Some((h, ev)) = ep.poll_event() {
        if ev == Event::Readable {
            let conn = ep.connection_mut(h).unwrap();
            while let Ok(n) = conn.recv(rbuf) {
                conn.send(&rbuf[..n]).unwrap();
            }
        }
    }
    if ep.poll_timeout().is_some_and(|t| now.reached(t)) {
        ep.handle_timeout(now);
    }
    let mut echoed = 0;
    while let Some((to, n)) = ep.poll_transmit(now, wire) {
        let c = &mut clients[to as usize];
        c.handle_datagram(now, &mut wire[..n]);
        while let Ok(k) = c.recv(rbuf) {
            echoed += k as u64;
        }
        while c.poll_event().is_some() {}
    }
    echoed
}
