//! Keeps the C allocator's heap trimming out of the measurements.
//!
//! glibc returns the top of its heap to the kernel when a free leaves more
//! than 128 KiB there, checked when a chunk of 64 KiB or more is freed.
//! Benchmarks that build and drop endpoint pairs in a loop then pay a page
//! fault per 4 KiB for every pair, or not, depending on which peer happened
//! to free a large chunk last: measured here, C ikcp's fresh-pair transfer
//! of 16 MiB ran at 3.9 or 7.3 GB/s and kcp-core's at 4-6 or 8.7 GB/s with
//! the trim on or off. Every peer runs in the same process, so turning the
//! trim off treats them alike and leaves the ARQ code to be measured.

/// Turns off glibc's heap trimming for this process (no-op elsewhere).
pub fn keep_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes an allocator tunable; it is called
    // before the measurement threads start and takes no pointers.
    unsafe {
        libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX);
    }
}
