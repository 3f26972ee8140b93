use time::OffsetDateTime;

use super::*;
use crate::settings::endpoint::EndpointLogin;

fn login(password: Option<&str>) -> EndpointLogin {
    EndpointLogin {
        username: "admin".to_owned(),
        password: password.map(|p| Secret::new(p.to_owned())),
    }
}

fn inputs<'a>(
    config: &'a AuthConfig,
    pki: &'a XdsConfig,
    credentials: &'a CredentialsConfig,
) -> Inputs<'a> {
    Inputs {
        config,
        pki,
        credentials,
    }
}

fn kept_from(plan: &AuthPlan) -> Kept {
    let pair = |p: &Pair| KeptPair {
        cert_pem: p.cert_pem.clone(),
        key_pem: p.key_pem.clone(),
    };
    Kept {
        ca: Some(pair(&plan.ca)),
        serving: Some(pair(&plan.serving)),
        line: Some(plan.line.clone()),
    }
}

const PASSWORD: &str = "correct horse battery";

/// The plan with default config for `password`, from `kept`, at `now`.
fn planned(password: &str, kept: &Kept, now: OffsetDateTime) -> AuthPlan {
    let (config, pki, credentials) = (
        AuthConfig::default(),
        XdsConfig::default(),
        CredentialsConfig::default(),
    );
    plan(
        &login(Some(password)),
        "p",
        kept,
        &inputs(&config, &pki, &credentials),
        now,
    )
    .unwrap()
}

#[test]
fn no_protected_route_needs_no_password_and_a_protected_one_does() {
    let credentials = CredentialsConfig::default();
    assert_eq!(check(&login(None), None, &credentials), Ok(()));
    let err = check(
        &login(None),
        Some("routes[1] (\"/events\") is protected"),
        &credentials,
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "guestinfo.endpoint_password: is required: routes[1] (\"/events\") is protected (auth = \"required\" is the default); set the password, or set auth = \"none\" on every route"
    );
    let err = check(&login(Some("short-pass")), Some("x"), &credentials).unwrap_err();
    assert_eq!(
        err.to_string(),
        "guestinfo.endpoint_password: is 10 characters long; at least 12 are required ([credentials] min_password_length)"
    );
    assert!(!err.to_string().contains("short-pass"));
}

#[test]
fn a_rerun_keeps_everything_and_a_new_password_changes_only_the_line() {
    let now = OffsetDateTime::now_utc();
    let first = planned(PASSWORD, &Kept::default(), now);
    assert_eq!(first.line_source, LineSource::New);
    assert_eq!(first.minted.len(), 2, "{:?}", first.minted);

    let again = planned(PASSWORD, &kept_from(&first), now);
    assert_eq!(again.line_source, LineSource::Kept);
    assert!(again.minted.is_empty(), "{:?}", again.minted);
    assert_eq!(again.line.expose(), first.line.expose());
    assert_eq!(again.serving.sha256, first.serving.sha256);
    // The same objects: a re-apply changes nothing.
    let (a, b) = (first.objects(), again.objects());
    assert_eq!(a.plain, b.plain);
    assert_eq!(
        a.login_secret.expose().value(),
        b.login_secret.expose().value()
    );
    assert_eq!(a.tls_secret.expose().value(), b.tls_secret.expose().value());

    let changed = planned("another password here", &kept_from(&first), now);
    assert_eq!(changed.line_source, LineSource::Replaced);
    assert_ne!(changed.line.expose(), first.line.expose());
    assert_eq!(changed.serving.sha256, first.serving.sha256);
}

#[test]
fn a_pair_near_its_end_is_renewed_under_the_kept_ca() {
    let now = OffsetDateTime::now_utc();
    let first = planned(PASSWORD, &Kept::default(), now);
    let later = now
        + time::Duration::days(
            i64::from(XdsConfig::default().lifetime_days - XdsConfig::default().renew_before_days)
                + 1,
        );
    let renewed = planned(PASSWORD, &kept_from(&first), later);
    assert_eq!(renewed.ca.sha256, first.ca.sha256, "the CA is kept");
    assert_ne!(renewed.serving.sha256, first.serving.sha256);
    assert_eq!(renewed.minted.len(), 1, "{:?}", renewed.minted);
    let deployment = |p: &AuthPlan| {
        p.objects()
            .plain
            .into_iter()
            .find(|o| o["kind"] == "Deployment")
            .unwrap()
    };
    assert_ne!(
        deployment(&first)["spec"]["template"],
        deployment(&renewed)["spec"]["template"],
        "a renewed pair rolls the Deployment"
    );
}

