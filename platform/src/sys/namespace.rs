//! Mount namespaces.

/// Moves the calling thread into a mount namespace of its own (a copy of the current one).
/// Call it while the process has one thread, so the whole process moves.
pub fn unshare_mounts() -> std::io::Result<()> {
    // SAFETY: rustix marks unshare unsafe because some flags (CLONE_FILES, CLONE_FS, CLONE_NEWUSER
    // and the like) change state Rust code may rely on. CLONE_NEWNS alone only gives the thread
    // its own copy of the mount table: no descriptor, memory or credential changes.
    unsafe { rustix::thread::unshare_unsafe(rustix::thread::UnshareFlags::NEWNS) }?;
    Ok(())
}
