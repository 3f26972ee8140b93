//! The xDS certificates a year and a day after first boot, through the CLI:
//! `status` shows them expired, `reconfigure --phase cluster` (the boot's and
//! the daily timer's run) mints new pairs under the same CA before it even
//! reads the OVF environment, writes them (keys 0600), and would apply the
//! two Secrets (the cluster is unreachable here: the run exits 1 and the next
//! one applies the pairs it then keeps). The Secrets themselves are judged
//! against a real API server in tests/controlplane_xds.rs.

mod cli_support;

use std::path::Path;

use cli_support::appliance::{Appliance, differences, snapshot};
use cli_support::{mode, openssl, text};
use ovaboot::xds::{self, Kept, XdsConfig};
use serde_json::Value;
use time::{Duration, OffsetDateTime};

const PROPERTIES: &[(&str, &str)] = &[
    ("guestinfo.hostname", cli_support::FQDN),
    ("guestinfo.root_password", "first-Password-4-day-one"),
];

const XDS: [&str; 6] = [
    "etc/ovaboot/tls/xds/ca.crt",
    "etc/ovaboot/tls/xds/ca.key",
    "etc/ovaboot/tls/xds/contour.crt",
    "etc/ovaboot/tls/xds/contour.key",
    "etc/ovaboot/tls/xds/envoy.crt",
    "etc/ovaboot/tls/xds/envoy.key",
];

/// The xDS CA and pairs as first boot would have made them `days` ago, and
/// recorded as applied then.
fn xds_minted_days_ago(root: &Path, days: i64) {
    let then = OffsetDateTime::now_utc() - Duration::days(days);
    let plan = xds::plan(&Kept::default(), &XdsConfig::default(), then).unwrap();
    ovaboot::apply::files::write_files(root, &plan.files()).unwrap();
    xds::record::store(root, &plan, then).unwrap();
}

