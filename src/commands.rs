//! What each subcommand does, as library functions the binary calls.

pub mod apply;
pub mod failure;
pub mod firstboot;
pub mod inputs;
pub mod props;
pub mod reconfigure;
pub mod recorded;
pub mod render;
pub mod retry;
pub mod status;
