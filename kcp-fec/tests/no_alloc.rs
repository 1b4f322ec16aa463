//! Steady-state encoding and decoding (with losses and recovery) never
//! allocate: a counting global allocator proves it.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use kcp_fec::{Decoder, Encoder, FecConfig};

struct Counting;

thread_local! {
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: forwards to the system allocator; only counts on the side.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocs() -> u64 {
    ALLOCS.with(Cell::get)
}

#[test]
fn steady_state_is_allocation_free() {
    let cfg = FecConfig {
        header_offset: 20,
        ..FecConfig::new(10, 3)
    };
    let mut enc = Encoder::new(&cfg).unwrap();
    let mut dec = Decoder::new(&cfg).unwrap();
    // Wire buffers owned by the "application", reused like a pool.
    let mut data = vec![vec![0u8; 1400]; 10];
    let mut parity = vec![vec![0u8; 1500]; 3];
    let mut plen = 0;
    let mut recovered = 0usize;
    let mut run_groups = |groups: u32, enc: &mut Encoder, dec: &mut Decoder| {
        for g in 0..groups {
            for (i, dg) in data.iter_mut().enumerate() {
                dg.truncate(100 + 97 * i);
                dg.resize(100 + 97 * i, i as u8);
                let ps = enc.encode(dg, g * 10 + i as u32).unwrap();
                for (k, p) in ps.iter().enumerate() {
                    parity[k][..p.len()].copy_from_slice(p);
                    plen = p.len();
                }
            }
            // Lose one data shard per group, varying which (so several
            // erasure patterns hit the decode-matrix cache).
            let lost = (g % 10) as usize;
            for (i, dg) in data.iter().enumerate() {
                if i != lost {
                    dec.input(&dg[20..]).unwrap();
                }
            }
            for p in &parity {
                recovered += dec.input(&p[20..plen]).unwrap().recovered().len();
            }
        }
    };
    // Warm up: group slots, decode-matrix cache.
    run_groups(30, &mut enc, &mut dec);
    let before = allocs();
    run_groups(1000, &mut enc, &mut dec);
    assert_eq!(allocs() - before, 0, "allocations in steady state");
    assert_eq!(recovered, 1030);
}
