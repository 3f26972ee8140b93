//! What must hold of the files ovaboot writes: right after a cut, each file
//! whole (the old one or the new one, never empty, cut short or mixed); after
//! the next boot, each holding the final values, the pair matching.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::cli_support::{assert_key_matches_cert, openssl, openssl_fingerprint, pem_blocks_der};
use crate::vm_support::appliance::{GATEWAY, IP, RECORD, TLS_CERT, TLS_KEY};

pub const HOSTNAME: &str = "etc/hostname";
pub const HOSTS: &str = "etc/hosts";
pub const NETWORK: &str = "etc/systemd/network/10-ovaboot.network";
pub const TIMESYNCD: &str = "etc/systemd/timesyncd.conf.d/ovaboot.conf";
pub const PROXY_ENV: &str = "etc/ovaboot/proxy.env";
pub const SHADOW: &str = "etc/shadow";
pub const AUTHORIZED_KEYS: &str = "root/.ssh/authorized_keys";
pub const BANNER: &str = "etc/issue.d/ovaboot.issue";
/// The image's own host name, before ovaboot sets one.
const IMAGE_HOSTNAME: &str = "appliance";

/// The files a boot or a cut left (`vm.sh`'s `DIR/disk`): copies of what
/// ovaboot writes, and their modes, owners and digests.
pub struct Disk {
    files: PathBuf,
    /// path -> "mode uid gid mtime sha256"
    pub stat: BTreeMap<String, String>,
}

impl Disk {
    pub fn read(dir: &Path) -> Disk {
        let stat = std::fs::read_to_string(dir.join("stat.txt"))
            .unwrap_or_else(|e| panic!("{}: {e}", dir.join("stat.txt").display()))
            .lines()
            .filter_map(|l| l.split_once(' '))
            .map(|(path, rest)| (path.to_owned(), rest.to_owned()))
            .collect();
        Disk {
            files: dir.join("files"),
            stat,
        }
    }

    pub fn file(&self, path: &str) -> Option<String> {
        std::fs::read_to_string(self.files.join(path)).ok()
    }

    fn required(&self, path: &str) -> String {
        self.file(path)
            .unwrap_or_else(|| panic!("no {path}; the disk has {:?}", self.stat.keys()))
    }

    /// "mode uid gid" of `path`.
    pub fn owner_and_mode(&self, path: &str) -> String {
        let line = self
            .stat
            .get(path)
            .unwrap_or_else(|| panic!("no {path} in stat.txt"));
        line.splitn(4, ' ').take(3).collect::<Vec<_>>().join(" ")
    }

    /// The mtime of `path` (seconds since the epoch, the guest's clock).
    pub fn mtime(&self, path: &str) -> i64 {
        self.stat[path].split(' ').nth(3).unwrap().parse().unwrap()
    }
}

/// The files `boot` left.
pub fn disk_of(boot: &crate::vm_support::Boot) -> Disk {
    Disk::read(&boot.dir.join("disk"))
}

/// The values one OVF environment asks for.
#[derive(Clone)]
pub struct Expected {
    pub fqdn: String,
    pub root_password: String,
    pub ssh_keys: Vec<String>,
    pub ntp: Vec<String>,
    pub dns: Vec<String>,
    pub proxy: String,
    /// The admin's own certificate (leaf PEM) and key; none: self-signed.
    pub admin_tls: Option<(String, String)>,
}

