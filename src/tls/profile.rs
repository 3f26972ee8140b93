//! What browsers require of a server's certificate beyond its names and
//! dates: not a CA, serverAuth among its extended key usages (if it lists
//! any), and no critical extension they do not understand (RFC 5280 §4.2:
//! a verifier must refuse those). Each gets its own refusal, so the admin is
//! told at deploy time rather than by every browser afterwards.

use x509_parser::extensions::ParsedExtension;
use x509_parser::prelude::X509Certificate;

use super::TlsError;
use super::names::printable;
use crate::settings::Hostname;

pub(super) fn check_server_leaf(
    leaf: &X509Certificate<'_>,
    hostname: &Hostname,
) -> Result<(), TlsError> {
    for extension in leaf.extensions().iter().filter(|e| e.critical) {
        if matches!(
            extension.parsed_extension(),
            ParsedExtension::UnsupportedExtension { .. }
                | ParsedExtension::ParseError { .. }
                | ParsedExtension::Unparsed
        ) {
            return Err(TlsError::UnknownCriticalExtension {
                oid: extension.oid.to_id_string(),
            });
        }
    }
    if let Ok(Some(constraints)) = leaf.basic_constraints()
        && constraints.value.ca
    {
        return Err(TlsError::LeafIsCa {
            subject: printable(&leaf.subject().to_string()),
            fqdn: hostname.fqdn().to_owned(),
        });
    }
    match leaf.extended_key_usage() {
        // No extendedKeyUsage at all: any use, servers included.
        Ok(None) => Ok(()),
        Ok(Some(eku)) if eku.value.server_auth => Ok(()),
        Ok(Some(eku)) => {
            let eku = eku.value;
            let mut usages: Vec<String> = [
                (eku.any, "anyExtendedKeyUsage"),
                (eku.client_auth, "clientAuth"),
                (eku.code_signing, "codeSigning"),
                (eku.email_protection, "emailProtection"),
                (eku.time_stamping, "timeStamping"),
                (eku.ocsp_signing, "OCSPSigning"),
            ]
            .into_iter()
            .filter(|(set, _)| *set)
            .map(|(_, name)| name.to_owned())
            .collect();
            usages.extend(eku.other.iter().map(|oid| oid.to_id_string()));
            Err(TlsError::NoServerAuth {
                usages: if usages.is_empty() {
                    "empty".to_owned()
                } else {
                    usages.join(", ")
                },
            })
        }
        Err(e) => Err(TlsError::NoServerAuth {
            usages: format!("unreadable: {e}"),
        }),
    }
}
