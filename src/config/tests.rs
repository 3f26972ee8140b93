use std::collections::BTreeSet;

use super::*;

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::parse(text, Path::new("/etc/ovaboot/ovaboot.toml"))
}

#[test]
fn an_empty_file_gives_every_default() {
    let config = parse("").unwrap();
    assert_eq!(config.contour.version, "v1.33.6");
    assert_eq!(config.tls, TlsConfig::default());
    assert_eq!(config.host, HostConfig::default());
    assert!(config.routes.is_none(), "no [[routes]]: the default routes");
}

#[test]
fn every_table_is_read() {
    let config = parse(
        r#"
[host]
proxy_units = ["k3s.service", "containerd.service"]
[tls]
key_algorithm = "rsa-3072"
[contour]
envoy_exposure = "host-port"
[[routes]]
prefix = "/events"
service = "event-router"
namespace = "vmware-events"
port = 8080
[tls_secret]
name = "appliance-tls"
[kube]
workload_ready_timeout_secs = 900
"#,
    )
    .unwrap();
    assert_eq!(config.host.proxy_units.len(), 2);
    assert_eq!(config.tls.key_algorithm, crate::tls::KeyAlgorithm::Rsa3072);
    assert_eq!(
        config.contour.envoy_exposure,
        crate::contour::EnvoyExposure::HostPort
    );
    assert_eq!(
        config.routes().effective_routes()[0].service,
        "event-router"
    );
    assert_eq!(config.tls_secret.name, "appliance-tls");
    assert_eq!(config.kube.workload_ready_timeout_secs, 900);
}

#[test]
fn an_unknown_key_is_refused_naming_it_its_table_and_line() {
    let err = parse("[tls]\nkey_algorithm = \"ecdsa-p256\"\nvalidity = 30\n")
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with(
            "the config /etc/ovaboot/ovaboot.toml line 3: in [tls]: unknown field `validity`"
        ),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1);

    let err = parse("colour = \"blue\"\n").unwrap_err().to_string();
    assert!(
        err.contains("line 1") && err.contains("unknown field `colour`"),
        "{err}"
    );
}

#[test]
fn a_bad_value_is_refused_naming_the_key() {
    let err = parse("[[routes]]\nprefix = \"events\"\nservice = \"x\"\nport = 80\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("routes[0].prefix"), "{err}");
    let err = parse("[host]\nproxy_units = [\"k3s\"]\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("host.proxy_units"), "{err}");
    let err = parse("[tls]\nkey_algorithm = \"dsa\"\n")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("line 2: tls.key_algorithm: unknown variant `dsa`"),
        "{err}"
    );
}

#[test]
fn every_table_is_checked_when_the_file_is_read() {
    for (text, key) in [
        ("[tls]\nvalidity_days = 0\n", "tls.validity_days"),
        ("[tls]\nvalidity_days = 20\n", "tls.expiry_warning_days"),
        ("[contour]\nversion = \"latest\"\n", "contour.version"),
        (
            "[kube]\napi_server_timeout_secs = 0\n",
            "kube.api_server_timeout_secs",
        ),
        (
            "[credentials]\nmin_password_length = 0\n",
            "credentials.min_password_length: 0 is below 8",
        ),
        (
            "[credentials]\nmin_password_length = 512\n",
            "credentials.min_password_length: 512 is over 511",
        ),
    ] {
        let err = parse(text).unwrap_err().to_string();
        assert!(
            err.starts_with("the config /etc/ovaboot/ovaboot.toml: "),
            "{err}"
        );
        assert!(err.contains(key), "{text}: {err}");
    }
}

#[test]
fn an_explicit_file_must_exist() {
    let err = Config::load(Some(Path::new("/nonexistent/ovaboot.toml"))).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("cannot read the config /nonexistent/ovaboot.toml"),
        "{err}"
    );
}

/// The conffile the Debian package installs as /etc/ovaboot/ovaboot.toml.
const SHIPPED: &str = include_str!("../../packaging/ovaboot.toml");

