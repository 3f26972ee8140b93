use serde_json::{Value, json};

use super::*;
use crate::contour::schema_check::{crd_schema, validate};
use crate::contour::test_support::real_objects;
use crate::routes::{RouteConfig, RoutesConfig};

fn hostname() -> Hostname {
    "veba01.lab.example.com".parse().unwrap()
}

fn config(fixture: &str) -> RoutesConfig {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/routes")
        .join(fixture);
    toml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

fn error(toml_text: &str) -> String {
    let config: RoutesConfig = toml::from_str(toml_text).unwrap();
    plan(&hostname(), &config, None).unwrap_err().to_string()
}

const MANAGED: &str = "app.kubernetes.io/managed-by";

/// Every HTTPProxy and TLSCertificateDelegation conforms to the CRD schema of
/// the pinned release: no field ovaboot emits is unknown to Contour.
fn assert_conforms_to_crds(plan: &RoutesPlan) {
    let manifest = real_objects();
    let proxy = crd_schema(&manifest, "httpproxies.projectcontour.io", "v1");
    let delegation = crd_schema(
        &manifest,
        "tlscertificatedelegations.projectcontour.io",
        "v1",
    );
    for object in &plan.objects {
        let schema = match object["kind"].as_str() {
            Some("HTTPProxy") => &proxy,
            Some("TLSCertificateDelegation") => &delegation,
            other => panic!("unexpected kind {other:?}"),
        };
        let errors = validate(object, schema);
        assert!(
            errors.is_empty(),
            "{}: {errors:#?}",
            crate::contour::describe(object)
        );
    }
}

fn kinds(objects: &[Value]) -> Vec<String> {
    objects.iter().map(crate::contour::describe).collect()
}

#[test]
fn default_routes_serve_status_and_bootstrap_log() {
    let plan = plan(&hostname(), &RoutesConfig::default(), None).unwrap();
    assert_eq!(kinds(&plan.namespaces), ["Namespace ovaboot"]);
    assert_eq!(
        plan.secret,
        SecretRef {
            namespace: "ovaboot".into(),
            name: "ovaboot-tls".into()
        }
    );
    assert_eq!(
        plan.objects,
        [json!({
            "apiVersion": "projectcontour.io/v1",
            "kind": "HTTPProxy",
            "metadata": {"name": "ovaboot", "namespace": "ovaboot", "labels": {MANAGED: "ovaboot"}},
            "spec": {
                "virtualhost": {
                    "fqdn": "veba01.lab.example.com",
                    "tls": {"secretName": "ovaboot-tls"},
                },
                "routes": [
                    {"conditions": [{"prefix": "/"}], "services": [{"name": "status", "port": 80}]},
                    {"conditions": [{"prefix": "/bootstrap"}], "services": [{"name": "bootstrap-log", "port": 80}]},
                ],
            },
        })]
    );
    assert_eq!(
        plan.proxies,
        [ProxyRef {
            namespace: "ovaboot".into(),
            name: "ovaboot".into()
        }]
    );
    assert_eq!(plan.routes, crate::routes::default_routes());
    assert_conforms_to_crds(&plan);
}

#[test]
fn single_namespace_routes_sit_on_the_root_proxy() {
    let plan = plan(&hostname(), &config("single-namespace.toml"), None).unwrap();
    assert_eq!(kinds(&plan.namespaces), ["Namespace vmware-system"]);
    assert_eq!(kinds(&plan.objects), ["HTTPProxy vmware-system/ovaboot"]);
    let spec = &plan.objects[0]["spec"];
    assert_eq!(spec["virtualhost"]["tls"]["secretName"], "ovaboot-tls");
    assert!(spec.get("includes").is_none());
    assert_eq!(
        spec["routes"][1],
        json!({"conditions": [{"prefix": "/api"}], "services": [{"name": "api-server", "port": 8443}]})
    );
    assert_eq!(plan.secret.namespace, "vmware-system");
    assert_conforms_to_crds(&plan);
}

#[test]
fn other_namespaces_are_included_through_one_child_each() {
    let plan = plan(
        &hostname(),
        &config("multi-namespace-with-includes.toml"),
        None,
    )
    .unwrap();
    assert_eq!(
        kinds(&plan.namespaces),
        [
            "Namespace vmware-system",
            "Namespace vmware-events",
            "Namespace vmware-functions"
        ]
    );
    assert_eq!(
        kinds(&plan.objects),
        [
            "HTTPProxy vmware-events/ovaboot-routes",
            "HTTPProxy vmware-functions/ovaboot-routes",
            "HTTPProxy vmware-system/ovaboot",
        ]
    );
    let events = &plan.objects[0];
    assert!(
        events["spec"].get("virtualhost").is_none(),
        "a child has no virtualhost"
    );
    assert_eq!(
        events["spec"]["routes"],
        json!([
            {"conditions": [{"prefix": "/events"}], "services": [{"name": "event-router", "port": 8080}]},
            {"conditions": [{"prefix": "/metrics"}], "services": [{"name": "event-metrics", "port": 9090}]},
        ])
    );
    let root = &plan.objects[2]["spec"];
    assert_eq!(
        root["includes"],
        json!([
            {"name": "ovaboot-routes", "namespace": "vmware-events"},
            {"name": "ovaboot-routes", "namespace": "vmware-functions"},
        ])
    );
    assert_eq!(root["routes"].as_array().unwrap().len(), 1);
    // The Secret sits beside the root proxy: no delegation needed.
    assert_eq!(root["virtualhost"]["tls"]["secretName"], "ovaboot-tls");
    assert!(
        !plan
            .objects
            .iter()
            .any(|o| o["kind"] == "TLSCertificateDelegation")
    );
    // Wait for the children, then the root.
    let waits: Vec<String> = plan
        .proxies
        .iter()
        .map(|p| format!("{}/{}", p.namespace, p.name))
        .collect();
    assert_eq!(
        waits,
        [
            "vmware-events/ovaboot-routes",
            "vmware-functions/ovaboot-routes",
            "vmware-system/ovaboot"
        ]
    );
    assert_conforms_to_crds(&plan);
}

#[test]
fn a_secret_in_another_namespace_is_delegated_to_the_root() {
    let plan = plan(
        &hostname(),
        &config("secret-in-another-namespace.toml"),
        None,
    )
    .unwrap();
    // `default` always exists: not claimed with a Namespace object.
    assert_eq!(
        kinds(&plan.namespaces),
        ["Namespace ovaboot", "Namespace ovaboot-certs"]
    );
    assert_eq!(
        plan.secret,
        SecretRef {
            namespace: "ovaboot-certs".into(),
            name: "appliance-cert".into()
        }
    );
    assert_eq!(
        kinds(&plan.objects),
        [
            "TLSCertificateDelegation ovaboot-certs/appliance-cert",
            "HTTPProxy default/appliance-routes",
            "HTTPProxy ovaboot/appliance",
        ]
    );
    assert_eq!(
        plan.objects[0]["spec"],
        json!({"delegations": [{"secretName": "appliance-cert", "targetNamespaces": ["ovaboot"]}]})
    );
    assert_eq!(
        plan.objects[2]["spec"]["virtualhost"]["tls"]["secretName"],
        "ovaboot-certs/appliance-cert"
    );
    assert_conforms_to_crds(&plan);
}

#[test]
fn rewrite_websocket_and_permit_insecure_become_route_fields() {
    let plan = plan(
        &hostname(),
        &config("rewrite-websocket-insecure.toml"),
        None,
    )
    .unwrap();
    let routes = &plan.objects[0]["spec"]["routes"];
    assert_eq!(
        routes[0],
        json!({
            "conditions": [{"prefix": "/console"}],
            "services": [{"name": "console", "port": 8080}],
            "pathRewritePolicy": {"replacePrefix": [{"prefix": "/console", "replacement": "/"}]},
            "enableWebsockets": true,
        })
    );
    assert_eq!(
        routes[1],
        json!({
            "conditions": [{"prefix": "/.well-known/acme-challenge"}],
            "services": [{"name": "acme-solver", "port": 8089}],
            "permitInsecure": true,
        })
    );
    // Routes without a namespace land in `ovaboot`.
    assert_eq!(plan.objects[0]["metadata"]["namespace"], "ovaboot");
    assert_conforms_to_crds(&plan);
}

#[test]
fn root_proxy_namespace_comes_from_config() {
    let mut config = config("multi-namespace-with-includes.toml");
    config.root_proxy.namespace = Some("vmware-functions".into());
    let plan = plan(&hostname(), &config, None).unwrap();
    assert_eq!(
        kinds(&plan.objects),
        [
            "HTTPProxy vmware-system/ovaboot-routes",
            "HTTPProxy vmware-events/ovaboot-routes",
            "HTTPProxy vmware-functions/ovaboot",
        ]
    );
    assert_eq!(plan.secret.namespace, "vmware-functions");
    assert_eq!(kinds(&plan.namespaces)[0], "Namespace vmware-functions");
    assert_conforms_to_crds(&plan);
}

#[test]
fn a_root_with_no_routes_of_its_own_only_includes() {
    let mut config = config("single-namespace.toml");
    config.root_proxy.namespace = Some("ovaboot".into());
    let plan = plan(&hostname(), &config, None).unwrap();
    let root = plan.objects.last().unwrap();
    assert!(root["spec"].get("routes").is_none());
    assert_eq!(
        root["spec"]["includes"],
        json!([{"name": "ovaboot-routes", "namespace": "vmware-system"}])
    );
    assert_conforms_to_crds(&plan);
}

#[test]
fn apply_order_puts_the_secret_between_namespaces_and_proxies() {
    let plan = plan(
        &hostname(),
        &config("secret-in-another-namespace.toml"),
        None,
    )
    .unwrap();
    let secret = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "appliance-cert", "namespace": "ovaboot-certs"}});
    assert_eq!(
        kinds(&plan.in_apply_order(secret)),
        [
            "Namespace ovaboot",
            "Namespace ovaboot-certs",
            "Secret ovaboot-certs/appliance-cert",
            "TLSCertificateDelegation ovaboot-certs/appliance-cert",
            "HTTPProxy default/appliance-routes",
            "HTTPProxy ovaboot/appliance",
        ]
    );
}

