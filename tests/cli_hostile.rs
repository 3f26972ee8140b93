//! What a careless or hostile admin found (issue #17), each through the
//! built `ovaboot` on a scratch root: one line naming the key or property at
//! fault, the right exit status, and the system exactly as it was.

mod cli_support;

use std::path::Path;
use std::process::Output;

use cli_support::{environment, text};

const PASSWD: &str = "root:x:0:0:root:/root:/bin/bash\n";

/// `firstboot --phase host` on `root` with the config text `config`.
fn host_phase_with_config(root: &Path, env: &str, config: &str) -> Output {
    let config_path = root.with_extension("toml");
    std::fs::write(&config_path, config).unwrap();
    cli_support::firstboot_host_with_config(root, env, config_path.to_str().unwrap())
}

/// The error line: the last of stderr, and the only one saying "error".
fn error_line(out: &Output) -> String {
    let stderr = text(&out.stderr);
    let errors: Vec<&str> = stderr.lines().filter(|l| l.contains("error")).collect();
    assert_eq!(errors.len(), 1, "{stderr}");
    errors[0].to_owned()
}

#[test]
fn a_config_key_naming_a_system_file_is_refused_and_the_file_stays() {
    let work = tempfile::tempdir().unwrap();
    let root = work.path().join("root");
    std::fs::create_dir_all(root.join("etc")).unwrap();
    std::fs::write(root.join("etc/passwd"), PASSWD).unwrap();
    // No proxy property: the proxy file is planned absent, so it would be removed.
    let env = environment(work.path(), &[]);
    let out = host_phase_with_config(&root, &env, "[host]\nproxy_env_file = \"/etc/passwd\"\n");
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let line = error_line(&out);
    assert!(line.contains("host.proxy_env_file: /etc/passwd"), "{line}");
    assert_eq!(
        std::fs::read_to_string(root.join("etc/passwd")).unwrap(),
        PASSWD
    );
    assert!(!root.join("etc/hostname").exists(), "nothing written");
}

/// `ovaboot args` with the manifest `manifest`; its output, or a panic if it
/// has not exited within a minute (it hung on a FIFO). A watchdog for a
/// hang, not a measure of speed.
fn ovaboot_returning(args: &[&str], manifest: &Path) -> Output {
    use std::process::{Command, Stdio};
    let child = Command::new(env!("CARGO_BIN_EXE_ovaboot"))
        .args(args)
        .env_remove("OVABOOT_LOG")
        .env("OVABOOT_CONTOUR_MANIFEST", manifest)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id().to_string();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || tx.send(child.wait_with_output()));
    match rx.recv_timeout(std::time::Duration::from_secs(60)) {
        Ok(out) => out.unwrap(),
        Err(_) => {
            let _ = Command::new("kill").args(["-KILL", &pid]).status();
            panic!("ovaboot {args:?} hung");
        }
    }
}

fn mkfifo(path: &Path) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    nix::unistd::mkfifo(path, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
}

/// A FIFO in place of the config or the Contour manifest, or a symlink to
/// /dev/zero, used to block forever or read until memory ran out.
#[test]
fn a_fifo_or_device_in_place_of_the_config_or_manifest_is_refused_at_once() {
    let work = tempfile::tempdir().unwrap();
    let env = environment(work.path(), &[]);
    let fifo = work.path().join("fifo.toml");
    mkfifo(&fifo);
    let zero = work.path().join("zero.toml");
    std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
    for (config, kind) in [(&fifo, "a FIFO"), (&zero, "a character device")] {
        let config = config.to_str().unwrap();
        let out = ovaboot_returning(
            &["props", "--ovf-env", &env, "--config", config],
            &cli_support::contour_manifest(),
        );
        assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
        let line = error_line(&out);
        assert!(
            line.contains(&format!(
                "cannot read the config {config}: is {kind}, not a regular file"
            )),
            "{line}"
        );
    }
    let manifest = work.path().join("contour.yaml");
    mkfifo(&manifest);
    let out = ovaboot_returning(&["images"], &manifest);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let line = error_line(&out);
    assert!(line.contains("is a FIFO, not a regular file"), "{line}");
}

/// A FIFO in place of a record under /var/lib/ovaboot used to block `status`
/// (and every phase) forever.
#[test]
fn a_fifo_in_place_of_a_record_never_hangs_status() {
    let root = tempfile::tempdir().unwrap();
    for record in ["state.json", "firstboot.json"] {
        let path = root.path().join("var/lib/ovaboot").join(record);
        mkfifo(&path);
        let out = ovaboot_returning(
            &["status", "--root", root.path().to_str().unwrap()],
            &cli_support::contour_manifest(),
        );
        assert!(out.status.code().is_some(), "{record}");
        std::fs::remove_file(&path).unwrap();
    }
}

