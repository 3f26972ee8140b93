//! ovaboot: the first-boot agent of a Kubernetes-based VMware appliance.
//!
//! The OVF environment (what the admin typed into the vSphere wizard) is read by
//! [`ovf`], validated into typed [`settings`], and turned into a plan that the
//! binary renders or applies. See `../shared/DESIGN.md` and the README.

pub mod cluster;
pub mod ovf;
pub mod secret;
pub mod settings;