#[test]
fn validation_errors_name_the_config_key() {
    let route = |extra: &str| {
        format!("[[routes]]\nprefix = \"/\"\nservice = \"ui\"\nport = 80\n\n[[routes]]\n{extra}")
    };
    let cases = [
        (
            route("prefix = \"/x\"\nservice = \"ui\"\nport = 0\n"),
            "routes[1].port: 0 is not a port number (1-65535) (route \"/x\")",
        ),
        (
            route("prefix = \"/x\"\nservice = \"ui\"\nport = 65536\n"),
            "routes[1].port: 65536 is not a port number (1-65535) (route \"/x\")",
        ),
        (
            route("prefix = \"x\"\nservice = \"ui\"\nport = 80\n"),
            "routes[1].prefix: \"x\" must start with '/'",
        ),
        (
            route("prefix = \"/a b\"\nservice = \"ui\"\nport = 80\n"),
            "routes[1].prefix: \"/a b\" contains ' ', which a URL path cannot",
        ),
        (
            route("prefix = \"/\"\nservice = \"api\"\nport = 80\n"),
            "routes[1].prefix: \"/\" is already the prefix of routes[0]",
        ),
        (
            route("prefix = \"/x\"\nservice = \"Api_Server\"\nport = 80\n"),
            "routes[1].service: \"Api_Server\" is not a DNS-1035 label: use only lowercase letters, digits and '-' (route \"/x\")",
        ),
        (
            route("prefix = \"/x\"\nservice = \"9api\"\nport = 80\n"),
            "routes[1].service: \"9api\" is not a DNS-1035 label: it must start with a letter (route \"/x\")",
        ),
        (
            route("prefix = \"/x\"\nservice = \"api\"\nnamespace = \"team.a\"\nport = 80\n"),
            "routes[1].namespace: \"team.a\" is not a DNS-1123 label: use only lowercase letters, digits and '-' (route \"/x\")",
        ),
        (
            route("prefix = \"/x\"\nservice = \"api\"\nport = 80\nrewrite = \"\"\n"),
            "routes[1].rewrite: \"\" must start with '/' (route \"/x\")",
        ),
        (
            "routes = []\n".to_owned(),
            "routes: is an empty list; remove it to get the default routes, or add a [[routes]] table",
        ),
        (
            "[tls_secret]\nname = \"Ovaboot TLS\"\n".to_owned(),
            "tls_secret.name: \"Ovaboot TLS\" is not a DNS-1123 subdomain: use only lowercase letters, digits and '-'",
        ),
        (
            "[tls_secret]\nnamespace = \"-certs\"\n".to_owned(),
            "tls_secret.namespace: \"-certs\" is not a DNS-1123 label: it must start and end with a letter or digit",
        ),
        (
            "[root_proxy]\nnamespace = \"\"\n".to_owned(),
            "root_proxy.namespace: \"\" is not a DNS-1123 label: it is empty",
        ),
        (
            format!("[root_proxy]\nname = \"{}\"\n", "a".repeat(250)),
            "root_proxy.name: ",
        ),
    ];
    for (toml_text, message) in cases {
        let got = error(&toml_text);
        assert!(
            got.starts_with(message),
            "config:\n{toml_text}\nwanted: {message}\ngot:    {got}"
        );
        assert!(!got.contains('\n'), "{got}");
    }
}

