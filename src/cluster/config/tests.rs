use super::*;

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Root {
    kube: KubeConfig,
}

#[test]
fn empty_kube_table_takes_every_default() {
    let root: Root = toml::from_str("[kube]\n").unwrap();
    assert_eq!(root.kube, KubeConfig::default());
}

#[test]
fn keys_override_defaults_and_become_durations() {
    let root: Root = toml::from_str(
            "[kube]\nkubeconfig = \"/srv/k.yaml\"\nworkload_ready_timeout_secs = 30\npoll_interval_secs = 0\n",
        )
        .unwrap();
    assert_eq!(root.kube.kubeconfig, Some(PathBuf::from("/srv/k.yaml")));
    let o = ApplyOptions::from(&root.kube);
    assert_eq!(o.workload_ready_timeout, Duration::from_secs(30));
    assert_eq!(
        o.poll_interval,
        Duration::from_secs(1),
        "zero is raised to the floor"
    );
    assert_eq!(o.crd_established_timeout, Duration::from_secs(60));
}

#[test]
fn unknown_key_is_refused_and_named() {
    let err = toml::from_str::<Root>("[kube]\nwait_timeout = 5\n").unwrap_err();
    assert!(err.to_string().contains("wait_timeout"), "{err}");
}
