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

/// A password hashing scheme, for what it cannot hash ([`check_hashable`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashScheme {
    /// As the error says it.
    pub name: &'static str,
    /// The longest password, in bytes, the scheme hashes whole and its
    /// verifier accepts.
    pub max_bytes: usize,
    /// Why a longer one cannot work (for the error).
    pub beyond: &'static str,
}

/// SHA-512-crypt as the system verifies it: Debian's libxcrypt refuses a
/// passphrase of `CRYPT_MAX_PASSPHRASE_SIZE` (512) bytes or more, counting
/// its terminating NUL (`crypt.h`; crypt(3), ERANGE), and returns the
/// failure token `*0`, so a hash made for one never verifies.
pub const SHA512_CRYPT: HashScheme = HashScheme {
    name: "SHA-512-crypt",
    max_bytes: 511,
    beyond: "the system's crypt() refuses longer ones, so the account could never log in",
};

/// bcrypt reads at most 72 bytes of a password: the rest would be ignored.
pub const BCRYPT: HashScheme = HashScheme {
    name: "bcrypt",
    max_bytes: 72,
    beyond: "bcrypt ignores every byte after the 72nd",
};

/// A password a [`HashScheme`] cannot hash: `<property>: <problem>`. Never
/// the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{property}: {problem}")]
pub struct Unhashable {
    pub property: String,
    pub problem: String,
}

/// Refuses, before any slow work, a password that `scheme` cannot hash so
/// that it verifies: longer than its `max_bytes`, or holding a NUL (crypt()
/// and bcrypt read a C string, so it would end there). `property` names it
/// in the error. Hashing time grows with the length, so call this where the
/// value is first read.
pub fn check_hashable(
    property: &str,
    password: &str,
    scheme: &HashScheme,
) -> Result<(), Unhashable> {
    let problem = if password.len() > scheme.max_bytes {
        format!(
            "is {} bytes long; {} takes at most {} ({})",
            password.len(),
            scheme.name,
            scheme.max_bytes,
            scheme.beyond
        )
    } else if password.contains('\0') {
        format!(
            "holds a NUL character, where {} would end the password",
            scheme.name
        )
    } else {
        return Ok(());
    };
    Err(Unhashable {
        property: property.to_owned(),
        problem,
    })
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
    fn a_password_a_scheme_cannot_hash_is_refused_naming_the_property_only() {
        let at_limit = "p".repeat(511);
        assert_eq!(
            check_hashable("guestinfo.x", &at_limit, &SHA512_CRYPT),
            Ok(())
        );
        let over = "p".repeat(512);
        let err = check_hashable("guestinfo.x", &over, &SHA512_CRYPT).unwrap_err();
        assert_eq!(
            err.to_string(),
            "guestinfo.x: is 512 bytes long; SHA-512-crypt takes at most 511 (the system's crypt() refuses longer ones, so the account could never log in)"
        );
        // Bytes, not characters: 37 three-byte characters are 111 bytes.
        let wide = "€".repeat(37);
        assert!(check_hashable("guestinfo.y", &wide, &BCRYPT).is_err());
        let err = check_hashable("guestinfo.y", "pass\0Xyzzy", &BCRYPT).unwrap_err();
        assert_eq!(
            err.to_string(),
            "guestinfo.y: holds a NUL character, where bcrypt would end the password"
        );
        assert!(!err.to_string().contains("Xyzzy"));
    }

    #[test]
    fn bytes_are_redacted_too() {
        let s = Secret::new(vec![0x30u8, 0x82, 0x01]);
        assert_eq!(format!("{s:?}"), REDACTED);
    }
}
