use super::*;

#[test]
fn collection_paths_for_core_grouped_namespaced_and_cluster_kinds() {
    let ns = Resource {
        plural: "deployments".into(),
        namespaced: true,
    };
    assert_eq!(
        ns.collection_path("apps/v1", "projectcontour"),
        "/apis/apps/v1/namespaces/projectcontour/deployments"
    );
    let core = Resource {
        plural: "secrets".into(),
        namespaced: true,
    };
    assert_eq!(
        core.collection_path("v1", "projectcontour"),
        "/api/v1/namespaces/projectcontour/secrets"
    );
    let cluster = Resource {
        plural: "clusterroles".into(),
        namespaced: false,
    };
    assert_eq!(
        cluster.collection_path("rbac.authorization.k8s.io/v1", "ignored"),
        "/apis/rbac.authorization.k8s.io/v1/clusterroles"
    );
    assert_eq!(group_version_path("v1"), "/api/v1");
}