/// The shipped file with every commented-out setting (`# key = value`,
/// `# [table]`, `# [[table]]`) made live; prose comments stay comments.
fn uncommented(text: &str) -> String {
    let setting = regex::Regex::new(r"^# ?(\[\[?[a-z_]+\]\]?|[a-z0-9_]+ = .*)$").unwrap();
    text.lines()
        .map(|line| match setting.captures(line) {
            Some(live) => live[1].to_owned(),
            None => line.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The keys the loader accepts under `header` (empty: the top level), as its
/// own unknown-key error lists them.
fn known_keys(header: &str) -> BTreeSet<String> {
    let err = parse(&format!("{header}\nnot_a_key = 1\n"))
        .unwrap_err()
        .to_string();
    let (_, expected) = err
        .split_once("expected")
        .unwrap_or_else(|| panic!("no list of known keys in: {err}"));
    let keys: BTreeSet<String> = expected
        .split('`')
        .skip(1)
        .step_by(2)
        .map(String::from)
        .collect();
    assert!(!keys.is_empty(), "{err}");
    keys
}

#[test]
fn the_shipped_file_as_installed_gives_every_default() {
    assert_eq!(parse(SHIPPED).unwrap(), Config::default());
}

#[test]
fn the_shipped_file_shows_every_key_the_loader_knows() {
    let live: toml::Table = toml::from_str(&uncommented(SHIPPED)).unwrap();
    let tables = known_keys("");
    assert_eq!(
        live.keys().cloned().collect::<BTreeSet<_>>(),
        tables,
        "top-level tables"
    );
    for table in &tables {
        let (header, shown) = match &live[table] {
            toml::Value::Array(routes) => (format!("[[{table}]]"), routes[0].as_table().unwrap()),
            value => (format!("[{table}]"), value.as_table().unwrap()),
        };
        assert_eq!(
            shown.keys().cloned().collect::<BTreeSet<_>>(),
            known_keys(&header),
            "keys of {header}"
        );
    }
}

#[test]
fn the_shipped_files_values_are_the_defaults() {
    let mut live = parse(&uncommented(SHIPPED)).unwrap();
    let default = Config::default();
    // Keys whose default is "unset" show the value that unset stands for.
    assert_eq!(
        live.contour.manifest_path(),
        default.contour.manifest_path()
    );
    live.contour.manifest = None;
    assert_eq!(
        live.kube.kubeconfig.take(),
        Some(PathBuf::from("/etc/rancher/k3s/k3s.yaml"))
    );
    let namespace = Some(crate::routes::DEFAULT_NAMESPACE.to_owned());
    assert_eq!(live.tls_secret.namespace.take(), namespace);
    assert_eq!(live.root_proxy.namespace.take(), namespace);
    // The digest's example is a placeholder for "unset".
    assert_eq!(
        live.auth.image_digest.take(),
        Some(format!("sha256:{}", "0".repeat(64)))
    );
    // A rewrite to the prefix itself forwards the path unchanged, as unset does.
    let mut routes = live.routes.take().unwrap();
    for route in &mut routes {
        if route.rewrite.as_ref() == Some(&route.prefix) {
            route.rewrite = None;
        }
    }
    assert_eq!(routes, crate::routes::default_routes());
    assert_eq!(live, default);
}

#[test]
fn the_host_retry_deadline_is_read_and_bounded_by_the_units_timeout() {
    assert_eq!(parse("").unwrap().host.retry_timeout_secs, 180);
    let config = parse("[host]\nretry_timeout_secs = 0\n").unwrap();
    assert_eq!(
        config.host.retry_timeout_secs, 0,
        "0: one attempt, no retry"
    );
    let err = parse("[host]\nretry_timeout_secs = 600\n")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("host.retry_timeout_secs: 600 is over 240"),
        "{err}"
    );
}

/// A host file planned absent is removed: a key naming a system file (or an
/// image's own networkd file, or another key's file) would delete it. Refused
/// when the config is read, naming the key.
#[test]
fn a_host_file_key_names_only_a_file_of_ovaboots_own() {
    for (key, path) in [
        ("proxy_env_file", "/etc/passwd"),
        ("proxy_env_file", "/etc/shadow"),
        ("proxy_env_file", "/etc/ovaboot/ovaboot.toml"),
        ("proxy_env_file", "/etc/systemd/network/10-ovaboot.network"),
        ("network_file", "/etc/systemd/network/99-dhcp-en.network"),
        (
            "network_file",
            "/etc/systemd/timesyncd.conf.d/ovaboot.network",
        ),
        ("network_file", "/etc/systemd/network/../../passwd.network"),
        ("network_file", "/etc/systemd/network/sub/ovaboot.network"),
        ("timesyncd_file", "/etc/systemd/timesyncd.conf"),
        ("timesyncd_file", "/etc/systemd/network/10-ovaboot.network"),
        (
            "timesyncd_file",
            "/etc/systemd/timesyncd.conf.d/./ovaboot.conf",
        ),
    ] {
        let err = parse(&format!("[host]\n{key} = \"{path}\"\n"))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(&format!(
                "the config /etc/ovaboot/ovaboot.toml: host.{key}: "
            )),
            "{key} = {path}: {err}"
        );
    }
    let err = parse("[host]\nproxy_env_file = \"/etc/passwd\"\n")
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "the config /etc/ovaboot/ovaboot.toml: host.proxy_env_file: /etc/passwd must end in .env (an environment file)"
    );
    let err = parse("[host]\nnetwork_file = \"/etc/systemd/network/99-dhcp-en.network\"\n")
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "the config /etc/ovaboot/ovaboot.toml: host.network_file: /etc/systemd/network/99-dhcp-en.network is not a file of ovaboot's own: it must be directly in /etc/systemd/network with \"ovaboot\" in its name (a file planned absent is removed)"
    );
    // Its own names in its own directories pass.
    let config = parse(
        "[host]\nproxy_env_file = \"/run/ovaboot/proxy-v2.env\"\n\
         network_file = \"/etc/systemd/network/05-ovaboot-static.network\"\n\
         timesyncd_file = \"/etc/systemd/timesyncd.conf.d/50-ovaboot.conf\"\n",
    )
    .unwrap();
    assert_eq!(
        config.host.network_file,
        Path::new("/etc/systemd/network/05-ovaboot-static.network")
    );
}

