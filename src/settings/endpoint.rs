//! The login of the appliance's HTTP endpoints: `guestinfo.endpoint_username`
//! (default `admin`) and `guestinfo.endpoint_password` (password-typed, kept
//! secret from here on). The auth server checks them with HTTP basic
//! authentication (`crate::auth`); the password's length rule is the agent
//! config's, so it is checked when planning.

use crate::ovf::Properties;
use crate::secret::{BCRYPT, Secret, check_hashable};

use super::{Problem, SettingsError, given};

/// The user name the admin logs in with.
pub const KEY_ENDPOINT_USERNAME: &str = "guestinfo.endpoint_username";
/// The password; password-typed in the descriptor, secret by its name anyway.
pub const KEY_ENDPOINT_PASSWORD: &str = "guestinfo.endpoint_password";
/// The user name when the property is blank.
pub const DEFAULT_USERNAME: &str = "admin";
/// The longest user name, in characters.
pub const MAX_USERNAME_CHARS: usize = 64;

/// What the admin asked for.
#[derive(Debug, Clone)]
pub struct EndpointLogin {
    pub username: String,
    /// `None`: no password given (refused later if a route is protected).
    pub password: Option<Secret<String>>,
}

impl Default for EndpointLogin {
    fn default() -> Self {
        EndpointLogin {
            username: DEFAULT_USERNAME.to_owned(),
            password: None,
        }
    }
}

impl EndpointLogin {
    pub fn from_properties(props: &Properties) -> Result<EndpointLogin, SettingsError> {
        let username = match given(props, KEY_ENDPOINT_USERNAME) {
            Some(value) => {
                let value = value.expose().trim();
                check_username(value)?;
                value.to_owned()
            }
            None => DEFAULT_USERNAME.to_owned(),
        };
        let password = given(props, KEY_ENDPOINT_PASSWORD)
            .map(|v| Secret::new(v.expose().trim_end_matches(['\r', '\n']).to_owned()));
        if let Some(password) = &password {
            check_password(password.expose())?;
        }
        Ok(EndpointLogin { username, password })
    }
}

/// 1 to 64 printable characters, none of them `:` (the htpasswd and basic
/// authentication separator) or white space. Never quoted: a password pasted
/// into the wrong field must not reach a log.
fn check_username(value: &str) -> Result<(), SettingsError> {
    let refuse = |why: String| SettingsError::new(KEY_ENDPOINT_USERNAME, Problem::Invalid(why));
    let count = value.chars().count();
    if count > MAX_USERNAME_CHARS {
        return Err(refuse(format!(
            "is {count} characters long; at most {MAX_USERNAME_CHARS} are allowed"
        )));
    }
    if let Some(position) = value.chars().position(|c| c == ':') {
        return Err(refuse(format!(
            "character {} is a ':', which separates the user name from the password in basic authentication",
            position + 1
        )));
    }
    if let Some(position) = value.chars().position(char::is_whitespace) {
        return Err(refuse(format!(
            "character {} is white space; a user name is one word",
            position + 1
        )));
    }
    if let Some(position) = value.chars().position(crate::show::is_unsafe) {
        return Err(refuse(format!(
            "character {} is a control or formatting character; use printable characters only",
            position + 1
        )));
    }
    Ok(())
}

/// No line break inside (the htpasswd file is one line per user) and what
/// bcrypt can hash: at most 72 bytes, no NUL. Checked here, before any
/// hashing; the length rule of `[credentials]` is the plan's.
fn check_password(value: &str) -> Result<(), SettingsError> {
    check_hashable(KEY_ENDPOINT_PASSWORD, value, &BCRYPT)?;
    if value.chars().any(is_line_break) {
        return Err(SettingsError::new(
            KEY_ENDPOINT_PASSWORD,
            Problem::Invalid("holds a line break; the password is one line".to_owned()),
        ));
    }
    Ok(())
}

fn is_line_break(c: char) -> bool {
    matches!(
        c,
        '\n' | '\r' | '\u{85}' | '\u{2028}' | '\u{2029}' | '\u{0b}' | '\u{0c}'
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ovf::PropertyValue;

    fn login(pairs: &[(&str, &str)]) -> Result<EndpointLogin, SettingsError> {
        let props: Properties = pairs
            .iter()
            .map(|(k, v)| {
                let value = if k.ends_with("password") {
                    PropertyValue::Secret(Secret::new((*v).to_owned()))
                } else {
                    PropertyValue::Plain((*v).to_owned())
                };
                ((*k).to_owned(), value)
            })
            .collect();
        EndpointLogin::from_properties(&props)
    }

    #[test]
    fn blank_username_is_admin_and_no_password_is_none() {
        let got = login(&[(KEY_ENDPOINT_USERNAME, "  ")]).unwrap();
        assert_eq!(got.username, "admin");
        assert!(got.password.is_none());
    }

    #[test]
    fn a_good_login_is_kept_and_the_password_redacted() {
        let got = login(&[
            (KEY_ENDPOINT_USERNAME, "ops-admin@lab"),
            (KEY_ENDPOINT_PASSWORD, "correct horse battery\n"),
        ])
        .unwrap();
        assert_eq!(got.username, "ops-admin@lab");
        assert_eq!(
            got.password.as_ref().unwrap().expose(),
            "correct horse battery"
        );
        assert!(!format!("{got:?}").contains("horse"));
    }

    #[test]
    fn bad_usernames_are_refused_naming_the_property_never_quoting() {
        for (value, why) in [
            ("ad:min", "character 3 is a ':'"),
            ("ad min", "character 3 is white space"),
            ("ad\u{202e}min", "character 3 is a control"),
            ("ad\u{1b}min", "character 3 is a control"),
        ] {
            let err = login(&[(KEY_ENDPOINT_USERNAME, value)])
                .unwrap_err()
                .to_string();
            assert!(
                err.starts_with("guestinfo.endpoint_username: ") && err.contains(why),
                "{err}"
            );
            assert!(!err.contains("min"), "not quoted: {err}");
        }
        let long = "a".repeat(65);
        let err = login(&[(KEY_ENDPOINT_USERNAME, &long)]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "guestinfo.endpoint_username: is 65 characters long; at most 64 are allowed"
        );
        assert!(login(&[(KEY_ENDPOINT_USERNAME, &"a".repeat(64))]).is_ok());
    }

    #[test]
    fn bad_passwords_are_refused_naming_the_property_never_quoting() {
        for (value, why) in [
            ("secret\nsecret-two", "holds a line break"),
            ("secret\u{2028}secret-two", "holds a line break"),
            ("secret\0secret-two", "holds a NUL character"),
        ] {
            let err = login(&[(KEY_ENDPOINT_PASSWORD, value)])
                .unwrap_err()
                .to_string();
            assert!(
                err.starts_with("guestinfo.endpoint_password: ") && err.contains(why),
                "{err}"
            );
            assert!(!err.contains("secret-two"), "{err}");
        }
        let err = login(&[(KEY_ENDPOINT_PASSWORD, &"p".repeat(73))]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "guestinfo.endpoint_password: is 73 bytes long; bcrypt takes at most 72 (bcrypt ignores every byte after the 72nd)"
        );
        assert!(login(&[(KEY_ENDPOINT_PASSWORD, &"p".repeat(72))]).is_ok());
    }
}
