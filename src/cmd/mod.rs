//! One module per command.

pub mod fstab;
pub mod gc;
pub mod mount;
pub mod serve;
pub mod status;
pub mod unmount;
