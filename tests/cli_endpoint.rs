//! The endpoint login through the binary (issue #15): each bad property and
//! config key refused by `props`, `render`, `firstboot` and `reconfigure`
//! alike, with exit 2, one line naming it and nothing written; the password
//! and its hash nowhere but the Secret's manifest and the 0600 line file;
//! and day 2 applying the login Secret alone, `--dry-run` naming it.

mod cli_support;

use std::path::Path;

use cli_support::appliance::{Appliance, snapshot};
use cli_support::*;

const PASSWORD: &str = "Endpoint-Secret-42";

/// Every file under `dir`, relative, with its bytes.
fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    snapshot(dir)
        .into_iter()
        .map(|(p, (bytes, _))| (p.display().to_string(), bytes))
        .collect()
}

/// `command` on a fresh appliance root with `env` and `config`: exit 2, one
/// stderr line containing `names`, no secret in it, and the root unchanged.
fn refused_by_every_command(properties: &[(&str, &str)], config_toml: &str, names: &[&str]) {
    let app = Appliance::new();
    let config = app.work.join("ovaboot.toml");
    std::fs::write(&config, config_toml).unwrap();
    let config = config.to_str().unwrap().to_owned();
    let mut all = vec![("guestinfo.hostname", FQDN)];
    all.extend_from_slice(properties);
    let env = app.env("bad.xml", &all);
    let before = snapshot(&app.root);
    let out_dir = app.work.join("rendered");
    for args in [
        vec!["props", "--ovf-env", &env, "--config", &config],
        vec![
            "render",
            "--out",
            out_dir.to_str().unwrap(),
            "--root",
            app.root.to_str().unwrap(),
            "--ovf-env",
            &env,
            "--config",
            &config,
        ],
        vec![
            "firstboot",
            "--phase",
            "host",
            "--root",
            app.root.to_str().unwrap(),
            "--ovf-env",
            &env,
            "--config",
            &config,
        ],
    ] {
        let out = ovaboot_with_manifest(&args, &contour_manifest());
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        let errors: Vec<&str> = err
            .lines()
            .filter(|l| l.starts_with("ovaboot: error: "))
            .collect();
        assert_eq!(errors.len(), 1, "{args:?}: one error line: {err}");
        assert!(
            err.lines()
                .all(|l| errors.contains(&l) || l.contains(" INFO ") || l.is_empty()),
            "{args:?}: {err}"
        );
        for name in names {
            assert!(err.contains(name), "{args:?}: {err:?} names {name}");
        }
        for (_, value) in properties {
            if value.len() > 3 {
                assert!(
                    !err.contains(value),
                    "{args:?}: the value is not quoted: {err}"
                );
            }
        }
        assert!(!out_dir.exists(), "render wrote nothing");
    }
    // firstboot's refusal records itself in the state file (as every
    // refused first boot does); no host file is written.
    let after = snapshot(&app.root);
    for path in after.keys() {
        assert!(
            before.contains_key(path)
                || path.starts_with("var/lib/ovaboot")
                || path.starts_with("etc/issue.d")
                || path.starts_with("run/ovaboot"),
            "{} written",
            path.display()
        );
    }
}

#[test]
fn bad_endpoint_properties_are_refused_naming_the_property() {
    for (properties, name) in [
        (
            vec![
                ("guestinfo.endpoint_username", "ad:min"),
                ("guestinfo.endpoint_password", PASSWORD),
            ],
            "guestinfo.endpoint_username",
        ),
        (
            vec![
                ("guestinfo.endpoint_username", "two words"),
                ("guestinfo.endpoint_password", PASSWORD),
            ],
            "guestinfo.endpoint_username",
        ),
        (
            vec![("guestinfo.endpoint_password", "line one\nline two")],
            "guestinfo.endpoint_password",
        ),
        (
            vec![("guestinfo.endpoint_password", "too-short")],
            "guestinfo.endpoint_password",
        ),
        (
            vec![("guestinfo.endpoint_password", &"p".repeat(73))],
            "guestinfo.endpoint_password",
        ),
        // Blank: the default routes are protected, so it is required.
        (
            vec![("guestinfo.endpoint_password", "")],
            "guestinfo.endpoint_password",
        ),
    ] {
        refused_by_every_command(&properties, "", &[name]);
    }
    let long = "u".repeat(65);
    refused_by_every_command(
        &[
            ("guestinfo.endpoint_username", &long),
            ("guestinfo.endpoint_password", PASSWORD),
        ],
        "",
        &["guestinfo.endpoint_username", "at most 64"],
    );
}

