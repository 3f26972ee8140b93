//! `guestinfo.root_password` and `guestinfo.ssh_authorized_keys` through
//! `firstboot --phase host` and `render` on a scratch root: the files, their
//! modes and owners, idempotence, refusals, and the password never shown.

mod cli_support;

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use cli_support::{environment, mode, text};
use sha_crypt::{PasswordVerifier, ShaCrypt};

const PASSWORD: &str = "Tr0ub4dor&3-staple-battery";
const SHADOW: &str = "root:*:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\nadmin:$y$j9T$abc$def:19001:0:99999:7:::\n";
const ED25519: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPm/PDBMxUaztCmCll//2zd74V8Kw5/e6UlpeTFku7BF admin@example.com";
const ECDSA: &str = "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBGJRZcjTxUnlgXNahUAgKfDwRrdLjj7Ktgi9XIJsAl4yf1qQJBSfwldQjB/Uq/8WSgmcAJQ1eix9Fhje7Os+riQ=";
/// One byte more than Debian's crypt() can verify.
static TOO_LONG: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| "Lp".repeat(256));
/// Group `shadow` on Debian.
const SHADOW_GID: u32 = 42;

/// A root with Debian's `/etc/shadow` (0640, group shadow when we may set it)
/// and an `/etc/passwd` naming root's home. Whether the group was set.
fn prepared_root(root: &Path) -> bool {
    std::fs::create_dir_all(root.join("etc")).unwrap();
    std::fs::write(
        root.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n",
    )
    .unwrap();
    let shadow = root.join("etc/shadow");
    std::fs::write(&shadow, SHADOW).unwrap();
    std::fs::set_permissions(&shadow, std::os::unix::fs::PermissionsExt::from_mode(0o640)).unwrap();
    std::os::unix::fs::chown(&shadow, None, Some(SHADOW_GID)).is_ok()
}

fn host_phase(root: &Path, env: &str) -> std::process::Output {
    cli_support::firstboot_host(root, env)
}

fn assert_no_password(what: &str, bytes: &[u8]) {
    assert!(
        !String::from_utf8_lossy(bytes).contains(PASSWORD),
        "{what} holds the password"
    );
}

#[test]
fn the_host_phase_sets_roots_password_and_keys_and_a_rerun_changes_nothing() {
    let root = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let group_set = prepared_root(root.path());
    let keys = format!("{ED25519}\n{ECDSA}");
    let env = environment(
        work.path(),
        &[
            ("guestinfo.root_password", PASSWORD),
            ("guestinfo.ssh_authorized_keys", &keys),
        ],
    );
    let out = host_phase(root.path(), &env);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_no_password("stdout", &out.stdout);
    assert_no_password("stderr", &out.stderr);

    let shadow_path = root.path().join("etc/shadow");
    let shadow = std::fs::read_to_string(&shadow_path).unwrap();
    assert_no_password("/etc/shadow", shadow.as_bytes());
    let lines: Vec<&str> = shadow.lines().collect();
    assert_eq!(&lines[1..], &SHADOW.lines().skip(1).collect::<Vec<_>>()[..]);
    let hash = lines[0].split(':').nth(1).unwrap();
    assert!(hash.starts_with("$6$"), "{hash}");
    ShaCrypt::default()
        .verify_password(PASSWORD.as_bytes(), hash)
        .expect("root's hash verifies the password");
    assert_eq!(mode(&shadow_path), 0o640);
    if group_set {
        assert_eq!(std::fs::metadata(&shadow_path).unwrap().gid(), SHADOW_GID);
    } else {
        eprintln!("group not checked: setting group shadow needs root");
    }

    let authorized = root.path().join("root/.ssh/authorized_keys");
    assert_eq!(
        std::fs::read_to_string(&authorized).unwrap(),
        format!("{ED25519}\n{ECDSA}\n")
    );
    assert_eq!(mode(&authorized), 0o600);
    assert_eq!(mode(&root.path().join("root/.ssh")), 0o700);

    // The same password again: verified, not re-hashed with a new salt.
    let inode = std::fs::metadata(&shadow_path).unwrap().ino();
    let again = host_phase(root.path(), &env);
    assert!(again.status.success(), "{}", text(&again.stderr));
    assert_no_password("stderr", &again.stderr);
    assert_eq!(std::fs::read_to_string(&shadow_path).unwrap(), shadow);
    assert_eq!(
        std::fs::metadata(&shadow_path).unwrap().ino(),
        inode,
        "not rewritten"
    );
}

#[test]
fn blank_credentials_leave_the_account_as_the_image_has_it() {
    let root = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    prepared_root(root.path());
    let env = environment(
        work.path(),
        &[
            ("guestinfo.root_password", ""),
            ("guestinfo.ssh_authorized_keys", " "),
        ],
    );
    let out = host_phase(root.path(), &env);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        std::fs::read_to_string(root.path().join("etc/shadow")).unwrap(),
        SHADOW
    );
    assert!(!root.path().join("root").exists());
}

