//! The endpoint login as the auth server reads it: one htpasswd line,
//! `user:$2y$<cost>$<salt and hash>`, bcrypt over the password.
//!
//! Why `$2y$` rather than the `$2b$` the bcrypt crate writes by default: it
//! is what Apache's `htpasswd -B` writes, so every htpasswd reader knows it.
//! The auth server matches lines with `github.com/tg123/go-htpasswd`, whose
//! `AcceptBcrypt` (`bcrypt.go`, v1.0.0 to v1.2.5) recognises `$2y$`, `$2a$`,
//! `$2b$` and `$2x$`; a line no parser recognises falls through to
//! `AcceptPlain` and would be taken as a plaintext password equal to the
//! line itself (tests/controlplane/htpasswd checks it is not). `$2y$` and
//! `$2b$` name the same algorithm (`$2y$` is crypt_blowfish's name for the
//! fixed one), and `golang.org/x/crypto/bcrypt` compares either.
//!
//! Idempotent: a line an earlier run kept (a 0600 file on the host) is
//! reused when it is for the same user, of the configured cost and still
//! verifies the password, so a re-apply sends the same Secret and changes
//! nothing; a new password or user name, or another cost, gets a new salt.

use std::fmt;

use crate::secret::Secret;

/// The htpasswd line for one user. `Debug` shows the user only.
#[derive(Clone, PartialEq, Eq)]
pub struct HtpasswdLine(Secret<String>);

impl fmt::Debug for HtpasswdLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HtpasswdLine({}:<redacted>)", self.user())
    }
}

/// Why no line could be made (the random source failed); never the password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{property}: hashing failed: {reason}", property = crate::settings::endpoint::KEY_ENDPOINT_PASSWORD)]
pub struct HashError {
    reason: String,
}

/// Whether a kept line was reused, and if not, why (for the log and plan.json).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LineSource {
    /// The kept line verifies the password: reused, same salt.
    Kept,
    /// None was kept.
    New,
    /// One was kept but is for another user, of another cost, or does not
    /// verify the password (it changed).
    Replaced,
}

impl HtpasswdLine {
    /// The line (`user:$2y$…`), without a line end.
    pub fn expose(&self) -> &str {
        self.0.expose()
    }

    /// The user name before the first `:`.
    pub fn user(&self) -> &str {
        self.0.expose().split(':').next().unwrap_or("")
    }

    /// The hash after the first `:`.
    fn hash(&self) -> &str {
        self.0.expose().split_once(':').map_or("", |(_, h)| h)
    }

    /// A line read back from the host (its text, one line, a line end allowed).
    pub fn from_kept(text: &str) -> Option<HtpasswdLine> {
        let line = text.strip_suffix('\n').unwrap_or(text);
        (!line.contains('\n') && line.contains(":$2y$"))
            .then(|| HtpasswdLine(Secret::new(line.to_owned())))
    }

    /// Whether this line is for `user`, of `cost`, and verifies `password`.
    pub fn verifies(&self, user: &str, password: &Secret<String>, cost: u32) -> bool {
        let hash = self.hash();
        self.user() == user
            && bcrypt_cost(hash) == Some(cost)
            && bcrypt::verify(password.expose(), hash).unwrap_or(false)
    }
}

/// The cost field of a `$2y$NN$…` hash.
fn bcrypt_cost(hash: &str) -> Option<u32> {
    hash.strip_prefix("$2y$")?.get(..2)?.parse().ok()
}

/// The line for `user` and `password`: `kept` when it still verifies, else a
/// new hash of `cost` with a salt from the OS's random source.
pub fn line(
    user: &str,
    password: &Secret<String>,
    cost: u32,
    kept: Option<&HtpasswdLine>,
) -> Result<(HtpasswdLine, LineSource), HashError> {
    let source = match kept {
        Some(kept) if kept.verifies(user, password, cost) => {
            return Ok((kept.clone(), LineSource::Kept));
        }
        Some(_) => LineSource::Replaced,
        None => LineSource::New,
    };
    let mut salt = [0u8; 16];
    aws_lc_rs::rand::fill(&mut salt).map_err(|_| HashError {
        reason: "the random source failed".to_owned(),
    })?;
    let parts = bcrypt::hash_with_salt(password.expose(), cost, salt).map_err(|e| HashError {
        reason: e.to_string(),
    })?;
    let hash = parts.format_for_version(bcrypt::Version::TwoY);
    Ok((HtpasswdLine(Secret::new(format!("{user}:{hash}"))), source))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pw(s: &str) -> Secret<String> {
        Secret::new(s.to_owned())
    }

    #[test]
    fn a_new_line_is_a_2y_bcrypt_hash_of_the_cost_that_verifies() {
        let (line, source) = line("admin", &pw("correct horse battery"), 10, None).unwrap();
        assert_eq!(source, LineSource::New);
        let text = line.expose();
        assert!(text.starts_with("admin:$2y$10$"), "{text}");
        assert_eq!(text.len(), "admin:".len() + 60);
        assert!(!text.contains("correct horse"));
        assert!(line.verifies("admin", &pw("correct horse battery"), 10));
        assert!(!line.verifies("admin", &pw("correct horse batterY"), 10));
        assert!(!line.verifies("root", &pw("correct horse battery"), 10));
        assert!(!line.verifies("admin", &pw("correct horse battery"), 11));
        assert_eq!(format!("{line:?}"), "HtpasswdLine(admin:<redacted>)");
    }

    #[test]
    fn a_kept_line_is_reused_while_it_verifies_and_replaced_after() {
        let (first, _) = line("admin", &pw("correct horse battery"), 10, None).unwrap();
        let kept = HtpasswdLine::from_kept(&format!("{}\n", first.expose())).unwrap();
        let (again, source) = line("admin", &pw("correct horse battery"), 10, Some(&kept)).unwrap();
        assert_eq!((again.expose(), source), (first.expose(), LineSource::Kept));
        for (user, password, cost) in [
            ("admin", "another password", 10),
            ("ops", "correct horse battery", 10),
            ("admin", "correct horse battery", 11),
        ] {
            let (new, source) = line(user, &pw(password), cost, Some(&kept)).unwrap();
            assert_eq!(source, LineSource::Replaced);
            assert_ne!(new.expose(), first.expose());
            assert!(new.verifies(user, &pw(password), cost));
        }
    }

    #[test]
    fn what_is_not_one_bcrypt_line_is_not_kept() {
        assert!(HtpasswdLine::from_kept("admin:plaintext").is_none());
        assert!(HtpasswdLine::from_kept("admin:$2b$10$abc").is_none());
        assert!(HtpasswdLine::from_kept("a:$2y$10$x\nb:$2y$10$y").is_none());
        let odd = HtpasswdLine::from_kept("admin:$2y$1x$garbage").unwrap();
        assert!(!odd.verifies("admin", &pw("x"), 10));
    }
}
