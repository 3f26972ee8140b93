//! What the two Secrets were last given: `/var/lib/ovaboot/xds.json`. A run
//! whose planned pairs are these applies nothing; any other (a pair renewed,
//! or written to the host by a run cut short before the Secrets) applies both
//! Secrets and then records them. Public data only: fingerprints and dates.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{Minted, XdsPlan};
use crate::apply::files::FilesError;
use crate::state::json::{self, ReadError};

pub const RECORD_PATH: &str = "/var/lib/ovaboot/xds.json";

/// The SHA-256 of each certificate (`AB:CD:…`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fingerprints {
    pub ca: String,
    pub contour: String,
    pub envoy: String,
}

/// One certificate as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dates {
    pub certificate: String,
    pub not_before: String,
    pub not_after: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct XdsRecord {
    /// What `contourcert` and `envoycert` hold.
    pub applied: Fingerprints,
    /// When they were given it (RFC 3339 UTC).
    pub applied_at: String,
    pub certificates: Vec<Dates>,
    /// What the run that recorded this minted, and why.
    #[serde(default)]
    pub minted: Vec<MintedRecord>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MintedRecord {
    pub certificate: String,
    pub why: String,
}

impl XdsRecord {
    pub fn of(plan: &XdsPlan, now: time::OffsetDateTime) -> XdsRecord {
        XdsRecord {
            applied: plan.fingerprints(),
            applied_at: crate::state::rfc3339(now),
            certificates: plan
                .certificates()
                .iter()
                .map(|(which, pair)| Dates {
                    certificate: which.as_str().to_owned(),
                    not_before: crate::state::rfc3339(pair.validity.not_before),
                    not_after: crate::state::rfc3339(pair.validity.not_after),
                })
                .collect(),
            minted: plan.minted.iter().map(MintedRecord::of).collect(),
        }
    }
}

impl MintedRecord {
    fn of(minted: &Minted) -> MintedRecord {
        MintedRecord {
            certificate: minted.which.as_str().to_owned(),
            why: minted.why.clone(),
        }
    }
}

/// The record under `root`, `None` when none was made yet.
pub fn load(root: &Path) -> Result<Option<XdsRecord>, ReadError> {
    json::read(root, RECORD_PATH)
}

/// Records that the Secrets hold `plan`'s pairs.
pub fn store(root: &Path, plan: &XdsPlan, now: time::OffsetDateTime) -> Result<(), FilesError> {
    json::write(root, RECORD_PATH, &XdsRecord::of(plan, now), 0o644)
}
