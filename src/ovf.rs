//! The OVF environment: where it comes from (transports) and what it says
//! (the `ovf-env.xml` document), turned into a map of property key → value.
//!
//! Bytes in, [`OvfEnvironment`] out. Nothing here knows what a property means;
//! that is [`crate::settings`].

use std::collections::BTreeMap;

pub mod descriptor;
pub mod document;
mod environment;
pub mod transport;

pub use document::DocumentError;
pub use environment::{
    Attempt, Attempts, Outcome, OvfError, read_environment, read_environment_with,
};
pub use transport::{Transport, TransportError, default_transports};

use crate::secret::Secret;

/// One property's value, already classified: secret values redact themselves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PropertyValue {
    Plain(String),
    Secret(Secret),
}

impl PropertyValue {
    /// The value itself (for validation and for writing it to its target only).
    pub fn expose(&self) -> &str {
        match self {
            PropertyValue::Plain(v) => v,
            PropertyValue::Secret(s) => s.expose(),
        }
    }

    pub fn is_secret(&self) -> bool {
        matches!(self, PropertyValue::Secret(_))
    }

    /// What may be shown to a person: the value, or `<redacted>`. A blank
    /// secret shows as empty: it counts as unset, and there is nothing to hide.
    pub fn display(&self) -> &str {
        match self {
            PropertyValue::Plain(v) => v,
            PropertyValue::Secret(s) if s.expose().trim().is_empty() => "",
            PropertyValue::Secret(_) => crate::secret::REDACTED,
        }
    }
}

/// The properties of an OVF environment, by key (e.g. `guestinfo.hostname`).
pub type Properties = BTreeMap<String, PropertyValue>;

/// The OVF environment as read: which transport delivered it and its properties.
#[derive(Debug, Clone)]
pub struct OvfEnvironment {
    /// The transport's name as shown to people (`file`, `guestinfo`, `iso`, `fw_cfg`).
    pub transport: String,
    pub properties: Properties,
}