#[test]
fn unknown_keys_in_a_route_are_refused_by_name() {
    let err = toml::from_str::<RoutesConfig>(
        "[[routes]]\nprefix = \"/\"\nservice = \"ui\"\nport = 80\nwebsockets = true\n",
    )
    .unwrap_err();
    assert!(err.to_string().contains("websockets"), "{err}");
    let err =
        toml::from_str::<RoutesConfig>("[[routes]]\nprefix = \"/\"\nport = 80\n").unwrap_err();
    assert!(err.to_string().contains("service"), "{err}");
}

#[test]
fn route_fields_default_as_documented() {
    let config: RoutesConfig =
        toml::from_str("[[routes]]\nprefix = \"/\"\nservice = \"ui\"\nport = 80\n").unwrap();
    assert_eq!(
        config.routes.unwrap()[0],
        RouteConfig {
            prefix: "/".into(),
            service: "ui".into(),
            namespace: "ovaboot".into(),
            port: 80,
            rewrite: None,
            websocket: false,
            permit_insecure: false,
            auth: crate::routes::RouteAuth::Required,
        }
    );
    assert_eq!(config.tls_secret.name, "ovaboot-tls");
    assert_eq!(config.root_proxy.name, "ovaboot");
}

fn authorization() -> Authorization {
    Authorization {
        namespace: "projectcontour-auth".into(),
        name: "htpasswd".into(),
        response_timeout: "5s".into(),
    }
}