/// Right after a cut: every file ovaboot writes that is there is whole,
/// holding what `before` or what `after` asks for (`before` none: the
/// image's own, as no run of ovaboot wrote it yet).
pub fn assert_each_file_whole(disk: &Disk, before: Option<&Expected>, after: &Expected) {
    let either = |of: &dyn Fn(&Expected) -> String, image: Option<&str>| -> Vec<String> {
        let mut allowed = vec![of(after)];
        match before {
            Some(before) => allowed.push(of(before)),
            None => allowed.extend(image.map(str::to_owned)),
        }
        allowed
    };
    // A staged file the cut left (`.NAME.ovaboot-PID-N.tmp`) is no target:
    // it may be empty or cut short, and the next run removes it.
    for path in disk.stat.keys().filter(|p| !is_staged(p)) {
        let len = std::fs::metadata(disk.files.join(path)).map_or(0, |m| m.len());
        assert!(len > 0, "{path} is empty after the cut");
    }
    if let Some(name) = disk.file(HOSTNAME) {
        let allowed = either(
            &|e| format!("{}\n", e.fqdn),
            Some(&format!("{IMAGE_HOSTNAME}\n")),
        );
        assert!(allowed.contains(&name), "{HOSTNAME}: {name:?}");
    }
    if let Some(ntp) = disk.file(TIMESYNCD) {
        let allowed = either(&|e| e.ntp.join(" "), None);
        assert!(allowed.contains(&ntp_servers(&ntp)), "{TIMESYNCD}:\n{ntp}");
    }
    if let Some(network) = disk.file(NETWORK) {
        let allowed = either(&|e| e.dns.join(" "), None);
        assert!(
            allowed.contains(&dns_servers(&network)),
            "{NETWORK}:\n{network}"
        );
    }
    if let Some(keys) = disk.file(AUTHORIZED_KEYS) {
        let allowed = either(&|e| e.ssh_keys.join("\n"), None);
        assert!(
            allowed.contains(&key_lines(&keys)),
            "{AUTHORIZED_KEYS}:\n{keys}"
        );
    }
    let root = root_hash(&disk.required(SHADOW));
    let verifies = |e: &Expected| hash_verifies(&root, &e.root_password);
    let image_hash = before.is_none() && !root.starts_with("$6$");
    assert!(
        image_hash || verifies(after) || before.is_some_and(verifies),
        "{SHADOW}: root's hash verifies neither password"
    );
    if let Some(key) = disk.file(TLS_KEY) {
        openssl(&["pkey", "-noout"], key.as_bytes());
    }
    if let Some(cert) = disk.file(TLS_CERT) {
        assert!(
            !pem_blocks_der(&cert).is_empty(),
            "{TLS_CERT}: no PEM block"
        );
        openssl(&["x509", "-noout"], cert.as_bytes());
    }
    for (path, _) in disk.stat.iter().filter(|(p, _)| p.ends_with(".json")) {
        json_object(disk, path);
    }
}

/// After the next boot: every file holds what `expected` asks for, whole,
/// with its mode; the TLS pair matches; the records parse; no staged file
/// is left over.
pub fn assert_files_final(disk: &Disk, e: &Expected) {
    assert_eq!(disk.required(HOSTNAME), format!("{}\n", e.fqdn));
    let hosts = disk.required(HOSTS);
    let lines: Vec<Vec<&str>> = hosts
        .lines()
        .filter(|l| l.starts_with(IP))
        .map(|l| l.split_whitespace().collect())
        .collect();
    let short = e.fqdn.split('.').next().unwrap();
    assert!(
        lines.len() == 1 && lines[0].get(1..3) == Some(&[e.fqdn.as_str(), short][..]),
        "{HOSTS}:\n{hosts}"
    );
    let network = disk.required(NETWORK);
    assert!(
        network.contains(&format!("Address={IP}/24\n"))
            && network.contains(&format!("Gateway={GATEWAY}\n"))
            && dns_servers(&network) == e.dns.join(" "),
        "{NETWORK}:\n{network}"
    );
    assert_eq!(ntp_servers(&disk.required(TIMESYNCD)), e.ntp.join(" "));
    let proxy = disk.required(PROXY_ENV);
    assert!(
        proxy.contains(&format!("https_proxy=\"{}\"\n", e.proxy)),
        "{PROXY_ENV} does not hold the proxy URL"
    );
    assert_eq!(disk.owner_and_mode(PROXY_ENV), "600 0 0");
    assert_eq!(disk.owner_and_mode(SHADOW), "640 0 42");
    let root = root_hash(&disk.required(SHADOW));
    assert!(
        hash_verifies(&root, &e.root_password),
        "{SHADOW}: root's hash does not verify the final password"
    );
    assert_eq!(
        key_lines(&disk.required(AUTHORIZED_KEYS)),
        e.ssh_keys.join("\n")
    );
    assert_eq!(disk.owner_and_mode(AUTHORIZED_KEYS), "600 0 0");
    let fingerprint = assert_tls_final(disk, e);
    let banner = disk.required(BANNER);
    assert!(
        banner.contains(&fingerprint) && banner.contains(&format!("https://{}/", e.fqdn)),
        "{BANNER}:\n{banner}"
    );
    for (path, _) in disk.stat.iter().filter(|(p, _)| p.ends_with(".json")) {
        json_object(disk, path);
    }
    let record = json_object(disk, RECORD);
    assert_eq!(record["hostname"], e.fqdn.as_str(), "{record}");
    let leftovers: Vec<&String> = disk
        .stat
        .keys()
        .filter(|p| p.contains(".ovaboot-"))
        .collect();
    assert!(
        leftovers.is_empty(),
        "staged files left over: {leftovers:?}"
    );
}

