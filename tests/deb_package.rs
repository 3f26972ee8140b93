//! The Debian package as `cargo deb` builds it: its files and modes, the
//! conffile, the generated man pages and completions, maintainer scripts that
//! enable the units but never start or restart them, and lintian's verdict.
//!
//! Building the release .deb is slow, so those tests are `#[ignore]`d and run
//! (with `--include-ignored`) only with `OVABOOT_DEB_TESTS=1`; they need
//! cargo-deb, dpkg-deb and lintian. `ovaboot --version` is checked on every run.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

mod tool_support;
use tool_support::{repo, run};

/// The units the package ships.
const UNITS: [&str; 6] = [
    "ovaboot-host.service",
    "ovaboot-cluster.service",
    "ovaboot-reconfigure.service",
    "ovaboot-reconfigure-cluster.service",
    "ovaboot-renew.service",
    "ovaboot-renew.timer",
];
/// The units it enables: all but the renewal service, which its timer starts.
const ENABLED: [&str; 5] = [
    "ovaboot-host.service",
    "ovaboot-cluster.service",
    "ovaboot-reconfigure.service",
    "ovaboot-reconfigure-cluster.service",
    "ovaboot-renew.timer",
];
const SUBCOMMANDS: [&str; 7] = [
    "props",
    "render",
    "apply",
    "firstboot",
    "reconfigure",
    "status",
    "images",
];

/// The package tests are `#[ignore]`d; run with `--ignored` they still
/// build nothing unless asked to, and fail saying so.
fn require_deb_tests() {
    assert!(
        std::env::var("OVABOOT_DEB_TESTS").as_deref() == Ok("1"),
        "needs OVABOOT_DEB_TESTS=1 to build the release .deb (and cargo-deb, dpkg-deb, lintian)"
    );
}

/// The commit being tested, as build.rs finds it: git's, else (a source
/// tarball) `OVABOOT_COMMIT`, else "unknown".
fn head_commit() -> String {
    let git = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(repo())
        .output();
    match git {
        Ok(out) if out.status.success() => String::from_utf8(out.stdout).unwrap().trim().to_owned(),
        _ => std::env::var("OVABOOT_COMMIT").unwrap_or_else(|_| "unknown".to_owned()),
    }
}

#[test]
fn version_names_the_commit_it_was_built_from() {
    let out = run(Command::new(env!("CARGO_BIN_EXE_ovaboot")).arg("--version"));
    assert_eq!(
        out.trim(),
        format!(
            "ovaboot {} (commit {})",
            env!("CARGO_PKG_VERSION"),
            head_commit()
        )
    );
}

/// cargo-deb names the package's version `<crate version>-1`; the Debian
/// changelog's newest entry must say the same (lintian compares them).
#[test]
fn the_changelog_is_at_the_crates_version() {
    let changelog = std::fs::read_to_string(repo().join("packaging/changelog")).unwrap();
    let first = changelog.lines().next().unwrap();
    assert!(
        first.starts_with(&format!("ovaboot ({}-1) ", env!("CARGO_PKG_VERSION"))),
        "packaging/changelog starts with {first:?}; add an entry for {}-1",
        env!("CARGO_PKG_VERSION")
    );
}

/// The .deb, built once for all tests, and unpacked: its data and control parts.
struct Package {
    deb: PathBuf,
    data: tempfile::TempDir,
    control: tempfile::TempDir,
}

fn package() -> &'static Package {
    static PACKAGE: OnceLock<Package> = OnceLock::new();
    PACKAGE.get_or_init(|| {
        // cargo-deb prints the package's path as its last line.
        let out = run(Command::new(env!("CARGO"))
            .args(["deb", "--locked"])
            .current_dir(repo()));
        let deb = PathBuf::from(out.lines().last().expect("cargo deb printed nothing"));
        let data = tempfile::tempdir().unwrap();
        let control = tempfile::tempdir().unwrap();
        run(Command::new("dpkg-deb")
            .arg("-x")
            .arg(&deb)
            .arg(data.path()));
        run(Command::new("dpkg-deb")
            .arg("-e")
            .arg(&deb)
            .arg(control.path()));
        Package { deb, data, control }
    })
}

/// Every entry of the data part: path (without the leading `./`) -> `ls -l` mode string and owner.
fn listing(deb: &Path) -> BTreeMap<String, (String, String)> {
    run(Command::new("dpkg-deb").arg("--contents").arg(deb))
        .lines()
        .map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let path = fields[5].trim_start_matches("./").to_owned();
            (path, (fields[0].to_owned(), fields[1].to_owned()))
        })
        .collect()
}

