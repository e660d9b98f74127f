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
//! Backing with huge pages: on a table of a million names nearly every
//! step of a lookup misses the TLB as well as the caches, and the page walk
//! after it is one more trip to memory. [`back_with_huge_pages`] asks the
//! kernel to move an array onto 2 MiB pages, which one TLB entry covers.
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

/// The size of a huge page on x86-64 and (with 4 KiB base pages) arm64.
const HUGE_PAGE: usize = 2 << 20;

/// Asks the kernel to back the whole 2 MiB pages inside `data` with huge
/// pages now (`MADV_COLLAPSE`, Linux 6.1 and later), whatever the system's
/// transparent huge page setting says for new memory. The contents never
/// change, only the time it takes to reach them: the kernel copies one
/// 2 MiB range at a time, and a reader touching the range being copied
/// waits in a page fault until that copy is done (a few milliseconds), as
/// does any `mmap` of the process. Costs about a second of one core per
/// 300 MiB; best effort: where the kernel cannot (too old, no huge page
/// free: `EINVAL`, `EAGAIN`, `ENOMEM`), the data stays as it was, on
/// ordinary pages, and the kernel's refusal is returned; on another
/// platform nothing happens. Returns the octets asked for.
#[allow(unsafe_code)]
pub fn back_with_huge_pages<T>(data: &[T]) -> std::io::Result<usize> {
    let start = data.as_ptr() as usize;
    let end = start + size_of_val(data);
    let first = start.next_multiple_of(HUGE_PAGE);
    let last = end / HUGE_PAGE * HUGE_PAGE;
    if last <= first {
        return Ok(0);
    }
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `first..last` lies inside `data`'s allocation, which the
    // borrow keeps alive for the call; MADV_COLLAPSE changes how those
    // pages are backed, never what they hold.
    let refused = unsafe {
        libc::madvise(
            first as *mut libc::c_void,
            last - first,
            libc::MADV_COLLAPSE,
        ) != 0
    };
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    let refused = false;
    if refused {
        return Err(std::io::Error::last_os_error());
    }
    Ok(last - first)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backing_with_huge_pages_changes_no_content_and_skips_small_arrays() {
        let data: Vec<u64> = (0..1_000_000u64)
            .map(|i| i.wrapping_mul(0x9e37_79b9))
            .collect();
        let copy = data.clone();
        // 8 MB hold at least two whole, aligned 2 MiB pages. Refused (an
        // old kernel, no huge page free), they are left as they are.
        if let Ok(asked) = back_with_huge_pages(&data) {
            assert!(asked >= 2 * HUGE_PAGE);
        }
        assert_eq!(data, copy);
        assert_eq!(back_with_huge_pages(&data[..1000]).unwrap(), 0);
        assert_eq!(back_with_huge_pages::<u8>(&[]).unwrap(), 0);
    }
}