#[test]
fn the_objects_are_locked_down_and_hold_no_password() {
    let plan = planned(PASSWORD, &Kept::default(), OffsetDateTime::now_utc());
    let objects = plan.objects();
    let kinds: Vec<&str> = objects
        .plain
        .iter()
        .map(|o| o["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "Namespace",
            "ServiceAccount",
            "Role",
            "RoleBinding",
            "Deployment",
            "Service",
            "ExtensionService"
        ]
    );
    let find = |kind: &str| objects.plain.iter().find(|o| o["kind"] == kind).unwrap();
    assert_eq!(
        find("Role")["rules"],
        serde_json::json!([{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list", "watch"]}])
    );
    assert_eq!(find("Role")["metadata"]["namespace"], "projectcontour-auth");
    let pod = &find("Deployment")["spec"]["template"]["spec"];
    let container = &pod["containers"][0];
    assert_eq!(
        container["image"],
        "ghcr.io/projectcontour/contour-authserver:v4"
    );
    let args: Vec<&str> = container["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    for wanted in [
        "htpasswd",
        "--watch-namespaces=projectcontour-auth",
        "--selector=ovaboot.io/htpasswd=endpoint-login",
        "--auth-realm=ovaboot",
        "--tls-cert-path=/tls/tls.crt",
    ] {
        assert!(args.contains(&wanted), "{wanted} in {args:?}");
    }
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_eq!(container["securityContext"]["readOnlyRootFilesystem"], true);
    assert_eq!(
        container["securityContext"]["allowPrivilegeEscalation"],
        false
    );
    assert_eq!(
        container["securityContext"]["capabilities"]["drop"],
        serde_json::json!(["ALL"])
    );
    assert!(container["resources"]["limits"]["memory"].is_string());
    assert!(container["readinessProbe"]["tcpSocket"].is_object());
    let extension = find("ExtensionService");
    assert_eq!(extension["spec"]["protocol"], "h2");
    assert_eq!(
        extension["spec"]["validation"],
        serde_json::json!({"caSecret": "htpasswd-ca", "subjectName": "htpasswd.projectcontour-auth.svc"})
    );
    let ca = objects.ca_secret.expose().value();
    assert_eq!(ca["metadata"]["name"], "htpasswd-ca");
    assert_eq!(
        ca["data"].as_object().unwrap().len(),
        1,
        "the CA alone, no key"
    );

    let login = objects.login_secret.expose().value();
    assert_eq!(
        login["metadata"]["annotations"]["projectcontour.io/auth-type"],
        "basic"
    );
    assert_eq!(
        login["metadata"]["annotations"]["projectcontour.io/auth-realm"],
        "ovaboot"
    );
    assert_eq!(
        login["metadata"]["labels"]["ovaboot.io/htpasswd"],
        "endpoint-login"
    );
    use base64::Engine;
    let line = base64::engine::general_purpose::STANDARD
        .decode(login["data"]["auth"].as_str().unwrap())
        .unwrap();
    let line = String::from_utf8(line).unwrap();
    assert!(
        line.starts_with("admin:$2y$10$") && line.ends_with('\n'),
        "{line}"
    );
    assert!(!line.contains(PASSWORD));

    // Nothing shows the password or the hash.
    let everything = format!(
        "{plan:?} {:?} {:?} {}",
        objects.login_secret,
        objects.tls_secret,
        serde_json::to_string(&AuthSummary::of(&plan)).unwrap()
    );
    assert!(!everything.contains(PASSWORD));
    assert!(!everything.contains(line.trim_end()));
    assert!(!everything.contains("$2y$"));
}

#[test]
fn files_are_0600_keys_and_line_in_0700_folders() {
    let plan = planned(PASSWORD, &Kept::default(), OffsetDateTime::now_utc());
    let files = plan.files();
    assert_eq!(files.len(), PATHS.len());
    for file in &files {
        assert!(is_auth_file(&file.path));
        assert_eq!(file.dir_mode, Some(0o700), "{}", file.path.display());
        let secret = file.path.ends_with("ca.key")
            || file.path.ends_with("tls.key")
            || file.path.ends_with("htpasswd");
        assert_eq!(file.contents.is_secret(), secret, "{}", file.path.display());
        assert_eq!(file.mode, if secret { 0o600 } else { 0o644 });
    }
}

#[test]
fn what_is_kept_on_disk_is_read_back_and_reused() {
    let root = tempfile::tempdir().unwrap();
    let now = OffsetDateTime::now_utc();
    let first = planned(PASSWORD, &read_kept(root.path()), now);
    crate::apply::files::write_files(root.path(), &first.files()).unwrap();
    let again = planned(PASSWORD, &read_kept(root.path()), now);
    assert_eq!(again.line_source, LineSource::Kept);
    assert!(again.minted.is_empty(), "{:?}", again.minted);
}

#[test]
fn the_extension_service_conforms_to_the_pinned_crd() {
    use crate::contour::schema_check::{crd_schema, validate};
    let plan = planned(PASSWORD, &Kept::default(), OffsetDateTime::now_utc());
    let schema = crd_schema(
        &crate::contour::test_support::real_objects(),
        "extensionservices.projectcontour.io",
        "v1alpha1",
    );
    let objects = plan.objects();
    let extension = objects
        .plain
        .iter()
        .find(|o| o["kind"] == "ExtensionService")
        .unwrap();
    assert_eq!(validate(extension, &schema), Vec::<String>::new());
}