/// The TLS pair: the key the certificate's, 0600; the admin's own when
/// given, else a certificate for the FQDN. Returns its fingerprint.
fn assert_tls_final(disk: &Disk, e: &Expected) -> String {
    let cert = disk.required(TLS_CERT);
    let key = disk.required(TLS_KEY);
    assert_key_matches_cert(key.as_bytes(), cert.as_bytes());
    assert_eq!(disk.owner_and_mode(TLS_KEY), "600 0 0");
    let fingerprint = openssl_fingerprint(cert.as_bytes());
    match &e.admin_tls {
        Some((leaf, admin_key)) => {
            assert_eq!(
                fingerprint,
                openssl_fingerprint(leaf.as_bytes()),
                "not the admin's certificate"
            );
            assert!(&key == admin_key, "{TLS_KEY} is not the admin's key");
        }
        None => {
            let sans = openssl(
                &["x509", "-noout", "-ext", "subjectAltName"],
                cert.as_bytes(),
            );
            assert!(sans.contains(&format!("DNS:{}", e.fqdn)), "{sans}");
        }
    }
    fingerprint
}

/// The record at `path`, parsed: a JSON object.
pub fn json_object(disk: &Disk, path: &str) -> serde_json::Value {
    let text = disk.required(path);
    let value: serde_json::Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{path} does not parse: {e}:\n{text}"));
    assert!(value.is_object(), "{path}: {value}");
    value
}

/// Whether `path` is a file ovaboot stages before renaming it over its target.
fn is_staged(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    name.starts_with('.') && name.contains(".ovaboot-") && name.ends_with(".tmp")
}

fn ntp_servers(timesyncd: &str) -> String {
    let lines: Vec<&str> = timesyncd
        .lines()
        .filter_map(|l| l.strip_prefix("NTP="))
        .collect();
    assert_eq!(lines.len(), 1, "{TIMESYNCD}:\n{timesyncd}");
    lines[0].to_owned()
}

fn dns_servers(network: &str) -> String {
    let servers: Vec<&str> = network
        .lines()
        .filter_map(|l| l.strip_prefix("DNS="))
        .collect();
    servers.join(" ")
}

fn key_lines(keys: &str) -> String {
    keys.lines()
        .filter(|l| !l.trim().is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Root's password field in `shadow`, which must have exactly one root line
/// and nine fields on every line.
fn root_hash(shadow: &str) -> String {
    for line in shadow.lines() {
        assert_eq!(line.split(':').count(), 9, "{SHADOW}: a line cut short");
    }
    let roots: Vec<&str> = shadow.lines().filter(|l| l.starts_with("root:")).collect();
    assert_eq!(roots.len(), 1, "{SHADOW}: {} root lines", roots.len());
    roots[0].split(':').nth(1).unwrap().to_owned()
}

/// Whether the SHA-512-crypt `hash` verifies `password`, as the system's
/// crypt would: `openssl passwd -6` with the hash's salt (and rounds).
pub fn hash_verifies(hash: &str, password: &str) -> bool {
    let Some(rest) = hash.strip_prefix("$6$") else {
        return false;
    };
    let Some((salt, _)) = rest.rsplit_once('$') else {
        return false;
    };
    let mut child = Command::new("openssl")
        .args(["passwd", "-6", "-salt", salt, "-stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("openssl runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(password.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "openssl passwd failed");
    String::from_utf8_lossy(&out.stdout).trim() == hash
}

#[test]
fn a_sha512_crypt_hash_verifies_its_password_only() {
    // As `openssl passwd -6 -salt 'rounds=1000$abcdefgh' pw` and Debian's crypt(3) make it.
    let hash = "$6$rounds=1000$abcdefgh$XqwJcW6OI747PCzoKGoK/1tWSlKoh2vkjEp0I.CpQYUGXuxtpSzAi0rXpF1oWR/3/HfvxKLb7xwD0vymBsSv8/";
    assert!(hash_verifies(hash, "pw"));
    assert!(!hash_verifies(hash, "pw2"));
    assert!(!hash_verifies("*", "pw"));
}
