//! The bits of systemd syntax ovaboot writes or checks: environment files,
//! unit names, paths and interface names. Pure.

/// Appends one `NAME="value"` line of an `EnvironmentFile=` to `out`, so that
/// both systemd and a POSIX shell read back `value` exactly.
///
/// In an environment file systemd expands no specifiers (`%` is literal) and no
/// variables; inside double quotes a backslash before any of `"`, `\`, `` ` ``
/// and `$` stands for that character, as in the shell (systemd.exec(5),
/// `EnvironmentFile=`; systemd's own env-file writer quotes the same way). So
/// those four are escaped and nothing else: a percent-encoded proxy password
/// (`p%40ss`) is written as it is. Pushing into `out` (rather than returning a
/// line) keeps a secret value from being copied into short-lived strings.
pub fn push_env_file_line(out: &mut String, name: &str, value: &str) {
    out.push_str(name);
    out.push_str("=\"");
    for c in value.chars() {
        if matches!(c, '"' | '\\' | '`' | '$') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push_str("\"\n");
}

/// A path systemd reads literally in `EnvironmentFile=` and that needs no
/// quoting anywhere: absolute, normalised (no `.`, `..`, `//` or trailing `/`),
/// only `[A-Za-z0-9/._+@-]` (so no `%` specifier, whitespace or quote).
pub fn is_plain_absolute_path(path: &str) -> bool {
    let Some(rest) = path.strip_prefix('/') else {
        return false;
    };
    !rest.is_empty()
        && rest
            .split('/')
            .all(|part| !part.is_empty() && part != "." && part != "..")
        && path
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._+@-".contains(c))
}

/// A service unit name as systemd accepts it (systemd.unit(5)): at most 255
/// characters of `[A-Za-z0-9:_.\@-]`, ending in `.service` (only services take
/// `EnvironmentFile=`). The name lands in a path, so `/` and `..` never pass.
pub fn is_service_unit_name(name: &str) -> bool {
    let Some(stem) = name.strip_suffix(".service") else {
        return false;
    };
    !stem.is_empty()
        && name.len() <= 255
        && !stem.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ":_.\\@-".contains(c))
}

/// A Linux interface name usable as a literal networkd `Name=` match: 1–15
/// bytes (IFNAMSIZ), no glob characters, separators or whitespace.
pub fn is_interface_name(name: &str) -> bool {
    (1..=15).contains(&name.len())
        && name != "."
        && name != ".."
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.@".contains(c))
}
