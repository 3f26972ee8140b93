//! The OVF environment document (`ovf-env.xml`): bytes in, [`Properties`] out.
//!
//! Shapes met in the field, all accepted: vCenter's (extra `ve:` namespace,
//! `ve:vCenterId`, `ve:EthernetAdapterSection`, a `PlatformSection`), a plain
//! ESXi host's, and documents whose sections carry the `oe:` prefix or none (the
//! default namespace and `oe:` are the same URI). Elements and attributes are
//! matched on namespace URI + local name, never on a prefix. Only the
//! `PropertySection`s that are direct children of `<Environment>` are read:
//! `<Entity>` sections describe sibling VMs of a vApp, not this one.
//!
//! Hostile input is refused before it can cost anything: documents over 1 MiB
//! are refused unread, any DTD (so any entity declaration: XXE, billion laughs)
//! is refused by the parser, and errors never carry a property value.

use roxmltree::{Document, Node, ParsingOptions};

use super::{Properties, PropertyValue};
use crate::secret::Secret;

/// The largest document accepted. A real one is a few KiB; a PEM chain and key
/// make it tens of KiB; guestinfo cannot carry more than 64 KiB by default anyway.
pub const MAX_DOCUMENT_BYTES: usize = 1024 * 1024;

/// The OVF environment namespace (`oe:` and the default namespace).
pub const OVF_ENV_NS: &str = "http://schemas.dmtf.org/ovf/environment/1";

/// vCenter's extension namespace (`ve:`); nothing in it is needed.
pub const VMWARE_OVFENV_NS: &str = "http://www.vmware.com/schema/ovfenv";

/// Why an OVF environment document was refused. No variant carries a value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DocumentError {
    #[error(
        "the OVF environment document is too large: {size} bytes read, at most {MAX_DOCUMENT_BYTES} (1 MiB) are accepted"
    )]
    TooLarge { size: usize },
    #[error("the OVF environment document is not UTF-8: {found}")]
    NotUtf8 { found: NotUtf8 },
    #[error(
        "the OVF environment document has a DOCTYPE; DTDs and entity declarations are refused (an OVF environment never has one)"
    )]
    DtdRefused,
    #[error(
        "the OVF environment document is not well-formed XML at line {line}, column {column}: {reason}"
    )]
    NotXml {
        line: u32,
        column: u32,
        reason: &'static str,
    },
    #[error(
        "the OVF environment document's root element is <{name}> {namespace}; expected <Environment> in namespace {OVF_ENV_NS}"
    )]
    WrongRoot {
        name: String,
        namespace: NamespaceName,
    },
    #[error(
        "the OVF environment document has no PropertySection (in namespace {OVF_ENV_NS}) under <Environment>"
    )]
    MissingPropertySection,
    #[error("the OVF property {key} appears more than once")]
    DuplicateKey { key: String },
    #[error("a <Property> at line {line} has no oe:key attribute (in namespace {OVF_ENV_NS})")]
    PropertyWithoutKey { line: u32 },
    #[error("the OVF property {key} has no oe:value attribute (in namespace {OVF_ENV_NS})")]
    PropertyWithoutValue { key: String },
}

/// What the bytes look like instead of UTF-8.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NotUtf8 {
    #[error("it is UTF-16 (little-endian); re-encode it as UTF-8")]
    Utf16Le,
    #[error("it is UTF-16 (big-endian); re-encode it as UTF-8")]
    Utf16Be,
    #[error("it is UTF-32; re-encode it as UTF-8")]
    Utf32,
    #[error("invalid UTF-8 at byte {offset} (Latin-1 or another 8-bit encoding?)")]
    Invalid { offset: usize },
}

/// A namespace as shown in errors: `in namespace URI` or `in no namespace`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamespaceName(pub Option<String>);

impl std::fmt::Display for NamespaceName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            Some(uri) => write!(f, "in namespace {uri}"),
            None => f.write_str("in no namespace"),
        }
    }
}

/// Parses an OVF environment document; secret keys are classified by the
/// appliance's embedded descriptor ([`super::descriptor::is_secret_key`]).
pub fn parse(bytes: &[u8]) -> Result<Properties, DocumentError> {
    parse_with(bytes, super::descriptor::is_secret_key)
}

/// Parses an OVF environment document, classifying keys with `is_secret`.
pub fn parse_with(
    bytes: &[u8],
    is_secret: impl Fn(&str) -> bool,
) -> Result<Properties, DocumentError> {
    let text = decode(bytes)?;
    let options = ParsingOptions {
        // The default already; spelled out because it is the XXE/billion-laughs defence.
        allow_dtd: false,
        // A 1 MiB document of empty elements has well under this many nodes.
        nodes_limit: 200_000,
        ..ParsingOptions::default()
    };
    let doc = Document::parse_with_options(text, options).map_err(xml_error)?;
    let root = doc.root_element();
    if !is_env(root, "Environment") {
        return Err(DocumentError::WrongRoot {
            name: root.tag_name().name().to_owned(),
            namespace: NamespaceName(root.tag_name().namespace().map(str::to_owned)),
        });
    }
    let sections: Vec<Node> = root
        .children()
        .filter(|n| is_env(*n, "PropertySection"))
        .collect();
    if sections.is_empty() {
        return Err(DocumentError::MissingPropertySection);
    }
    let entities = root.children().filter(|n| is_env(*n, "Entity")).count();
    if entities > 0 {
        tracing::debug!(
            entities,
            "ignoring the PropertySections of sibling vApp entities"
        );
    }

    let mut properties = Properties::new();
    for property in sections
        .iter()
        .flat_map(|s| s.children())
        .filter(|n| is_env(*n, "Property"))
    {
        let key = match property.attribute((OVF_ENV_NS, "key")) {
            Some(key) if !key.is_empty() => key,
            _ => {
                let line = doc.text_pos_at(property.range().start).row;
                return Err(DocumentError::PropertyWithoutKey { line });
            }
        };
        let Some(value) = property.attribute((OVF_ENV_NS, "value")) else {
            return Err(DocumentError::PropertyWithoutValue {
                key: key.to_owned(),
            });
        };
        if properties.contains_key(key) {
            return Err(DocumentError::DuplicateKey {
                key: key.to_owned(),
            });
        }
        properties.insert(key.to_owned(), classify(key, value.to_owned(), &is_secret));
    }
    Ok(properties)
}

