//! The appliance's OVF ProductSection (`ovf/product-section.xml`), embedded at
//! build time: which property keys exist and which are secret.
//!
//! A key is secret when the descriptor types it `ovf:password="true"`, or when
//! its name says it holds a password, secret, token or private key
//! (`guestinfo.tls_key`, `guestinfo.root_password`, but not
//! `guestinfo.ssh_public_key`). Undeclared keys are classified by name alone, so
//! a key added to the wizard later is still redacted if it looks secret.

use std::sync::LazyLock;

/// The ProductSection as shipped in the OVA.
pub const PRODUCT_SECTION_XML: &str = include_str!("../../ovf/product-section.xml");

/// The OVF envelope namespace (`ovf:` in descriptors).
pub const OVF_ENVELOPE_NS: &str = "http://schemas.dmtf.org/ovf/envelope/1";

/// One `<Property>` of the ProductSection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeclaredProperty {
    pub key: String,
    /// `ovf:password="true"`: the wizard masks it and we never show it.
    pub password: bool,
}

/// The declared properties of a ProductSection, in document order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Descriptor {
    properties: Vec<DeclaredProperty>,
}

/// Why a ProductSection could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DescriptorError {
    #[error("the ProductSection is not well-formed XML: {0}")]
    Xml(String),
    #[error("the root element is <{0}>, expected <ProductSection> in namespace {OVF_ENVELOPE_NS}")]
    WrongRoot(String),
    #[error("a <Property> has no ovf:key attribute")]
    PropertyWithoutKey,
    #[error("the property {0} is declared twice")]
    DuplicateKey(String),
}

static EMBEDDED: LazyLock<Descriptor> = LazyLock::new(|| {
    // A compile-time constant, checked by `embedded_descriptor_parses` below.
    Descriptor::parse(PRODUCT_SECTION_XML)
        .expect("ovf/product-section.xml is a valid ProductSection")
});

impl Descriptor {
    /// The appliance's own ProductSection (parsed once).
    pub fn embedded() -> &'static Descriptor {
        &EMBEDDED
    }

    /// Reads a ProductSection; properties are matched on namespace URI + local name.
    pub fn parse(xml: &str) -> Result<Self, DescriptorError> {
        let doc =
            roxmltree::Document::parse(xml).map_err(|e| DescriptorError::Xml(e.to_string()))?;
        let root = doc.root_element();
        if root.tag_name().namespace() != Some(OVF_ENVELOPE_NS)
            || root.tag_name().name() != "ProductSection"
        {
            return Err(DescriptorError::WrongRoot(
                root.tag_name().name().to_owned(),
            ));
        }
        let mut properties: Vec<DeclaredProperty> = Vec::new();
        let declared = root.children().filter(|n| {
            n.is_element()
                && n.tag_name().namespace() == Some(OVF_ENVELOPE_NS)
                && n.tag_name().name() == "Property"
        });
        for node in declared {
            let key = node
                .attribute((OVF_ENVELOPE_NS, "key"))
                .ok_or(DescriptorError::PropertyWithoutKey)?;
            if properties.iter().any(|p| p.key == key) {
                return Err(DescriptorError::DuplicateKey(key.to_owned()));
            }
            let password = node.attribute((OVF_ENVELOPE_NS, "password")) == Some("true");
            properties.push(DeclaredProperty {
                key: key.to_owned(),
                password,
            });
        }
        Ok(Descriptor { properties })
    }

    pub fn properties(&self) -> &[DeclaredProperty] {
        &self.properties
    }

    /// The declared keys, in document order.
    pub fn declared_keys(&self) -> impl Iterator<Item = &str> {
        self.properties.iter().map(|p| p.key.as_str())
    }

    pub fn is_declared(&self, key: &str) -> bool {
        self.properties.iter().any(|p| p.key == key)
    }

    /// Password-typed in this descriptor, or secret by its name.
    pub fn is_secret_key(&self, key: &str) -> bool {
        self.properties.iter().any(|p| p.password && p.key == key) || key_names_a_secret(key)
    }
}

/// Whether `key` is secret for the embedded descriptor.
pub fn is_secret_key(key: &str) -> bool {
    Descriptor::embedded().is_secret_key(key)
}

/// The keys the embedded descriptor declares.
pub fn declared_keys() -> Vec<&'static str> {
    Descriptor::embedded().declared_keys().collect()
}

