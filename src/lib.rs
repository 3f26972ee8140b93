//! ovaboot: the first-boot agent of a Kubernetes-based VMware appliance.
//!
//! The OVF environment (what the admin typed into the vSphere wizard) is read by
//! [`ovf`], validated into typed [`settings`], and turned into a plan that the
//! binary renders or applies. See `../shared/DESIGN.md` and the README.

pub mod apply;
pub mod cluster;
pub mod commands;
pub mod config;
pub mod contour;
pub mod facts;
pub mod failure;
pub mod inputs;
pub mod ovf;
pub mod plan;
pub mod report;
pub mod retry;
pub mod root;
pub mod routes;
pub mod secret;
pub mod settings;
pub mod state;
pub mod systemd_syntax;
pub mod tls;
pub mod yaml;
