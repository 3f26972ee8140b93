//! Merging the appliance's own name into an existing `/etc/hosts`.
//!
//! The line ovaboot writes ends in the comment [`HOSTS_MARKER`] (hosts(5):
//! text from `#` to the end of the line is a comment; glibc, musl,
//! systemd-resolved and Go all cut the line there). Every line that carries
//! the marker is ovaboot's own from an earlier run and is dropped, whatever
//! names it maps: a renamed host loses its old mapping. Every other line that
//! does not name the appliance is kept byte for byte (comments, IPv6 lines,
//! the admin's own entries). Earlier unmarked mappings of the same names
//! (the admin's, or ovaboot's before it marked its line), and a previous
//! `127.0.1.1` line (Debian's slot for the host's own name, which in an image
//! still holds the build-time name), are replaced too. The new line takes the
//! place of the first line replaced. Planning over the result gives the same
//! file.

/// The loopback address Debian maps the host name to when it has no fixed address.
pub const DEBIAN_HOSTNAME_ADDRESS: &str = "127.0.1.1";

/// The comment that ends the line ovaboot writes (and only that line): on a
/// rerun, a line whose whole comment is this is ovaboot's and is replaced.
pub const HOSTS_MARKER: &str = "# ovaboot";

/// `existing` with `address` mapped to `fqdn` and `short` (see the module doc).
pub fn merge_hosts(existing: &str, address: &str, fqdn: &str, short: &str) -> String {
    // Never take `localhost` away from the loopback line, whatever the host is called.
    let mut names: Vec<&str> = vec![fqdn];
    if short != fqdn {
        names.push(short);
    }
    names.retain(|n| !n.eq_ignore_ascii_case("localhost"));
    let ours = |n: &str| names.iter().any(|m| m.eq_ignore_ascii_case(n));
    let our_line = format!("{address}\t{}\t{HOSTS_MARKER}", names.join("\t"));

    let mut out: Vec<String> = Vec::new();
    let mut insert_at: Option<usize> = None;
    let mut has_localhost = false;
    for line in existing.lines() {
        let (content, comment) = match line.find('#') {
            Some(i) => line.split_at(i),
            None => (line, ""),
        };
        // An entry with our marker (a bare `# ovaboot` comment line is not ours).
        if comment.trim_end() == HOSTS_MARKER && !content.trim().is_empty() {
            insert_at.get_or_insert(out.len());
            continue;
        }
        let mut tokens = content.split_whitespace();
        let Some(ip) = tokens.next() else {
            out.push(line.to_string());
            continue;
        };
        let hostnames: Vec<&str> = tokens.collect();
        if ip == "127.0.0.1" && hostnames.contains(&"localhost") {
            has_localhost = true;
        }
        if ip == DEBIAN_HOSTNAME_ADDRESS {
            insert_at.get_or_insert(out.len());
            continue;
        }
        let kept: Vec<&str> = hostnames.iter().copied().filter(|n| !ours(n)).collect();
        if kept.len() == hostnames.len() {
            out.push(line.to_string());
        } else if kept.is_empty() {
            insert_at.get_or_insert(out.len());
        } else {
            // Other names stay on their line; ours move to our line just below it.
            let comment = if comment.is_empty() {
                String::new()
            } else {
                format!(" {comment}")
            };
            out.push(format!("{ip}\t{}{comment}", kept.join(" ")));
            insert_at.get_or_insert(out.len());
        }
    }

    if !has_localhost {
        // Before the first entry, after any leading comment block.
        let first_entry = out
            .iter()
            .position(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
            .unwrap_or(out.len());
        out.insert(first_entry, "127.0.0.1\tlocalhost".to_string());
        insert_at = insert_at.map(|i| if i >= first_entry { i + 1 } else { i });
    }
    let at = insert_at.unwrap_or_else(|| {
        out.iter()
            .position(|l| is_localhost_line(l))
            .map_or(out.len(), |i| i + 1)
    });
    out.insert(at, our_line);

    let mut text = out.join("\n");
    text.push('\n');
    text
}

fn is_localhost_line(line: &str) -> bool {
    let content = line.split('#').next().unwrap_or_default();
    let mut tokens = content.split_whitespace();
    tokens.next() == Some("127.0.0.1") && tokens.any(|n| n == "localhost")
}
