//! The bits of systemd syntax the host plan writes.

/// One `Environment=` line setting `name` to `value` exactly.
///
/// systemd first expands specifiers (`%n`, `%h`, ...) in the whole value, then
/// splits it into words, honouring double quotes and C escapes inside them
/// (systemd.exec(5), systemd.syntax(7)). So: `%` → `%%`, and the assignment is
/// wrapped in double quotes with `\` and `"` escaped. A percent-encoded proxy
/// password (`p%40ss`) is the case that matters.
pub fn environment_line(name: &str, value: &str) -> String {
    let mut quoted = String::with_capacity(name.len() + value.len() + 16);
    for c in name
        .chars()
        .chain(std::iter::once('='))
        .chain(value.chars())
    {
        match c {
            '%' => quoted.push_str("%%"),
            '\\' => quoted.push_str("\\\\"),
            '"' => quoted.push_str("\\\""),
            c => quoted.push(c),
        }
    }
    format!("Environment=\"{quoted}\"")
}

/// A service unit name as systemd accepts it (systemd.unit(5)): at most 255
/// characters of `[A-Za-z0-9:_.\@-]`, ending in `.service` (only services take
/// `Environment=`). The name lands in a path, so `/` and `..` never pass.
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
