//! One module per command.

pub mod mount;
pub mod serve;
pub mod unmount;