/// `status --json`, which exits with `code`.
fn status_json(appliance: &Appliance, code: i32) -> Value {
    let out = cli_support::ovaboot(&[
        "status",
        "--json",
        "--root",
        appliance.root.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(code), "{}", text(&out.stdout));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn verify(root: &Path, leaf: &str, purpose: &str) -> String {
    let ca = root.join("etc/ovaboot/tls/xds/ca.crt");
    let out = std::process::Command::new("openssl")
        .args(["verify", "-purpose", purpose, "-CAfile"])
        .arg(&ca)
        .arg(root.join(leaf))
        .output()
        .unwrap();
    text(&out.stdout) + &text(&out.stderr)
}

#[test]
fn a_year_and_a_day_later_the_cluster_run_renews_both_pairs_under_the_same_ca() {
    let appliance = Appliance::new();
    let env = appliance.env("a.xml", PROPERTIES);
    appliance.first_boot(&env);
    xds_minted_days_ago(&appliance.root, 366);
    let ca_before = appliance.read(XDS[0]);
    let ca_key_before = appliance.read(XDS[1]);

    // status: done (first boot is), both pairs expired, the CA not.
    let status = status_json(&appliance, 0);
    let certificates = status["certificates"].as_array().unwrap();
    let names: Vec<&str> = certificates
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "TLS serving certificate",
            "xDS CA",
            "Contour's xDS serving pair",
            "envoy's xDS client pair",
            // The default routes are protected: the auth server's too.
            "auth server CA",
            "auth server's serving pair"
        ]
    );
    assert_eq!(certificates[5]["warning"], false, "minted at first boot");
    assert_eq!(certificates[2]["days_left"], -1);
    assert_eq!(certificates[2]["subject"], "CN=contour");
    assert_eq!(certificates[3]["warning"], true);
    assert_eq!(certificates[1]["warning"], false);
    let out = cli_support::ovaboot(&["status", "--root", appliance.root.to_str().unwrap()]);
    let shown = text(&out.stdout);
    assert!(
        shown.contains("  Contour's xDS serving pair: CN=contour, until ")
            && shown.contains("(-1 days left)  EXPIRED")
            && shown.contains("warning:      certificate Contour's xDS serving pair (CN=contour) expired 1 day ago"),
        "{shown}"
    );
    assert!(verify(&appliance.root, XDS[2], "sslserver").contains("certificate has expired"));

    // The cluster run, with an OVF environment that cannot even be read:
    // the xDS step comes first and depends on none of it.
    let before = snapshot(&appliance.root);
    let out = appliance.run(
        "reconfigure",
        "/nonexistent/ovf-env.xml",
        &["--phase", "cluster"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("the API server did not answer"),
        "{}",
        text(&out.stderr)
    );
    let changed = differences(&before, &snapshot(&appliance.root));
    for pair in [&XDS[2..4], &XDS[4..6]] {
        for file in pair {
            assert!(
                changed.contains(&file.to_string()),
                "{file} not renewed: {changed:?}"
            );
        }
    }
    assert_eq!(appliance.read(XDS[0]), ca_before, "the CA is kept");
    assert_eq!(appliance.read(XDS[1]), ca_key_before);
    for key in [XDS[1], XDS[3], XDS[5]] {
        assert_eq!(mode(&appliance.root.join(key)), 0o600, "{key}");
    }
    assert_eq!(mode(&appliance.root.join("etc/ovaboot/tls/xds")), 0o700);
    assert!(verify(&appliance.root, XDS[2], "sslserver").ends_with("OK\n"));
    assert!(verify(&appliance.root, XDS[4], "sslclient").ends_with("OK\n"));
    let dns = openssl(
        &["x509", "-noout", "-ext", "subjectAltName"],
        &appliance.read(XDS[2]),
    );
    assert!(dns.contains("DNS:contour, DNS:contour.projectcontour, DNS:contour.projectcontour.svc, DNS:contour.projectcontour.svc.cluster.local"), "{dns}");
    let state: Value =
        serde_json::from_slice(&appliance.read("var/lib/ovaboot/state.json")).unwrap();
    assert_eq!(state["outcome"], "waiting_to_retry");
    assert!(state.get("certificate_warning").is_none(), "{state}");
    // Nothing recorded as applied: the Secrets still hold the old pairs.
    let record: Value =
        serde_json::from_slice(&appliance.read("var/lib/ovaboot/xds.json")).unwrap();
    assert_ne!(
        record["applied"]["contour"],
        cli_support::openssl_fingerprint(&appliance.read(XDS[2]))
    );

    // The next run keeps the pairs it wrote and tries to apply them again.
    let before = snapshot(&appliance.root);
    let out = appliance.run(
        "reconfigure",
        "/nonexistent/ovf-env.xml",
        &["--phase", "cluster"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let again = differences(&before, &snapshot(&appliance.root));
    assert!(again.iter().all(|f| !f.starts_with("etc/")), "{again:?}");

    // status: waiting to retry (the Secrets), every certificate far from its end again.
    let status = status_json(&appliance, 1);
    assert_eq!(status["status"], "waiting to retry");
    assert!(
        status["certificates"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["warning"] == false),
        "{status}"
    );
}

#[test]
fn a_dry_run_and_the_host_phase_leave_the_xds_pairs_alone() {
    let appliance = Appliance::new();
    let env = appliance.env("a.xml", PROPERTIES);
    appliance.first_boot(&env);
    xds_minted_days_ago(&appliance.root, 340);
    let before = snapshot(&appliance.root);
    let out = appliance.reconfigure(&env, &["--phase", "cluster", "--dry-run"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = appliance.reconfigure(&env, &["--phase", "host"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(differences(&before, &snapshot(&appliance.root)), [""; 0]);
}

#[test]
fn a_ca_within_its_window_is_renewed_with_its_key_kept() {
    let appliance = Appliance::new();
    let env = appliance.env("a.xml", PROPERTIES);
    appliance.first_boot(&env);
    // The CA within its own window: renewed with its key kept.
    let then = OffsetDateTime::now_utc() - Duration::days(3650 - 100);
    let config = XdsConfig {
        lifetime_days: 365,
        ..XdsConfig::default()
    };
    let plan = xds::plan(&Kept::default(), &config, then).unwrap();
    ovaboot::apply::files::write_files(&appliance.root, &plan.files()).unwrap();
    xds::record::store(&appliance.root, &plan, then).unwrap();
    let state = ovaboot::state::load(&appliance.root).unwrap().unwrap();
    assert_eq!(state.certificate_warning, None);

    let out = appliance.run("reconfigure", &env, &["--phase", "cluster"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let ca_key_after = appliance.read(XDS[1]);
    assert_eq!(
        ca_key_after,
        plan.ca.key_pem.expose().as_bytes(),
        "the CA's key is kept"
    );
    assert_ne!(
        appliance.read(XDS[0]),
        plan.ca.cert_pem.as_bytes(),
        "under a new certificate"
    );
    // Renewed on disk: no warning.
    let state = ovaboot::state::load(&appliance.root).unwrap().unwrap();
    assert_eq!(state.certificate_warning, None);
}
