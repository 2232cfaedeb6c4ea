//! The only module of agentfs with `unsafe` code: calls with no safe wrapper in rustix or std.
//! Every block states why it is sound.

#[cfg(unix)]
pub mod signals;
