//! What each subcommand does, as library functions the binary calls.

pub mod apply;
pub mod firstboot;
pub mod props;
pub mod reconfigure;
pub mod render;
pub mod status;