/// Under --root, a symlinked /etc/shadow pointing outside used to be
/// followed: the outside file's other accounts were copied into the root's
/// shadow, with its mode.
#[test]
fn a_shadow_symlinked_out_of_the_root_is_never_read_nor_copied() {
    use std::os::unix::fs::PermissionsExt;
    let work = tempfile::tempdir().unwrap();
    let outside = work.path().join("outside-shadow");
    let outside_text = "root:*:1::::::\nintruder:$6$outside$hash:1::::::\n";
    std::fs::write(&outside, outside_text).unwrap();
    std::fs::set_permissions(&outside, std::fs::Permissions::from_mode(0o644)).unwrap();
    let root = work.path().join("root");
    std::fs::create_dir_all(root.join("etc")).unwrap();
    std::fs::write(root.join("etc/passwd"), PASSWD).unwrap();
    std::os::unix::fs::symlink(&outside, root.join("etc/shadow")).unwrap();
    let env = environment(
        work.path(),
        &[("guestinfo.root_password", "Tr0ub4dor&3-staple-battery")],
    );
    let out = cli_support::firstboot_host(&root, &env);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let line = error_line(&out);
    assert!(
        line.contains("guestinfo.root_password: cannot be set: /etc/shadow does not exist"),
        "{line}"
    );
    assert_eq!(std::fs::read_to_string(&outside).unwrap(), outside_text);
    assert!(
        std::fs::symlink_metadata(root.join("etc/shadow"))
            .unwrap()
            .file_type()
            .is_symlink(),
        "the root's shadow is as it was"
    );
}

/// A properties.json that is not UTF-8 is damage like any other (documented:
/// every property then counts as changed); it used to stop reconfigure with
/// exit 2.
#[test]
fn a_properties_digest_that_is_not_utf8_counts_as_no_digest() {
    let appliance = cli_support::appliance::Appliance::new();
    let env = appliance.env(
        "a.xml",
        &[
            ("guestinfo.hostname", cli_support::FQDN),
            ("guestinfo.ntp", "ntp.example.net"),
        ],
    );
    appliance.first_boot(&env);
    std::fs::write(
        appliance.root.join("var/lib/ovaboot/properties.json"),
        b"{\"scheme\": \"\xff\xfe\"}\n",
    )
    .unwrap();
    let out = appliance.reconfigure(&env, &["--dry-run"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("properties changed: unknown"),
        "{}",
        text(&out.stdout)
    );
}

/// The host-name refusal quotes the name a record holds: from a tampered
/// completion record, it reaches the terminal, the state file and the banner
/// escaped.
#[test]
fn a_tampered_record_reaches_terminal_state_and_banner_escaped() {
    let appliance = cli_support::appliance::Appliance::new();
    let env = appliance.env("a.xml", &[("guestinfo.hostname", cli_support::FQDN)]);
    appliance.first_boot(&env);
    let record = appliance.root.join("var/lib/ovaboot/firstboot.json");
    let mut completion: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&record).unwrap()).unwrap();
    completion["hostname"] = "old\u{1b}]0;owned\u{7}\r\u{85}\u{2028}.example.com".into();
    std::fs::write(&record, serde_json::to_vec(&completion).unwrap()).unwrap();
    // A changed property, so the plan (and its host-name check) is made.
    let changed = appliance.env(
        "b.xml",
        &[
            ("guestinfo.hostname", cli_support::FQDN),
            ("guestinfo.ntp", "ntp.example.net"),
        ],
    );
    let out = appliance.reconfigure(&changed, &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    let unsafe_in = |s: &str| {
        s.trim_end()
            .chars()
            .any(|c| c != '\n' && ovaboot::show::is_unsafe(c))
    };
    assert!(!unsafe_in(&stderr), "{stderr:?}");
    assert!(
        stderr.contains("cannot change from old\\u{1b}]0;owned"),
        "{stderr}"
    );
    let state: serde_json::Value = serde_json::from_slice(
        &std::fs::read(appliance.root.join("var/lib/ovaboot/state.json")).unwrap(),
    )
    .unwrap();
    let error = state["error"].as_str().unwrap();
    assert!(!unsafe_in(error), "{error:?}");
    let banner = text(&std::fs::read(appliance.root.join("etc/issue.d/ovaboot.issue")).unwrap());
    assert!(!unsafe_in(&banner), "{banner:?}");
}