/// Whether a key's name says it holds a secret. Errs on the side of secret:
/// a wrongly redacted value costs a look at the wizard, a leaked one costs a key.
pub fn key_names_a_secret(key: &str) -> bool {
    let lower = key.to_ascii_lowercase();
    const WORDS: [&str; 6] = [
        "password",
        "passwd",
        "passphrase",
        "secret",
        "token",
        "credential",
    ];
    if WORDS.iter().any(|w| lower.contains(w)) {
        return true;
    }
    // camelCase or snake_case: "privateKey", "private_key", "tls.private.key".
    let squashed: String = lower
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect();
    if squashed.contains("privatekey") || squashed.contains("privkey") {
        return true;
    }
    let tokens: Vec<String> = split_words(key);
    let public = tokens
        .iter()
        .any(|t| t == "public" || t == "pub" || t == "pubkey");
    let keyish = tokens
        .iter()
        .any(|t| t == "key" || t == "pass" || t == "pwd" || t == "apikey");
    keyish && !public
}

/// Splits on non-alphanumerics and on lower→upper camelCase boundaries, lowercased.
fn split_words(key: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut prev_lower = false;
    for c in key.chars() {
        if !c.is_ascii_alphanumeric() {
            if !current.is_empty() {
                words.push(std::mem::take(&mut current));
            }
            prev_lower = false;
            continue;
        }
        if c.is_ascii_uppercase() && prev_lower && !current.is_empty() {
            words.push(std::mem::take(&mut current));
        }
        prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        current.push(c.to_ascii_lowercase());
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_descriptor_parses_and_declares_the_wizard_keys() {
        let d = Descriptor::parse(PRODUCT_SECTION_XML).unwrap();
        let keys: Vec<&str> = d.declared_keys().collect();
        assert_eq!(keys.first(), Some(&"guestinfo.hostname"));
        assert!(keys.contains(&"guestinfo.tls_cert"));
        assert!(keys.contains(&"guestinfo.tls_key"));
        assert!(keys.iter().all(|k| k.starts_with("guestinfo.")));
        assert_eq!(declared_keys(), keys);
    }

    #[test]
    fn password_typed_property_is_secret_even_with_a_harmless_name() {
        let d = Descriptor::parse(
            r#"<ProductSection xmlns="http://schemas.dmtf.org/ovf/envelope/1"
                 xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1">
                 <Property ovf:key="guestinfo.motd" ovf:type="string" ovf:password="true"/>
                 <Property ovf:key="guestinfo.banner" ovf:type="string"/>
               </ProductSection>"#,
        )
        .unwrap();
        assert!(d.is_secret_key("guestinfo.motd"));
        assert!(!d.is_secret_key("guestinfo.banner"));
    }

    #[test]
    fn the_embedded_tls_key_is_password_typed() {
        let d = Descriptor::embedded();
        let tls_key = d
            .properties()
            .iter()
            .find(|p| p.key == "guestinfo.tls_key")
            .unwrap();
        assert!(tls_key.password);
        assert!(is_secret_key("guestinfo.tls_key"));
        assert!(!is_secret_key("guestinfo.tls_cert"));
        assert!(!is_secret_key("guestinfo.hostname"));
    }

    #[test]
    fn secret_names_are_recognised() {
        for key in [
            "guestinfo.root_password",
            "guestinfo.rootPassword",
            "guestinfo.admin_passwd",
            "guestinfo.vcenter.secret",
            "guestinfo.api_token",
            "guestinfo.ssh_private_key",
            "guestinfo.privateKey",
            "guestinfo.tls_key",
            "guestinfo.api_key",
            "guestinfo.smtp_pass",
            "guestinfo.db_pwd",
        ] {
            assert!(key_names_a_secret(key), "{key} should be secret");
        }
    }

    #[test]
    fn public_and_unrelated_names_are_not_secret() {
        for key in [
            "guestinfo.ssh_public_key",
            "guestinfo.sshPublicKey",
            "guestinfo.ssh_authorized_keys",
            "guestinfo.keyboard_layout",
            "guestinfo.tls_cert",
            "guestinfo.hostname",
            "guestinfo.passenger_count",
        ] {
            assert!(!key_names_a_secret(key), "{key} should not be secret");
        }
    }

    #[test]
    fn descriptor_errors_are_distinct() {
        assert!(matches!(
            Descriptor::parse("<x"),
            Err(DescriptorError::Xml(_))
        ));
        assert_eq!(
            Descriptor::parse(r#"<Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1"/>"#),
            Err(DescriptorError::WrongRoot("Envelope".into()))
        );
        let dup = r#"<ProductSection xmlns="http://schemas.dmtf.org/ovf/envelope/1" xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1">
            <Property ovf:key="a"/><Property ovf:key="a"/></ProductSection>"#;
        assert_eq!(
            Descriptor::parse(dup),
            Err(DescriptorError::DuplicateKey("a".into()))
        );
        let nokey = r#"<ProductSection xmlns="http://schemas.dmtf.org/ovf/envelope/1"><Property key="a"/></ProductSection>"#;
        assert_eq!(
            Descriptor::parse(nokey),
            Err(DescriptorError::PropertyWithoutKey)
        );
    }
}
