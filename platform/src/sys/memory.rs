//! Giving freed heap memory back to the system.

/// Returns the free memory at the top of every malloc arena, and whole free pages inside them,
/// to the system (glibc keeps freed memory for reuse otherwise, so the RSS of a daemon that
/// dropped most of its nodes would stay at its peak). A no-op where the C library has no such
/// call.
pub fn trim() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim takes no pointer and only walks the allocator's own arenas under their
    // locks; it is safe to call from any thread at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}
