//! What the responder asks of memory beyond allocating it: giving it back
//! after a table is built, and fetching it early on the query path.
//!
//! Giving back: parsing a large records file
//! (YAML or JSON manifests) allocates many times the table's size, and
//! glibc keeps what is freed in its arenas: without this, a responder that
//! loaded 1M names from a file stays at 2.3 GiB RSS although its table takes
//! under 200 MiB. [`release_free_memory`] asks the allocator to return free
//! pages to the system (`malloc_trim`).
//!
//! Fetching early: on a table of a million names each step of a lookup
//! misses the caches, and a step whose address is known before the data
//! of the previous one arrives need not wait for it. [`prefetch`] asks the
//! CPU for a line and returns at once (the lookup fetches the slots of the
//! query name and of its parent together, and a node's RRsets and record
//! tails while its name is compared).
//!
//! With the UDP batch calls, the only `unsafe` of the responder.

/// Returns the allocator's free memory to the system, where the platform's
/// allocator can (glibc); a no-op elsewhere. Costs a few milliseconds on a
/// large heap: call it after a reload, not per query.
#[allow(unsafe_code)]
pub fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `malloc_trim` takes no pointers and has no preconditions; it
    // only hands free pages of the heap back to the kernel.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Asks the CPU to bring the cache line holding `item` into the caches and
/// returns without waiting; it changes nothing the program can observe but
/// time. A no-op where the architecture has no stable prefetch intrinsic.
#[inline(always)]
#[allow(unsafe_code)]
pub fn prefetch<T>(item: &T) {
    #[cfg(all(target_arch = "x86_64", target_feature = "sse"))]
    // SAFETY: `_mm_prefetch` only hints the cache and never faults, even on
    // an invalid address (here it is a live reference); the SSE feature it
    // requires is part of the x86-64 baseline and checked by the `cfg`.
    unsafe {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        _mm_prefetch::<_MM_HINT_T0>((item as *const T).cast::<i8>());
    }
    #[cfg(not(all(target_arch = "x86_64", target_feature = "sse")))]
    let _ = item;
}
