//! The pinned Project Contour release, as plan steps.
//!
//! [`pin`] reads the release manifest the appliance builder pinned (checking its
//! sha256 before parsing anything), [`transform`] reshapes it for the chosen
//! envoy exposure on the parsed objects (never on text), [`check`] proves the
//! result is self-consistent, [`images`] lists what `ovaboot images` pre-pulls,
//! and [`sysctl`] says what the host must allow for envoy to bind 80/443.
//!
//! Objects are plain `serde_json::Value`s in apply order; the Kubernetes
//! executor applies them without knowing what they are.

pub mod certgen;
pub mod check;
mod error;
pub mod images;
mod objects;
pub mod pin;
pub mod sysctl;
pub mod transform;

#[cfg(test)]
pub(crate) mod schema_check;
#[cfg(test)]
pub(crate) mod test_support;

pub use check::check;
pub use error::ContourError;
pub use images::images;
pub use objects::{Object, describe};
pub use pin::{ContourConfig, EnvoyExposure, load_manifest, parse_manifest};
pub use sysctl::{SysctlDropIn, privileged_port_sysctl};
pub use transform::transform;

/// Plan the Contour step: load the pinned manifest, reshape it for the configured
/// envoy exposure, drop the certgen Job ovaboot replaces ([`certgen`]), and
/// check the result. Objects come back in apply order.
pub fn plan(config: &ContourConfig) -> Result<Vec<Object>, ContourError> {
    let objects = load_manifest(config)?;
    let objects = transform(objects, config.envoy_exposure)?;
    let objects = certgen::drop_certgen(objects)?;
    check(&objects, config)?;
    Ok(objects)
}