#[test]
#[ignore = "needs OVABOOT_DEB_TESTS=1: builds the release .deb (cargo-deb, dpkg-deb, lintian)"]
fn the_package_installs_each_file_with_its_mode() {
    require_deb_tests();
    let listing = listing(&package().deb);
    let unit_dir = if listing.contains_key("usr/lib/systemd/system/") {
        "usr/lib/systemd/system"
    } else {
        "lib/systemd/system"
    };
    let mut expected = vec![
        ("usr/bin/ovaboot".to_owned(), "-rwxr-xr-x"),
        ("etc/ovaboot/ovaboot.toml".to_owned(), "-rw-r--r--"),
        ("usr/share/doc/ovaboot/README.md".to_owned(), "-rw-r--r--"),
        ("usr/share/doc/ovaboot/copyright".to_owned(), "-rw-r--r--"),
        (
            "usr/share/doc/ovaboot/changelog.Debian.gz".to_owned(),
            "-rw-r--r--",
        ),
        ("usr/share/man/man8/ovaboot.8.gz".to_owned(), "-rw-r--r--"),
        (
            "usr/share/bash-completion/completions/ovaboot".to_owned(),
            "-rw-r--r--",
        ),
        (
            "usr/share/zsh/vendor-completions/_ovaboot".to_owned(),
            "-rw-r--r--",
        ),
        (
            "usr/share/fish/vendor_completions.d/ovaboot.fish".to_owned(),
            "-rw-r--r--",
        ),
    ];
    for unit in UNITS {
        expected.push((format!("{unit_dir}/{unit}"), "-rw-r--r--"));
    }
    for doc in documents() {
        expected.push((format!("usr/share/doc/ovaboot/{doc}"), "-rw-r--r--"));
    }
    for sub in SUBCOMMANDS {
        expected.push((
            format!("usr/share/man/man8/ovaboot-{sub}.8.gz"),
            "-rw-r--r--",
        ));
    }
    for (path, mode) in &expected {
        let Some((found, owner)) = listing.get(path) else {
            panic!("{path} is not in the package: {listing:#?}");
        };
        assert_eq!(found, mode, "{path}");
        assert_eq!(owner, "0/0", "{path}: owned by root");
    }
    // Nothing else but directories.
    let extra: Vec<&String> = listing
        .keys()
        .filter(|path| !path.ends_with('/') && !expected.iter().any(|(p, _)| p == *path))
        .collect();
    assert!(extra.is_empty(), "unexpected files: {extra:?}");

    let data = package().data.path();
    for unit in UNITS {
        assert_eq!(
            std::fs::read(data.join(unit_dir).join(unit)).unwrap(),
            std::fs::read(repo().join("systemd").join(unit)).unwrap(),
            "{unit}"
        );
    }
    for doc in documents() {
        assert_eq!(
            std::fs::read(data.join("usr/share/doc/ovaboot").join(&doc)).unwrap(),
            std::fs::read(repo().join(&doc)).unwrap(),
            "{doc}"
        );
    }
}