#[test]
fn render_shows_the_hash_only_in_a_shadow_file_nobody_else_can_read() {
    let root = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    prepared_root(root.path());
    let env = environment(work.path(), &[("guestinfo.root_password", PASSWORD)]);
    let rendered = cli_support::render(&["--ovf-env", &env], root.path().to_str().unwrap());
    assert_no_password("stdout", rendered.stdout.as_bytes());
    assert_no_password("stderr", rendered.stderr.as_bytes());
    for file in cli_support::files_under(&rendered.dir) {
        assert_no_password(&file.display().to_string(), &std::fs::read(&file).unwrap());
    }
    let plan = rendered.plan();
    assert_eq!(plan["credentials"]["root_password"], true);
    assert_eq!(plan["credentials"]["ssh_authorized_keys"], 0);
    let shadow = rendered.path("rootfs/etc/shadow");
    assert_eq!(mode(&shadow), 0o640, "not world-readable");
    assert!(rendered.read("rootfs/etc/shadow").starts_with("root:$6$"));
}

#[test]
fn a_short_password_or_a_bad_key_is_refused_naming_it_and_nothing_is_written() {
    let work = tempfile::tempdir().unwrap();
    let cases = [
        (
            ("guestinfo.root_password", "tooShort1"),
            "guestinfo.root_password: is 9 characters long; at least 12 are required ([credentials] min_password_length)",
        ),
        (
            (
                "guestinfo.ssh_authorized_keys",
                "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPm/PDBMxUaztCmCll//2zd74V8Kw5/e6UlpeTFku7BF a,ssh-rsa AAAAnotakey b",
            ),
            "guestinfo.ssh_authorized_keys: key 2 is not an OpenSSH public key",
        ),
        (
            ("guestinfo.root_password", TOO_LONG.as_str()),
            "guestinfo.root_password: is 512 bytes long; SHA-512-crypt takes at most 511",
        ),
    ];
    for ((key, value), says) in cases {
        let root = tempfile::tempdir().unwrap();
        prepared_root(root.path());
        let env = environment(work.path(), &[(key, value)]);
        let out = host_phase(root.path(), &env);
        assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
        let stderr = text(&out.stderr);
        let last = stderr.lines().last().unwrap();
        assert!(last.contains(says), "{stderr}");
        assert!(
            !stderr.contains(value),
            "the value is never quoted: {stderr}"
        );
        assert_eq!(
            std::fs::read_to_string(root.path().join("etc/shadow")).unwrap(),
            SHADOW
        );
        assert!(
            !root.path().join("etc/hostname").exists(),
            "nothing written"
        );
    }
}

#[test]
fn props_shows_the_password_redacted_and_refuses_a_short_one() {
    let work = tempfile::tempdir().unwrap();
    let env = environment(
        work.path(),
        &[
            ("guestinfo.root_password", PASSWORD),
            ("guestinfo.ssh_authorized_keys", ED25519),
        ],
    );
    let out = cli_support::ovaboot(&["props", "--json", "--ovf-env", &env]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_no_password("stdout", &out.stdout);
    assert_no_password("stderr", &out.stderr);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["properties"]["guestinfo.root_password"], "<redacted>");
    assert_eq!(json["properties"]["guestinfo.ssh_authorized_keys"], ED25519);

    let short = environment(work.path(), &[("guestinfo.root_password", "tooShort1")]);
    let out = cli_support::ovaboot(&["props", "--ovf-env", &short]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("guestinfo.root_password: is 9 characters long"),
        "{stderr}"
    );
    assert!(!stderr.contains("tooShort1"), "{stderr}");
}

/// The longest password ovaboot accepts is one the system's own crypt()
/// (libxcrypt, what PAM and sshd call) verifies against the hash written.
#[test]
fn the_longest_password_accepted_verifies_with_the_systems_crypt() {
    let root = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    prepared_root(root.path());
    let longest = "Lp".repeat(255) + "L";
    assert_eq!(longest.len(), 511);
    let env = environment(work.path(), &[("guestinfo.root_password", &longest)]);
    let out = host_phase(root.path(), &env);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let shadow = std::fs::read_to_string(root.path().join("etc/shadow")).unwrap();
    let hash = shadow.lines().next().unwrap().split(':').nth(1).unwrap();
    assert_eq!(system_crypt(&longest, hash), hash);
    // And the system's crypt() cannot verify one byte more (what the refusal is for).
    assert_eq!(system_crypt(&format!("{longest}L"), hash), "*0");
}

/// crypt(3) of libcrypt.so.1 on `password` with `setting`, through python3's
/// ctypes (its `crypt` module is gone from Python 3.13).
fn system_crypt(password: &str, setting: &str) -> String {
    use std::io::Write as _;
    const SCRIPT: &str = "import ctypes, sys\n\
        lib = ctypes.CDLL('libcrypt.so.1')\n\
        lib.crypt.restype = ctypes.c_char_p\n\
        lib.crypt.argtypes = [ctypes.c_char_p, ctypes.c_char_p]\n\
        password, setting = sys.stdin.buffer.read().split(b'\\n')[:2]\n\
        out = lib.crypt(password, setting)\n\
        sys.stdout.write(out.decode() if out else '(null)')\n";
    let mut child = std::process::Command::new("python3")
        .args(["-c", SCRIPT])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3 runs (it calls the system's crypt() through ctypes)");
    let mut stdin = child.stdin.take().unwrap();
    stdin
        .write_all(format!("{password}\n{setting}\n").as_bytes())
        .unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "python3 calling crypt() failed");
    String::from_utf8(out.stdout).unwrap()
}
