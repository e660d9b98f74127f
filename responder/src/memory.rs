//! Giving memory back after a table is built. Parsing a large records file
//! (YAML or JSON manifests) allocates many times the table's size, and
//! glibc keeps what is freed in its arenas: without this, a responder that
//! loaded 1M names from a file stays at 2.3 GiB RSS although its table takes
//! under 200 MiB. [`release_free_memory`] asks the allocator to return free
//! pages to the system (`malloc_trim`). With the UDP batch calls, the only
//! `unsafe` of the responder.

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
