//! The WinFsp daemon (Windows).
