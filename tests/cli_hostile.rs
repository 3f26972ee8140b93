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