#[test]
fn a_wrong_type_names_the_key_not_only_its_table() {
    let err = parse("[host]\nproxy_units = []\nretry_timeout_secs = \"soon\"\n")
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with(
            "the config /etc/ovaboot/ovaboot.toml line 3: host.retry_timeout_secs: invalid type"
        ),
        "{err}"
    );
    let err = parse(
        "[[routes]]\nprefix = \"/\"\nservice = \"a\"\nport = 80\n\n[[routes]]\nprefix = \"/b\"\nservice = \"b\"\nport = \"eighty\"\n",
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("line 9: routes[1].port: invalid type"),
        "{err}"
    );
    let err = parse("[kube]\nrequest_timeout_secs = -1\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("kube.request_timeout_secs: "), "{err}");
}

#[test]
fn a_parsers_message_reaches_the_terminal_escaped() {
    let err = parse("[tls]\nkey_algorithm = \"rsa\\u001b[2J\\u0085\"\n")
        .unwrap_err()
        .to_string();
    assert!(!err.chars().any(crate::show::is_unsafe), "{err:?}");
    assert!(err.contains("rsa\\u{1b}[2J"), "{err}");
}

/// Two keys naming one file used to pass load and fail at write time with
/// only "planned twice": each host file key has directories of its own, and
/// a unit named twice in proxy_units is refused by name.
#[test]
fn no_two_host_file_keys_can_name_one_file() {
    use super::host::{NETWORK_FILE, PROXY_ENV_FILE, TIMESYNCD_FILE};
    let rules = [&PROXY_ENV_FILE, &NETWORK_FILE, &TIMESYNCD_FILE];
    for (i, a) in rules.iter().enumerate() {
        for b in &rules[i + 1..] {
            assert!(
                a.dirs.iter().all(|dir| !b.dirs.contains(dir)),
                "{} and {} share a directory",
                a.key,
                b.key
            );
        }
    }
    let err =
        parse("[host]\nproxy_units = [\"k3s.service\", \"containerd.service\", \"k3s.service\"]\n")
            .unwrap_err()
            .to_string();
    assert_eq!(
        err,
        "the config /etc/ovaboot/ovaboot.toml: host.proxy_units: \"k3s.service\" is named twice (each unit gets one drop-in)"
    );
}

#[test]
fn while_a_route_is_protected_the_minimum_must_fit_bcrypt_and_the_auth_namespace_be_its_own() {
    let open = "[[routes]]\nprefix = \"/\"\nservice = \"status\"\nport = 80\nauth = \"none\"\n";
    let long_minimum = "[credentials]\nmin_password_length = 100\n";
    // SHA-512-crypt takes it; with no protected route, nothing else must.
    parse(&format!("{long_minimum}{open}")).unwrap();
    let err = parse(long_minimum).unwrap_err().to_string();
    assert!(
        err.contains("credentials.min_password_length: 100 is over 72, the longest password bcrypt takes, and the default routes are protected"),
        "{err}"
    );
    for (namespace, what) in [
        ("projectcontour", "Contour's namespace"),
        ("ovaboot", "a route's namespace"),
    ] {
        let err = parse(&format!("[auth]\nnamespace = \"{namespace}\"\n"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(&format!("auth.namespace: \"{namespace}\" is also {what}")),
            "{err}"
        );
        // No protected route: no auth server, nothing shared.
        parse(&format!("[auth]\nnamespace = \"{namespace}\"\n{open}")).unwrap();
    }
    let err = parse("[auth]\nnamespace = \"certs\"\n[tls_secret]\nnamespace = \"certs\"\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("is also tls_secret.namespace"), "{err}");
    parse("[auth]\nnamespace = \"appliance-login\"\n").unwrap();
}
