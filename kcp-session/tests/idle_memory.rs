//! Memory an idle session costs: a byte-counting global allocator watches an
//! `Endpoint` that accepted many sessions with large windows (kcptun's
//! 1024/1024), each of which echoed one short message and then went idle.
//! The live bytes the endpoint holds are measured by dropping it.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicI64, Ordering};

mod echo_world;

use kcp_core::Timestamp;
use kcp_session::{Connection, Endpoint, EndpointConfig, SessionConfig};

struct Counting;

static LIVE: AtomicI64 = AtomicI64::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as i64, Ordering::Relaxed);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as i64, Ordering::Relaxed);
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(new_size as i64 - layout.size() as i64, Ordering::Relaxed);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const SESSIONS: u32 = 1000;

fn live() -> i64 {
    LIVE.load(Ordering::Relaxed)
}

/// One test only: the counter is process-wide.
#[test]
fn idle_sessions_cost_little_memory_and_busy_ones_do_not_grow() {
    let cfg = SessionConfig::fast3().with_window(1024, 1024);
    let t0 = Timestamp::from_millis(0);
    let mut clients: Vec<Connection> = (0..SESSIONS)
        .map(|i| Connection::connect(1000 + i, &cfg, t0).unwrap())
        .collect();
    let mut wire = vec![0u8; 1500];
    let mut rbuf = vec![0u8; 4096];
    let before = live();
    let mut ep_cfg = EndpointConfig::new(cfg.clone());
    ep_cfg.accept_backlog = SESSIONS as usize;
    let mut ep: Endpoint<u32> = Endpoint::new(ep_cfg).unwrap();
    for c in clients.iter_mut() {
        c.send(&[0x11; 16]).unwrap();
    }
    let mut echoed = 0;
    let mut now = t0;
    for _ in 0..2000 {
        echoed += echo_world::step(&mut ep, &mut clients, now, &mut wire, &mut rbuf);
        now = now.add_millis(1);
    }
    assert_eq!(echoed, 16 * u64::from(SESSIONS), "every session echoed");
    assert_eq!(ep.len(), SESSIONS as usize);

    // Busy phase: ten sessions echo a message every 20 ms for 60 s. Each
    // re-arms its timer many times a second; the endpoint's timer heap
    // drops the stale entries, so memory stays flat once warm.
    let mut warm = 0;
    for ms in 0..60_000u32 {
        if ms % 20 == 0 {
            for c in clients.iter_mut().take(10) {
                c.send(&[0x22; 64]).unwrap();
            }
        }
        echoed += echo_world::step(&mut ep, &mut clients, now, &mut wire, &mut rbuf);
        now = now.add_millis(1);
        if ms == 10_000 {
            warm = live();
        }
    }
    let grown = live() - warm;
    assert_eq!(
        echoed,
        16 * u64::from(SESSIONS) + 10 * 3000 * 64,
        "every busy echo"
    );
    assert!(
        grown < 64 * 1024,
        "{grown} bytes more after 50 s of busy sessions"
    );

    let with_sessions = live();
    drop(ep);
    let after = live();
    let per_session = (with_sessions - after) / SESSIONS as i64;
    println!(
        "endpoint: {} bytes live for {SESSIONS} idle sessions, {per_session} per session \
         (before {before}, after drop {after})",
        with_sessions - after
    );
    assert!(
        per_session < 8 * 1024,
        "{per_session} bytes per idle session"
    );
}