/// The documents the package ships in /usr/share/doc/ovaboot/, as paths
/// relative to the repository (and to that folder): README.md and docs/*.md.
fn documents() -> Vec<String> {
    let mut docs: Vec<String> = std::fs::read_dir(repo().join("docs"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.ends_with(".md"))
        .map(|name| format!("docs/{name}"))
        .collect();
    docs.sort();
    docs.insert(0, "README.md".to_owned());
    docs
}

/// The README and docs/ link to each other; installed side by side, every
/// relative link must still land on a shipped document.
#[test]
fn shipped_documents_link_only_to_shipped_documents() {
    let docs = documents();
    let link = regex::Regex::new(r"\]\(([^)\s]+)\)").unwrap();
    let mut checked = 0;
    for doc in &docs {
        let text = std::fs::read_to_string(repo().join(doc)).unwrap();
        let dir = Path::new(doc).parent().unwrap();
        for target in link.captures_iter(&text).map(|c| c[1].to_owned()) {
            if target.starts_with("http://") || target.starts_with("https://") {
                continue;
            }
            let file = target.split('#').next().unwrap();
            if file.is_empty() {
                continue; // a link within the same document
            }
            let mut resolved = dir.to_path_buf();
            for part in Path::new(file).components() {
                match part {
                    std::path::Component::ParentDir => assert!(
                        resolved.pop(),
                        "{doc}: {target} leaves /usr/share/doc/ovaboot"
                    ),
                    std::path::Component::Normal(name) => resolved.push(name),
                    other => panic!("{doc}: {target}: {other:?} in a relative link"),
                }
            }
            let resolved = resolved.to_str().unwrap().to_owned();
            assert!(
                docs.contains(&resolved),
                "{doc} links to {target}, which the package does not ship beside it"
            );
            checked += 1;
        }
    }
    assert!(checked > 0, "no links found: is the pattern right?");
}

/// What every page says beyond `--help`, as build.rs generates it for this
/// build (target/<profile>/generated/man/): the sections, and SEE ALSO
/// naming only ovaboot's pages and systemd's.
#[test]
fn man_pages_say_more_than_help() {
    let man = Path::new(env!("CARGO_BIN_EXE_ovaboot"))
        .parent()
        .unwrap()
        .join("generated/man");
    let mut names = vec!["ovaboot".to_owned()];
    names.extend(SUBCOMMANDS.iter().map(|sub| format!("ovaboot-{sub}")));
    let reference = regex::Regex::new(r"\\fB([a-z\\-]+)\\fR\((\d)").unwrap();
    for name in &names {
        let page = run(Command::new("zcat").arg(man.join(format!("{name}.8.gz"))));
        for section in [
            ".SH DESCRIPTION",
            ".SH \"EXIT STATUS\"",
            ".SH ENVIRONMENT",
            ".SH FILES",
            ".SH EXAMPLES",
            ".SH \"SEE ALSO\"",
        ] {
            assert!(page.contains(section), "{name}(8) lacks {section}");
        }
        assert!(
            !page.contains("ovaboot\\-help"),
            "{name}(8) names ovaboot-help(8), which does not exist"
        );
        let see_also = &page[page.find(".SH \"SEE ALSO\"").unwrap()..];
        let mut found = 0;
        for captures in reference.captures_iter(see_also) {
            let (page_name, section) = (captures[1].replace("\\-", "-"), &captures[2]);
            let ours = section == "8" && names.contains(&page_name) && &page_name != name;
            let systemds =
                ["journalctl", "systemctl"].contains(&page_name.as_str()) && section == "1";
            assert!(
                ours || systemds,
                "{name}(8): SEE ALSO {page_name}({section})"
            );
            found += 1;
        }
        assert!(found > 0, "{name}(8): SEE ALSO names no page");
    }
    let status = run(Command::new("zcat").arg(man.join("ovaboot-status.8.gz")));
    let exit_status = &status[status.find("EXIT STATUS").unwrap()..];
    for code in ["\\fB0\\fR", "\\fB1\\fR", "\\fB2\\fR"] {
        assert!(
            exit_status.contains(code),
            "ovaboot-status(8) lacks exit {code}"
        );
    }
}

#[test]
#[ignore = "needs OVABOOT_DEB_TESTS=1: builds the release .deb (cargo-deb, dpkg-deb, lintian)"]
fn the_config_is_a_conffile_shipped_as_committed() {
    require_deb_tests();
    let conffiles = std::fs::read_to_string(package().control.path().join("conffiles")).unwrap();
    assert_eq!(
        conffiles.lines().collect::<Vec<_>>(),
        ["/etc/ovaboot/ovaboot.toml"]
    );
    assert_eq!(
        std::fs::read(package().data.path().join("etc/ovaboot/ovaboot.toml")).unwrap(),
        std::fs::read(repo().join("packaging/ovaboot.toml")).unwrap()
    );
}

#[test]
#[ignore = "needs OVABOOT_DEB_TESTS=1: builds the release .deb (cargo-deb, dpkg-deb, lintian)"]
fn man_pages_and_completions_come_from_the_command_line() {
    require_deb_tests();
    let man = package().data.path().join("usr/share/man/man8");
    let page = |name: &str| run(Command::new("zcat").arg(man.join(format!("{name}.8.gz"))));
    let main = page("ovaboot");
    assert!(main.contains(".TH OVABOOT 8"), "{main}");
    for sub in SUBCOMMANDS {
        assert!(main.contains(sub), "ovaboot(8) does not list {sub}");
    }
    let firstboot = page("ovaboot-firstboot");
    assert!(firstboot.contains(".TH OVABOOT-FIRSTBOOT 8"), "{firstboot}");
    for option in ["phase", "ovf", "kubeconfig", "root"] {
        assert!(
            firstboot.contains(option),
            "ovaboot-firstboot(8) lacks --{option}"
        );
    }
    let completions = package().data.path().join("usr/share");
    for file in [
        "bash-completion/completions/ovaboot",
        "zsh/vendor-completions/_ovaboot",
        "fish/vendor_completions.d/ovaboot.fish",
    ] {
        let text = std::fs::read_to_string(completions.join(file)).unwrap();
        assert!(
            text.contains("firstboot") && text.contains("kubeconfig"),
            "{file}"
        );
    }
}

/// Runs a maintainer script with stand-ins for the commands it drives, on a
/// system that looks booted with systemd; returns the commands it ran.
fn run_script(script: &str, args: &[&str]) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("calls");
    for tool in [
        "deb-systemd-helper",
        "deb-systemd-invoke",
        "systemctl",
        "invoke-rc.d",
    ] {
        let stub = dir.path().join(tool);
        // `was-enabled` and `debian-installed` say yes, as on an upgrade.
        std::fs::write(
            &stub,
            format!(
                "#!/bin/sh\necho \"{tool} $*\" >> '{}'\nexit 0\n",
                log.display()
            ),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&stub, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let path = format!(
        "{}:{}",
        dir.path().display(),
        std::env::var("PATH").unwrap()
    );
    // As on a system booted with systemd, where the start and stop code runs.
    let text = std::fs::read_to_string(package().control.path().join(script))
        .unwrap()
        .replace("[ -d /run/systemd/system ]", "true");
    let copy = dir.path().join(script);
    std::fs::write(&copy, text).unwrap();
    run(Command::new("sh")
        .arg(&copy)
        .args(args)
        .env("PATH", path)
        .env("DPKG_MAINTSCRIPT_PACKAGE", "ovaboot"));
    std::fs::read_to_string(&log)
        .unwrap_or_default()
        .lines()
        .map(String::from)
        .collect()
}

/// Whether a command a maintainer script ran would start, restart or stop a unit.
fn changes_a_running_unit(call: &str) -> bool {
    let words: Vec<&str> = call.split_whitespace().collect();
    matches!(
        words.first(),
        Some(&"deb-systemd-invoke" | &"systemctl" | &"invoke-rc.d")
    ) && words.iter().any(|w| {
        matches!(
            *w,
            "start" | "restart" | "try-restart" | "reload-or-restart" | "stop"
        )
    })
}

#[test]
#[ignore = "needs OVABOOT_DEB_TESTS=1: builds the release .deb (cargo-deb, dpkg-deb, lintian)"]
fn installing_or_upgrading_enables_the_units_but_never_starts_them() {
    require_deb_tests();
    let control = package().control.path();
    // Statically: the only unit action in any script is a stop in prerm, and
    // systemctl only reloads. (An action may be a variable: `$_dh_action`.)
    for script in ["preinst", "postinst", "prerm", "postrm"] {
        let Ok(text) = std::fs::read_to_string(control.join(script)) else {
            continue;
        };
        for line in text.lines().map(str::trim) {
            if line.starts_with('#') {
                continue;
            }
            if line.contains("deb-systemd-invoke") {
                assert!(
                    script == "prerm" && line.starts_with("deb-systemd-invoke stop "),
                    "{script}: {line}"
                );
            }
            if line.contains("systemctl") {
                assert!(line.contains("daemon-reload"), "{script}: {line}");
            }
            assert!(!line.contains("invoke-rc.d"), "{script}: {line}");
        }
    }
    // Run: a fresh install, then an upgrade from an older version.
    let install = run_script("postinst", &["configure"]);
    let upgrade_prerm = run_script("prerm", &["upgrade", "0.1.1-1"]);
    let upgrade_postinst = run_script("postinst", &["configure", "0.0.9-1"]);
    for unit in ENABLED {
        assert!(
            install
                .iter()
                .any(|call| call == &format!("deb-systemd-helper enable {unit}")),
            "postinst configure does not enable {unit}: {install:?}"
        );
    }
    assert!(
        !install
            .iter()
            .any(|call| call == "deb-systemd-helper enable ovaboot-renew.service"),
        "the renewal service runs from its timer, not at boot: {install:?}"
    );
    for (what, calls) in [
        ("install", &install),
        ("upgrade prerm", &upgrade_prerm),
        ("upgrade postinst", &upgrade_postinst),
    ] {
        let changing: Vec<&String> = calls
            .iter()
            .filter(|call| changes_a_running_unit(call))
            .collect();
        assert!(changing.is_empty(), "{what} runs {changing:?}");
    }
}

#[test]
#[ignore = "needs OVABOOT_DEB_TESTS=1: builds the release .deb (cargo-deb, dpkg-deb, lintian)"]
fn lintian_finds_no_errors() {
    require_deb_tests();
    let output = Command::new("lintian")
        .args(["--no-tag-display-limit", "--fail-on", "error"])
        .arg(&package().deb)
        .output()
        .expect("lintian is installed");
    let report = String::from_utf8_lossy(&output.stdout);
    let errors: Vec<&str> = report.lines().filter(|l| l.starts_with("E:")).collect();
    assert!(
        output.status.success() && errors.is_empty(),
        "lintian: {errors:#?}\n{report}{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