#[test]
fn a_protected_root_names_the_extension_service_and_open_routes_opt_out() {
    let config: RoutesConfig = toml::from_str(
        r#"
[[routes]]
prefix = "/"
service = "ui"
port = 80

[[routes]]
prefix = "/healthz"
service = "ui"
port = 80
auth = "none"

[[routes]]
prefix = "/events"
service = "router"
namespace = "vmware-events"
port = 8080
auth = "none"
permit_insecure = true
"#,
    )
    .unwrap();
    assert_eq!(
        config.protected().as_deref(),
        Some("routes[0] (\"/\") is protected")
    );
    let plan = plan(&hostname(), &config, Some(&authorization())).unwrap();
    assert_conforms_to_crds(&plan);
    let root = plan.objects.last().unwrap();
    assert_eq!(
        root["spec"]["virtualhost"]["authorization"],
        json!({
            "extensionRef": {"name": "htpasswd", "namespace": "projectcontour-auth"},
            "failOpen": false,
            "responseTimeout": "5s",
        })
    );
    let routes = root["spec"]["routes"].as_array().unwrap();
    assert!(routes[0].get("authPolicy").is_none(), "/ is protected");
    assert_eq!(routes[1]["authPolicy"], json!({"disabled": true}));
    // The included child's open route opts out too.
    let child = &plan.objects[0];
    assert_eq!(child["metadata"]["namespace"], "vmware-events");
    assert_eq!(
        child["spec"]["routes"][0]["authPolicy"],
        json!({"disabled": true})
    );
    assert_eq!(child["spec"]["routes"][0]["permitInsecure"], true);
}

#[test]
fn without_authorization_no_route_carries_an_auth_policy() {
    let plan = plan(
        &hostname(),
        &config("rewrite-websocket-insecure.toml"),
        None,
    )
    .unwrap();
    let text = serde_json::to_string(&plan.objects).unwrap();
    assert!(!text.contains("authorization") && !text.contains("authPolicy"));
}

#[test]
fn a_protected_route_on_plain_http_is_refused_naming_the_key() {
    let err = error(
        "[[routes]]\nprefix = \"/ui\"\nservice = \"ui\"\nport = 80\npermit_insecure = true\n",
    );
    assert_eq!(
        err,
        "routes[0].permit_insecure: cannot be true on a route with auth = \"required\" (the default): plain HTTP would serve it without the login; set auth = \"none\" or permit_insecure = false (route \"/ui\")"
    );
    let open: RoutesConfig = toml::from_str(
        "[[routes]]\nprefix = \"/ui\"\nservice = \"ui\"\nport = 80\nauth = \"none\"\n",
    )
    .unwrap();
    assert_eq!(open.protected(), None);
    assert_eq!(
        RoutesConfig::default().protected().as_deref(),
        Some("the default routes are protected")
    );
}
