//! Every certificate the appliance lives on, read from where it is kept
//! under the root: the TLS serving certificate (the admin's or self-signed),
//! the xDS CA and pairs ([`crate::xds`]) and, while a route is protected, the
//! auth server's CA and serving pair ([`crate::auth`]). Each with its subject, notAfter
//! and days left, and whether it is inside its warning window (the window in
//! which ovaboot renews its own, and warns about the admin's).
//!
//! What `status` shows, and the one line the console banner and
//! `guestinfo.ovaboot.status` carry while any is inside its window
//! ([`warning`]). Public data only.

use std::path::Path;

use serde::Serialize;
use time::OffsetDateTime;
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::config::Config;
use crate::plan::appliance::TLS_CERT_PATH;
use crate::root::under;
use crate::{auth, xds};

/// One certificate, as `status` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CertificateStatus {
    /// What it is for, e.g. `TLS serving certificate`, `xDS CA`.
    pub name: &'static str,
    pub path: String,
    pub subject: String,
    /// RFC 3339 UTC.
    pub not_after: String,
    /// Whole days to notAfter (negative once expired).
    pub days_left: i64,
    /// Its warning window (`tls.expiry_warning_days`, `xds.renew_before_days`
    /// or `xds.ca_renew_before_days`).
    pub window_days: u32,
    /// Inside its window, or expired.
    pub warning: bool,
}

impl CertificateStatus {
    /// `xDS CA (CN=…) expires in 12 days`, `… expired 3 days ago`.
    pub fn expiry_line(&self) -> String {
        let when = match self.days_left {
            -1 => "expired 1 day ago".to_owned(),
            d if d < 0 => format!("expired {} days ago", -d),
            0 => "expires today".to_owned(),
            1 => "expires in 1 day".to_owned(),
            d => format!("expires in {d} days"),
        };
        format!("certificate {} ({}) {when}", self.name, self.subject)
    }
}

/// Each certificate kept under `root` (one that is missing or does not parse
/// is left out: `status` reads, it never fails on a certificate).
pub fn read(root: &Path, config: &Config, now: OffsetDateTime) -> Vec<CertificateStatus> {
    let mut kept = vec![
        (
            "TLS serving certificate",
            TLS_CERT_PATH,
            config.tls.expiry_warning_days,
        ),
        ("xDS CA", xds::CA_CERT_PATH, config.xds.ca_renew_before_days),
        (
            "Contour's xDS serving pair",
            xds::CONTOUR_CERT_PATH,
            config.xds.renew_before_days,
        ),
        (
            "envoy's xDS client pair",
            xds::ENVOY_CERT_PATH,
            config.xds.renew_before_days,
        ),
    ];
    // Only while a route is protected (files a config with none left behind
    // are renewed by nothing); renewed in the xDS windows.
    if config.routes().protected().is_some() {
        kept.extend([
            (
                "auth server CA",
                auth::CA_CERT_PATH,
                config.xds.ca_renew_before_days,
            ),
            (
                "auth server's serving pair",
                auth::CERT_PATH,
                config.xds.renew_before_days,
            ),
        ]);
    }
    kept.into_iter()
        .filter_map(|(name, path, window_days)| {
            let pem = std::fs::read(under(root, path)).ok()?;
            let block = x509_parser::pem::Pem::iter_from_buffer(&pem).next()?.ok()?;
            let (_, cert) = X509Certificate::from_der(&block.contents).ok()?;
            let not_after = cert.validity().not_after.to_datetime();
            let days_left = (not_after - now).whole_days();
            Some(CertificateStatus {
                name,
                path: path.to_owned(),
                subject: cert.subject().to_string(),
                not_after: crate::state::rfc3339(not_after),
                days_left,
                window_days,
                warning: not_after - now < time::Duration::days(i64::from(window_days)),
            })
        })
        .collect()
}

/// Records in the state file whether any certificate kept under `root` is
/// inside its window now (the banner and guestinfo show it): what every
/// `reconfigure` that may renew does last, renewed or not, failed or not.
pub fn note_in_state(root: &Path, config: &Config) {
    let certificates = read(root, config, OffsetDateTime::now_utc());
    crate::state::note_certificate_warning(root, warning(&certificates));
}

/// The certificate nearest its end among those inside their window, as one
/// line; `None` when none is.
pub fn warning(certificates: &[CertificateStatus]) -> Option<String> {
    certificates
        .iter()
        .filter(|c| c.warning)
        .min_by_key(|c| c.days_left)
        .map(CertificateStatus::expiry_line)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tls::test_pki::NOW;
    use time::Duration;

    #[test]
    fn each_kept_certificate_is_read_with_its_days_left_and_window() {
        let root = tempfile::tempdir().unwrap();
        let plan = xds::plan(&xds::Kept::default(), &xds::XdsConfig::default(), NOW).unwrap();
        crate::apply::files::write_files(root.path(), &plan.files()).unwrap();
        let config = Config::default();
        let read_at = |at| read(root.path(), &config, at);

        let fresh = read_at(NOW);
        let names: Vec<&str> = fresh.iter().map(|c| c.name).collect();
        assert_eq!(
            names,
            [
                "xDS CA",
                "Contour's xDS serving pair",
                "envoy's xDS client pair"
            ]
        );

        // With a protected route, the auth server's CA and pair too (real
        // certificates of the same shape, copied where the auth server's are kept).
        for (from, to) in [
            (xds::CA_CERT_PATH, auth::CA_CERT_PATH),
            (xds::CONTOUR_CERT_PATH, auth::CERT_PATH),
        ] {
            let to = under(root.path(), to);
            std::fs::create_dir_all(to.parent().unwrap()).unwrap();
            std::fs::copy(under(root.path(), from), to).unwrap();
        }
        let with_auth = read_at(NOW);
        let auth: Vec<(&str, u32)> = with_auth[3..]
            .iter()
            .map(|c| (c.name, c.window_days))
            .collect();
        assert_eq!(
            auth,
            [("auth server CA", 365), ("auth server's serving pair", 30)]
        );
        assert_eq!(fresh[1].subject, "CN=contour");
        assert_eq!(fresh[1].days_left, 365);
        assert_eq!(fresh[0].window_days, 365);
        assert!(fresh.iter().all(|c| !c.warning));
        assert_eq!(warning(&fresh), None);

        let near = read_at(NOW + Duration::days(340));
        assert!(near[1].warning && near[2].warning && !near[0].warning);
        assert_eq!(
            warning(&near).unwrap(),
            "certificate Contour's xDS serving pair (CN=contour) expires in 25 days"
        );

        let past = read_at(NOW + Duration::days(366));
        assert_eq!(
            warning(&past).unwrap(),
            "certificate Contour's xDS serving pair (CN=contour) expired 1 day ago"
        );
    }
}
