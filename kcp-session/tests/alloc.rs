//! Steady state allocates nothing: a counting global allocator watches
//! echo traffic (AES + FEC 10/3) through a `Connection` pair and through an
//! `Endpoint` with several sessions, after a warm-up.

mod echo_world;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use kcp_core::Timestamp;
use kcp_crypto::CryptName;
use kcp_session::{Connection, CryptConfig, Endpoint, EndpointConfig, SessionConfig};

struct Counting;

static ON: AtomicBool = AtomicBool::new(false);
static ALLOCS: AtomicU64 = AtomicU64::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if ON.load(Ordering::Relaxed) {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if ON.load(Ordering::Relaxed) {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn cfg() -> SessionConfig {
    SessionConfig::fast3()
        .with_window(128, 128)
        .with_fec(10, 3)
        .with_crypt(CryptConfig::new(CryptName::Aes, [9; 32]))
}

fn measure(ms: u32, mut step: impl FnMut(Timestamp), start: Timestamp) -> u64 {
    let mut now = start;
    ALLOCS.store(0, Ordering::Relaxed);
    ON.store(true, Ordering::Relaxed);
    for _ in 0..ms {
        step(now);
        now = now.add_millis(1);
    }
    ON.store(false, Ordering::Relaxed);
    ALLOCS.load(Ordering::Relaxed)
}

/// One test only: the counter is process-wide.
#[test]
fn steady_state_allocates_nothing() {
    // --- A Connection pair, echo. ---
    let t0 = Timestamp::from_millis(0);
    let mut a = Connection::connect(1, &cfg(), t0).unwrap();
    let mut b = Connection::accept(1, &cfg(), t0).unwrap();
    let msg = vec![0x5A; 1000];
    let mut wire = vec![0u8; 1500];
    let mut rbuf = vec![0u8; 4096];
    let mut echoed = 0u64;
    let mut sent = 0u64;
    let mut step = |now: Timestamp| {
        for _ in 0..4 {
            if a.is_writable() {
                a.send(&msg).unwrap();
            }
        }
        a.handle_timeout(now);
        b.handle_timeout(now);
        while let Some(n) = a.poll_transmit(now, &mut wire) {
            // Lose one datagram in 17: FEC recovery and retransmission run too.
            sent += 1;
            if !sent.is_multiple_of(17) {
                b.handle_datagram(now, &mut wire[..n]);
            }
        }
        while let Ok(n) = b.recv(&mut rbuf) {
            b.send(&rbuf[..n]).unwrap();
        }
        b.handle_timeout(now);
        while let Some(n) = b.poll_transmit(now, &mut wire) {
            a.handle_datagram(now, &mut wire[..n]);
        }
        while let Ok(n) = a.recv(&mut rbuf) {
            echoed += n as u64;
        }
        while a.poll_event().is_some() || b.poll_event().is_some() {}
    };
    let mut now = t0;
    for _ in 0..3_000 {
        step(now);
        now = now.add_millis(1);
    }
    let allocs = measure(3_000, &mut step, now);
    assert!(echoed > 1_000_000, "traffic flowed: {echoed}");
    assert_eq!(allocs, 0, "allocations in steady state (pair)");
    let s = b.stats();
    assert!(s.fec_recovered > 0 && s.in_pkts > 10_000, "{s:?}");

    // --- An Endpoint with 8 sessions, echo. ---
    let mut ep: Endpoint<u32> = Endpoint::new(EndpointConfig::new(cfg())).unwrap();
    let mut clients: Vec<Connection> = (0..8)
        .map(|i| Connection::connect(100 + i, &cfg(), t0).unwrap())
        .collect();
    let mut echoed = 0u64;
    let mut step = |now: Timestamp| {
        for c in clients.iter_mut() {
            if c.is_writable() {
                c.send(&msg).unwrap();
            }
        }
        echoed += echo_world::step(&mut ep, &mut clients, now, &mut wire, &mut rbuf);
    };
    let mut now = t0;
    for _ in 0..3_000 {
        step(now);
        now = now.add_millis(1);
    }
    let allocs = measure(3_000, &mut step, now);
    assert!(echoed > 1_000_000, "traffic flowed: {echoed}");
    assert_eq!(allocs, 0, "allocations in steady state (endpoint)");
}
