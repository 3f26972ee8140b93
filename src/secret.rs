//! A value that must never be shown: passwords, private keys, anything the OVF
//! descriptor marks `ovf:password="true"`.
//!
//! `Secret` has no `Display`, redacts itself in `Debug`, and serializes as
//! `"<redacted>"`, so it cannot leak through `{}`/`{:?}`, `tracing` fields,
//! error messages or JSON output by accident. Reading it takes an explicit
//! [`Secret::expose`], which is easy to grep for. The value is zeroed on drop.

use std::fmt;
use zeroize::Zeroize;

/// What every redacted value prints as.
pub const REDACTED: &str = "<redacted>";

/// A secret value (a `String` unless said otherwise, e.g. `Secret<Vec<u8>>` for DER).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret<T: Zeroize = String>(T);

impl<T: Zeroize> Secret<T> {
    pub fn new(value: T) -> Self {
        Secret(value)
    }

    /// The secret value itself. Only for writing it to its target or parsing it.
    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T: Zeroize> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl<T: Zeroize> serde::Serialize for Secret<T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(REDACTED)
    }
}

impl<T: Zeroize> Drop for Secret<T> {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn debug_and_json_never_show_the_value(value in "\\PC{4,64}") {
            let s = Secret::new(value.clone());
            let debug = format!("{s:?} {:#?}", Some(&s));
            let json = serde_json::to_string(&s).unwrap();
            prop_assert!(!debug.contains(&value));
            prop_assert!(!json.contains(&value));
            prop_assert_eq!(json, format!("\"{REDACTED}\""));
            prop_assert_eq!(s.expose(), &value);
        }
    }

    #[test]
    fn bytes_are_redacted_too() {
        let s = Secret::new(vec![0x30u8, 0x82, 0x01]);
        assert_eq!(format!("{s:?}"), REDACTED);
    }
}
