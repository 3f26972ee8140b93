//! Executors: make the world match a plan. They know nothing about OVF or
//! certificates; every effect of the agent goes through here.

pub mod files;
pub mod host;
pub mod units;