#[test]
fn bad_auth_config_keys_are_refused_naming_the_key() {
    let ok = [("guestinfo.endpoint_password", PASSWORD)];
    for (config, key) in [
        ("[auth]\nbcrypt_cost = 9\n", "auth.bcrypt_cost"),
        (
            "[auth]\nimage_digest = \"sha256:1234\"\n",
            "auth.image_digest",
        ),
        ("[auth]\nnamespace = \"Auth\"\n", "auth.namespace"),
        ("[auth]\nrealm = \"two words\"\n", "auth.realm"),
        (
            "[[routes]]\nprefix = \"/\"\nservice = \"ui\"\nport = 80\npermit_insecure = true\n",
            "routes[0].permit_insecure",
        ),
        (
            "[[routes]]\nprefix = \"/\"\nservice = \"ui\"\nport = 80\nauth = \"maybe\"\n",
            "routes[0].auth",
        ),
    ] {
        refused_by_every_command(&ok, config, &[key]);
    }
}

#[test]
fn no_protected_route_needs_no_password_and_renders_no_auth_server() {
    let app = Appliance::new();
    let config = app.work.join("open.toml");
    std::fs::write(
        &config,
        "[[routes]]\nprefix = \"/\"\nservice = \"ui\"\nport = 80\nauth = \"none\"\n",
    )
    .unwrap();
    let env = app.env(
        "open.xml",
        &[
            ("guestinfo.hostname", FQDN),
            ("guestinfo.endpoint_password", ""),
        ],
    );
    let out_dir = app.work.join("rendered");
    let out = ovaboot_with_manifest(
        &[
            "render",
            "--out",
            out_dir.to_str().unwrap(),
            "--root",
            app.root.to_str().unwrap(),
            "--ovf-env",
            &env,
            "--config",
            config.to_str().unwrap(),
        ],
        &contour_manifest(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let manifests: Vec<String> = std::fs::read_dir(out_dir.join("manifests"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(
        !manifests
            .iter()
            .any(|m| m.contains("htpasswd") || m.contains("endpoint-login")),
        "{manifests:?}"
    );
    let plan = std::fs::read_to_string(out_dir.join("plan.json")).unwrap();
    assert!(plan.contains("\"auth\": null"), "{plan}");
    assert!(plan.contains("\"endpoint_password_set\": false"), "{plan}");
}

#[test]
fn the_password_and_its_hash_reach_only_the_secret_and_the_0600_line() {
    let app = Appliance::new();
    let env = app.env(
        "login.xml",
        &[
            ("guestinfo.hostname", FQDN),
            ("guestinfo.endpoint_password", PASSWORD),
        ],
    );
    let out_dir = app.work.join("rendered");
    let out = ovaboot_with_manifest(
        &[
            "--verbose",
            "render",
            "--out",
            out_dir.to_str().unwrap(),
            "--root",
            app.root.to_str().unwrap(),
            "--ovf-env",
            &env,
            "--config",
            &app.config,
        ],
        &contour_manifest(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let said = format!("{}{}", text(&out.stdout), text(&out.stderr));
    let line = std::fs::read_to_string(out_dir.join("rootfs/etc/ovaboot/auth/htpasswd")).unwrap();
    let hash = line.trim_end().split_once(':').unwrap().1.to_owned();
    assert!(line.starts_with("admin:$2y$10$"), "{line}");
    let mode = |p: &Path| {
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(p).unwrap().permissions())
            & 0o777
    };
    assert_eq!(
        mode(&out_dir.join("rootfs/etc/ovaboot/auth/htpasswd")),
        0o600
    );
    assert!(!said.contains(PASSWORD) && !said.contains(&hash), "{said}");
    for (path, bytes) in files(&out_dir) {
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains(PASSWORD), "{path} holds the password");
        let holds_hash = text.contains(&hash) || text.contains(&base64_of(&line));
        let allowed = path.ends_with("etc/ovaboot/auth/htpasswd")
            || path.ends_with("-secret-endpoint-login.yaml");
        assert_eq!(holds_hash, allowed, "{path}");
        if allowed {
            assert_eq!(mode(&out_dir.join(&path)), 0o600, "{path}");
        }
    }
    let plan = std::fs::read_to_string(out_dir.join("plan.json")).unwrap();
    assert!(
        plan.contains("\"endpoint_username\": \"admin\"")
            && plan.contains("\"endpoint_password_set\": true")
    );

    // props shows the password redacted, the user name as given.
    let out = ovaboot_with_manifest(
        &["props", "--ovf-env", &env, "--config", &app.config],
        &contour_manifest(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let shown = text(&out.stdout);
    assert!(
        shown.contains("guestinfo.endpoint_password = <redacted>"),
        "{shown}"
    );
    assert!(!shown.contains(PASSWORD));
}

/// First boot with [`PASSWORD`]; returns its environment.
fn first_boot_with_the_password(app: &Appliance) -> String {
    let first = app.env(
        "first.xml",
        &[
            ("guestinfo.hostname", FQDN),
            ("guestinfo.endpoint_password", PASSWORD),
        ],
    );
    app.first_boot(&first);
    first
}

fn base64_of(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s.as_bytes())
}

#[test]
fn day_two_names_the_login_secret_alone_and_a_rerun_keeps_the_line() {
    let app = Appliance::new();
    let first = first_boot_with_the_password(&app);
    let line = app.read("etc/ovaboot/auth/htpasswd");

    // The same login: nothing to do, the line kept.
    let out = app.reconfigure(&first, &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(app.read("etc/ovaboot/auth/htpasswd"), line);

    // A new password: the dry run names the login Secret, and no hash.
    let second = app.env(
        "second.xml",
        &[
            ("guestinfo.hostname", FQDN),
            ("guestinfo.endpoint_password", "Another-Secret-43"),
        ],
    );
    let out = app.reconfigure(&second, &["--dry-run"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let said = text(&out.stdout);
    assert!(
        said.contains("properties changed: guestinfo.endpoint_password"),
        "{said}"
    );
    assert!(
        said.contains("would apply Secret projectcontour-auth/endpoint-login"),
        "{said}"
    );
    assert!(
        !said.contains("$2y$") && !said.contains("Another-Secret-43"),
        "{said}"
    );
    assert!(
        !said.contains("would apply Secret ovaboot/ovaboot-tls"),
        "the TLS Secret is not touched: {said}"
    );
    assert_eq!(
        app.read("etc/ovaboot/auth/htpasswd"),
        line,
        "a dry run writes nothing"
    );
}

#[test]
fn reconfigure_refuses_a_bad_login_naming_the_property_and_changes_nothing() {
    let app = Appliance::new();
    first_boot_with_the_password(&app);
    for (properties, name) in [
        (
            vec![
                ("guestinfo.endpoint_username", "ad:min"),
                ("guestinfo.endpoint_password", PASSWORD),
            ],
            "guestinfo.endpoint_username",
        ),
        (
            vec![("guestinfo.endpoint_password", "too-short")],
            "guestinfo.endpoint_password",
        ),
        (
            vec![("guestinfo.endpoint_password", "")],
            "guestinfo.endpoint_password",
        ),
    ] {
        let mut all = vec![("guestinfo.hostname", FQDN)];
        all.extend_from_slice(&properties);
        let env = app.env("bad.xml", &all);
        let before = snapshot(&app.root);
        let out = app.reconfigure(&env, &[]);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        let errors: Vec<&str> = err
            .lines()
            .filter(|l| l.starts_with("ovaboot: error: "))
            .collect();
        assert_eq!(errors.len(), 1, "{err}");
        assert!(errors[0].contains(name), "{err}");
        assert!(!err.contains("too-short"), "{err}");
        let after = snapshot(&app.root);
        for (path, contents) in &after {
            let ours = path.starts_with("var/lib/ovaboot")
                || path.starts_with("etc/issue.d")
                || path.starts_with("run/ovaboot");
            assert!(
                ours || before.get(path) == Some(contents),
                "{} changed",
                path.display()
            );
        }
    }
}

/// At boot the host part of day 2 writes neither the auth server's CA and
/// serving pair nor the login's line, though its plan makes new ones (the
/// pair inside its renewal window, a new password): only the cluster part
/// writes them, beside the Secrets that carry them, so the host never holds
/// a pair or line the cluster was not given.
#[test]
fn the_host_part_of_day_two_leaves_the_auth_pair_and_line_to_the_cluster_part() {
    use ovaboot::auth::{CA_CERT_PATH, CA_KEY_PATH, CERT_PATH, HTPASSWD_PATH, KEY_PATH};
    let app = Appliance::new();
    let first = first_boot_with_the_password(&app);
    // The pair as a first boot 340 days ago made it: 25 days left of 365.
    let pki = [CA_KEY_PATH, CA_CERT_PATH, KEY_PATH, CERT_PATH];
    for path in pki {
        std::fs::remove_file(ovaboot::root::under(&app.root, path)).unwrap();
    }
    let config = cli_support::appliance::config(&app.config);
    let settings =
        ovaboot::settings::Settings::from_properties(&cli_support::appliance::properties(&first))
            .unwrap();
    let facts = ovaboot::facts::read_host_facts(&app.root).unwrap();
    let at = time::OffsetDateTime::now_utc() - time::Duration::days(340);
    let plan = ovaboot::plan::appliance::build(&settings, &config, &facts, at).unwrap();
    let old_pair: Vec<_> = plan
        .files
        .iter()
        .filter(|f| pki.iter().any(|p| f.path == Path::new(p)))
        .cloned()
        .collect();
    assert_eq!(old_pair.len(), 4);
    ovaboot::apply::files::write_files(&app.root, &old_pair).unwrap();
    let auth_files = |app: &Appliance| -> Vec<Vec<u8>> {
        [
            CA_KEY_PATH,
            CA_CERT_PATH,
            KEY_PATH,
            CERT_PATH,
            HTPASSWD_PATH,
        ]
        .iter()
        .map(|p| app.read(p.trim_start_matches('/')))
        .collect()
    };
    let before = auth_files(&app);

    let second = app.env(
        "second.xml",
        &[
            ("guestinfo.hostname", FQDN),
            ("guestinfo.endpoint_password", "Another-Secret-43"),
        ],
    );
    let out = app.reconfigure(&second, &["--phase", "host"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("properties changed: guestinfo.endpoint_password"),
        "{}",
        text(&out.stdout)
    );
    assert!(
        auth_files(&app) == before,
        "the host part wrote the auth server's pair or the login line"
    );
    // The cluster part has it all still to do: the login Secret among it.
    let out = app.reconfigure(&second, &["--phase", "cluster", "--dry-run"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("would apply Secret projectcontour-auth/endpoint-login"),
        "{}",
        text(&out.stdout)
    );
}

/// Day 2 with a new password, run for real with a recording cluster: the
/// login Secret alone is applied (not the TLS Secret, not the auth server),
/// holding a bcrypt line for the new password, and the digest recorded, so
/// the same properties again apply nothing.
#[test]
fn day_two_with_a_new_password_applies_the_login_secret_alone() {
    use base64::Engine as _;
    use ovaboot::commands::reconfigure::{Phase, Request, run_with};
    let app = Appliance::new();
    first_boot_with_the_password(&app);
    let second = app.env(
        "second.xml",
        &[
            ("guestinfo.hostname", FQDN),
            ("guestinfo.endpoint_password", "Another-Secret-43"),
        ],
    );
    let properties = cli_support::appliance::properties(&second);
    let config = cli_support::appliance::config(&app.config);
    let request = Request {
        properties: &properties,
        config: &config,
        root: &app.root,
        phase: Phase::All,
        dry_run: false,
    };
    let applied: std::cell::RefCell<Vec<serde_json::Value>> = Default::default();
    let record = |objects: &[serde_json::Value]| {
        applied.borrow_mut().extend(objects.iter().cloned());
        Ok(ovaboot::cluster::ApplySummary {
            objects: Vec::new(),
            created: 0,
            changed: objects.len(),
            unchanged: 0,
            skipped: 0,
            elapsed: std::time::Duration::ZERO,
        })
    };
    run_with(&request, &record).unwrap();
    let first_run = applied.take();
    let names: Vec<String> = first_run
        .iter()
        .map(|o| {
            format!(
                "{} {}/{}",
                o["kind"].as_str().unwrap(),
                o["metadata"]["namespace"].as_str().unwrap(),
                o["metadata"]["name"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(names, ["Secret projectcontour-auth/endpoint-login"]);
    let line = base64::engine::general_purpose::STANDARD
        .decode(first_run[0]["data"]["auth"].as_str().unwrap())
        .unwrap();
    let line = String::from_utf8(line).unwrap();
    let hash = line.trim_end().strip_prefix("admin:").unwrap();
    assert!(hash.starts_with("$2y$10$"), "not a bcrypt line");
    assert!(bcrypt::verify("Another-Secret-43", hash).unwrap());
    assert!(!bcrypt::verify(PASSWORD, hash).unwrap());
    assert_eq!(app.read("etc/ovaboot/auth/htpasswd"), line.as_bytes());

    run_with(&request, &record).unwrap();
    let again = applied.take();
    assert!(
        again.is_empty(),
        "the same properties again applied {again:?}"
    );
}