/// Wraps a value as [`PropertyValue::Secret`] when its key is secret.
pub fn classify(key: &str, value: String, is_secret: impl Fn(&str) -> bool) -> PropertyValue {
    if is_secret(key) || carries_url_credentials(&value) {
        PropertyValue::Secret(Secret::new(value))
    } else {
        PropertyValue::Plain(value)
    }
}

/// A URL with credentials in it (`http://user:pass@proxy:3128`, or a token
/// alone as in `http://TOKEN@proxy:3128`): the whole value is treated as
/// secret, whatever its key.
pub fn carries_url_credentials(value: &str) -> bool {
    value.split_whitespace().any(|word| {
        let Some((_, rest)) = word.split_once("://") else {
            return false;
        };
        // Any '@' after the scheme: a password holding an unencoded '/', '?'
        // or '#' ends the authority early, and must stay secret all the same.
        rest.rsplit_once('@')
            .is_some_and(|(userinfo, _)| !userinfo.is_empty())
    })
}

fn is_env(node: Node, local_name: &str) -> bool {
    node.is_element()
        && node.tag_name().namespace() == Some(OVF_ENV_NS)
        && node.tag_name().name() == local_name
}

/// Size limit, then encoding: UTF-8 only (a UTF-8 byte order mark is dropped).
fn decode(bytes: &[u8]) -> Result<&str, DocumentError> {
    if bytes.len() > MAX_DOCUMENT_BYTES {
        return Err(DocumentError::TooLarge { size: bytes.len() });
    }
    let not_utf8 = |found| Err(DocumentError::NotUtf8 { found });
    match bytes {
        [0xFF, 0xFE, 0, 0, ..]
        | [0, 0, 0xFE, 0xFF, ..]
        | [b'<', 0, 0, 0, ..]
        | [0, 0, 0, b'<', ..] => {
            return not_utf8(NotUtf8::Utf32);
        }
        [0xFF, 0xFE, ..] | [b'<', 0, ..] => return not_utf8(NotUtf8::Utf16Le),
        [0xFE, 0xFF, ..] | [0, b'<', ..] => return not_utf8(NotUtf8::Utf16Be),
        _ => {}
    }
    let bytes = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]).unwrap_or(bytes);
    std::str::from_utf8(bytes).or_else(|e| {
        not_utf8(NotUtf8::Invalid {
            offset: e.valid_up_to(),
        })
    })
}

/// Maps a parser error to a position and a fixed description. The parser's own
/// messages can quote document text (an entity name inside a password, say), so
/// none of its strings are kept.
fn xml_error(error: roxmltree::Error) -> DocumentError {
    use roxmltree::Error as E;
    let reason = match &error {
        E::DtdDetected => return DocumentError::DtdRefused,
        E::InvalidXmlPrefixUri(_) | E::UnexpectedXmlUri(_) | E::UnexpectedXmlnsUri(_) => {
            "misuse of the reserved xml/xmlns namespaces"
        }
        E::InvalidElementNamePrefix(_) => "an element name has an invalid prefix",
        E::DuplicatedNamespace(..) => "a namespace prefix is declared twice on one element",
        E::UnknownNamespace(..) => "a namespace prefix is used but never declared",
        E::UnexpectedCloseTag(..) => "a closing tag does not match its opening tag",
        E::UnexpectedEntityCloseTag(_) => "an entity closes an element it did not open",
        E::UnknownEntityReference(..) => "an unknown entity is referenced (an unescaped '&'?)",
        E::MalformedEntityReference(_) => {
            "a malformed entity or character reference (an unescaped '&'?)"
        }
        E::EntityReferenceLoop(_) => "entity references loop",
        E::InvalidAttributeValue(_) => "an attribute value is invalid (an unescaped '<'?)",
        E::DuplicatedAttribute(..) => "an attribute appears twice on one element",
        E::NoRootNode => "there is no root element (empty or not XML)",
        E::UnclosedRootNode => "the root element is not closed (truncated document?)",
        E::UnexpectedDeclaration(_) => "an XML declaration is out of place",
        E::NodesLimitReached => "too many nodes",
        E::AttributesLimitReached => "too many attributes",
        E::NamespacesLimitReached => "too many namespaces",
        E::InvalidName(_) => "an invalid element or attribute name",
        E::NonXmlChar(..) => "a character that XML does not allow",
        E::InvalidChar(..) | E::InvalidChar2(..) => "an unexpected character",
        E::InvalidString(..) => "an unexpected string",
        E::InvalidExternalID(_) => "an invalid external ID",
        E::EntityResolver(..) => "an external entity",
        E::InvalidComment(_) => "a malformed comment",
        E::InvalidCharacterData(_) => "']]>' in character data",
        E::UnknownToken(_) => "unknown markup",
        E::UnexpectedEndOfStream => "the document ends early (truncated?)",
    };
    let pos = error.pos();
    DocumentError::NotXml {
        line: pos.row,
        column: pos.col,
        reason,
    }
}

#[cfg(test)]
mod tests;
