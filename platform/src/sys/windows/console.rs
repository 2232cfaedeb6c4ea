//! Console control events (Ctrl-C, Ctrl-Break, closing the console, logoff, shutdown): the
//! Windows counterpart of a daemon's termination signals.

use std::sync::OnceLock;
use windows::Win32::System::Console::SetConsoleCtrlHandler;
use windows::core::BOOL;

static ON_CTRL: OnceLock<Box<dyn Fn() + Send + Sync>> = OnceLock::new();

unsafe extern "system" fn handler(_ctrl_type: u32) -> BOOL {
    if let Some(f) = ON_CTRL.get() {
        f();
    }
    BOOL(1)
}

/// Calls `f` (once set, for the life of the process) on every console control event instead of
/// ending the process.
pub fn on_ctrl(f: impl Fn() + Send + Sync + 'static) -> std::io::Result<()> {
    let _ = ON_CTRL.set(Box::new(f));
    // SAFETY: `handler` is a valid handler routine for the life of the process; it only calls
    // the callback stored once above.
    unsafe { SetConsoleCtrlHandler(Some(handler), true) }.map_err(super::io_err)
}
