//! The allocator (mimalloc v2) and its one tuning: how soon freed memory is
//! handed back to the kernel.
//!
//! mimalloc purges (decommits) memory 10 ms after it falls free by default.
//! Calls end at the same rate as they start, so at a steady load each purge
//! is followed by a page fault that takes the memory back, and the segments
//! are transparent huge pages: each fault zeroes 2 MiB. At 2,000 calls/s
//! that was 1,600 faults a second and a third of the media thread's time
//! (benches/RESULTS.md, "The allocator's purge delay"). One second keeps the
//! working set of a steady load while still giving memory back within
//! seconds after a burst.

use std::ffi::c_long;

/// mimalloc's `mi_option_purge_delay`, its position in `mi_option_e`
/// (mimalloc.h, v2): libmimalloc-sys names no constant for it.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Freed memory stays committed this long (milliseconds) before it is purged.
pub const PURGE_DELAY_MS: c_long = 1000;

/// The environment variable through which an operator overrides the delay
/// (mimalloc reads it when the process loads).
const PURGE_DELAY_ENV: &str = "MIMALLOC_PURGE_DELAY";

/// Sets the purge delay unless the environment already chose one. Call once,
/// first thing in `main`, before any other thread starts.
pub fn tune() {
    if std::env::var_os(PURGE_DELAY_ENV).is_none() {
        set_purge_delay(PURGE_DELAY_MS);
    }
}

/// The purge delay in force, in milliseconds.
pub fn purge_delay() -> c_long {
    // SAFETY: reading an option takes no pointers, and mimalloc initialises
    // its options when the process loads.
    #[allow(unsafe_code)]
    unsafe {
        libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY)
    }
}

fn set_purge_delay(ms: c_long) {
    // SAFETY: setting an option takes no pointers. The value is a plain
    // store that the allocator reads when it schedules a purge: `tune` runs
    // before any other thread exists, so nothing reads it concurrently.
    #[allow(unsafe_code)]
    unsafe {
        libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, ms)
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_purge_delay_option_is_the_one_tuned() {
        // mimalloc's documented default for purge_delay is 10 ms; no other
        // option near index 15 defaults to 10, so this pins the index.
        if std::env::var_os(PURGE_DELAY_ENV).is_none() {
            assert_eq!(purge_delay(), 10);
        }
        tune();
        if std::env::var_os(PURGE_DELAY_ENV).is_none() {
            assert_eq!(purge_delay(), PURGE_DELAY_MS);
        }
    }
}
