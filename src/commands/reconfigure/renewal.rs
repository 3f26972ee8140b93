//! The self-signed certificate renews itself: a run whose properties did not
//! change still plans when the certificate last applied is ovaboot's own and
//! within `[tls] expiry_warning_days` of its notAfter (or past it).
//!
//! The applied digest says so ([`crate::state::digest::AppliedCertificate`]), so the
//! check needs neither the config nor a plan, and an ordinary run stays as
//! cheap as before. The plan then does what first boot's would: the installed
//! pair is not reused this close to expiry, so a new one is made with the same
//! names ([`crate::tls::plan`]). The admin's certificate is never replaced:
//! it is only warned about, naming the property to change.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::state::digest::AppliedDigest;
use crate::tls::{CERT_PROPERTY, CertSource};

/// Why a run with unchanged properties plans anyway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Renewal {
    /// ovaboot's self-signed certificate expires on `not_after`, within
    /// `expiry_warning_days` (or has expired): a new one replaces it.
    Due { not_after: String },
    /// ovaboot's self-signed certificate is not valid before `not_before`:
    /// it was made while the guest's clock ran ahead (at first boot, before
    /// time sync), and the clock has been corrected since. A new one
    /// replaces it.
    NotYetValid { not_before: String },
    /// The applied digest does not say when its certificate nears expiry (an older
    /// ovaboot wrote it): planned once, which keeps a pair still good and
    /// records the dates.
    Unrecorded,
}

/// Whether the certificate `digest` describes is due for renewal at `now`.
/// The admin's certificate never is; when it nears expiry, a warning says so.
pub fn due(digest: &AppliedDigest, now: OffsetDateTime) -> Option<Renewal> {
    let Some(certificate) = &digest.certificate else {
        return Some(Renewal::Unrecorded);
    };
    let Ok(from) = OffsetDateTime::parse(&certificate.expiry_warning_from, &Rfc3339) else {
        tracing::warn!(
            value = %certificate.expiry_warning_from,
            "the recorded certificate's expiry date does not parse; planning to check it"
        );
        return Some(Renewal::Unrecorded);
    };
    let Some(not_before) = &certificate.not_before else {
        return Some(Renewal::Unrecorded);
    };
    let Ok(valid_from) = OffsetDateTime::parse(not_before, &Rfc3339) else {
        tracing::warn!(value = %not_before, "the recorded certificate's start date does not parse; planning to check it");
        return Some(Renewal::Unrecorded);
    };
    // The same bounds as the plan's reuse rule: outside them it is not kept.
    if now < valid_from {
        return match certificate.source {
            CertSource::SelfSigned => Some(Renewal::NotYetValid {
                not_before: not_before.clone(),
            }),
            CertSource::User => {
                tracing::warn!(
                    "{CERT_PROPERTY}: the admin's certificate is not valid until {not_before} (now {}); check the appliance's clock; ovaboot never replaces it",
                    crate::state::rfc3339(now)
                );
                None
            }
        };
    }
    if now <= from {
        return None;
    }
    match certificate.source {
        CertSource::SelfSigned => Some(Renewal::Due {
            not_after: certificate.not_after.clone(),
        }),
        CertSource::User => {
            tracing::warn!(
                "{CERT_PROPERTY}: the admin's certificate expires on {} (within tls.expiry_warning_days); ovaboot never replaces it: set a renewed certificate and its key in {CERT_PROPERTY} and {} and reboot",
                certificate.not_after,
                crate::tls::KEY_PROPERTY
            );
            None
        }
    }
}

impl std::fmt::Display for Renewal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Renewal::Due { not_after } => write!(
                f,
                "renewal due: the self-signed certificate expires on {not_after}, within tls.expiry_warning_days"
            ),
            Renewal::NotYetValid { not_before } => write!(
                f,
                "renewal due: the self-signed certificate is not valid until {not_before} (made while the clock ran ahead; the clock has been corrected since)"
            ),
            Renewal::Unrecorded => f.write_str(
                "the certificate's expiry is not recorded yet (an older ovaboot's record): planned once to check it",
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::digest::AppliedCertificate;

    fn record(source: CertSource, from: &str) -> AppliedDigest {
        let mut record = AppliedDigest::new(
            Default::default(),
            "hmac:x".into(),
            OffsetDateTime::UNIX_EPOCH,
        );
        record.certificate = Some(AppliedCertificate {
            source,
            not_before: Some("2025-12-01T00:00:00Z".into()),
            not_after: "2028-03-01T00:00:00Z".into(),
            expiry_warning_from: from.into(),
        });
        record
    }

    fn at(text: &str) -> OffsetDateTime {
        OffsetDateTime::parse(text, &Rfc3339).unwrap()
    }

    #[test]
    fn self_signed_is_due_after_its_warning_date_only() {
        let record = record(CertSource::SelfSigned, "2028-01-31T00:00:00Z");
        assert_eq!(due(&record, at("2028-01-30T23:59:59Z")), None);
        assert_eq!(due(&record, at("2028-01-31T00:00:00Z")), None);
        let due_then = Some(Renewal::Due {
            not_after: "2028-03-01T00:00:00Z".into(),
        });
        assert_eq!(due(&record, at("2028-01-31T00:00:01Z")), due_then);
        assert_eq!(
            due(&record, at("2029-01-01T00:00:00Z")),
            due_then,
            "expired"
        );
    }

    #[test]
    fn the_admins_certificate_is_never_due() {
        let record = record(CertSource::User, "2028-01-31T00:00:00Z");
        assert_eq!(due(&record, at("2029-01-01T00:00:00Z")), None);
    }

    #[test]
    fn a_certificate_not_valid_yet_once_the_clock_is_right_is_due() {
        // Minted with the clock 10 days ahead: its notBefore is in the future.
        let record = record(CertSource::SelfSigned, "2028-01-31T00:00:00Z");
        assert_eq!(
            due(&record, at("2025-11-21T00:00:00Z")),
            Some(Renewal::NotYetValid {
                not_before: "2025-12-01T00:00:00Z".into()
            })
        );
        assert_eq!(
            due(&record, at("2025-12-01T00:00:00Z")),
            None,
            "valid from then"
        );
        // The admin's certificate is only warned about.
        let record = self::record(CertSource::User, "2028-01-31T00:00:00Z");
        assert_eq!(due(&record, at("2025-11-21T00:00:00Z")), None);
    }

    #[test]
    fn an_older_record_without_the_start_date_plans_once() {
        let mut old = record(CertSource::SelfSigned, "2028-01-31T00:00:00Z");
        old.certificate.as_mut().unwrap().not_before = None;
        assert_eq!(
            due(&old, at("2026-01-01T00:00:00Z")),
            Some(Renewal::Unrecorded)
        );
    }

    #[test]
    fn an_older_record_plans_once() {
        let mut old = record(CertSource::SelfSigned, "x");
        assert_eq!(
            due(&old, at("2028-01-01T00:00:00Z")),
            Some(Renewal::Unrecorded)
        );
        old.certificate = None;
        assert_eq!(
            due(&old, at("2028-01-01T00:00:00Z")),
            Some(Renewal::Unrecorded)
        );
    }
}
