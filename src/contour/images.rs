//! The container images a release runs, for `ovaboot images` (pre-pulling them
//! into the appliance image makes first boot work without a registry).

use std::collections::BTreeSet;

use serde_json::Value;

use super::Object;
use super::objects::at;

/// Every container and initContainer image of every workload in `objects`,
/// sorted and deduplicated.
pub fn images(objects: &[Object]) -> Vec<String> {
    let mut found = BTreeSet::new();
    for object in objects {
        let Some(pod) = pod_spec(object) else {
            continue;
        };
        for key in ["initContainers", "containers", "ephemeralContainers"] {
            for container in pod.get(key).and_then(Value::as_array).into_iter().flatten() {
                if let Some(image) = container.get("image").and_then(Value::as_str) {
                    found.insert(image.to_owned());
                }
            }
        }
    }
    found.into_iter().collect()
}

/// The pod spec inside a workload object, wherever its kind keeps it.
fn pod_spec(object: &Object) -> Option<&Value> {
    match object.get("kind").and_then(Value::as_str)? {
        "Pod" => object.get("spec"),
        "CronJob" => at(object, "spec.jobTemplate.spec.template.spec"),
        "Deployment"
        | "DaemonSet"
        | "StatefulSet"
        | "ReplicaSet"
        | "Job"
        | "ReplicationController" => at(object, "spec.template.spec"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contour::test_support::{fixture_objects, real_objects};

    #[test]
    fn the_pinned_release_runs_two_images() {
        assert_eq!(
            images(&real_objects()),
            [
                "docker.io/envoyproxy/envoy:distroless-v1.38.3",
                "ghcr.io/projectcontour/contour:v1.33.6",
            ]
        );
    }

    #[test]
    fn init_containers_and_every_workload_kind_count() {
        assert_eq!(
            images(&fixture_objects("images-in-every-workload-kind.yaml")),
            [
                "registry.example/cron:1",
                "registry.example/init:1",
                "registry.example/main:1",
                "registry.example/pod:1",
                "registry.example/sts:1",
            ]
        );
    }
}
