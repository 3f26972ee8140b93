//! `[kube]` in the agent's config: where the kubeconfig is and how long each wait may take.

use std::path::PathBuf;
use std::time::Duration;

use super::readiness::Deadline;

/// How many applies of one stage (or discovery reads) are in flight at once: enough
/// to keep the API server busy, few enough to stay far below its max-in-flight limit.
pub const CONCURRENCY: usize = 8;

/// The `[kube]` table. Every key is optional; unknown keys are refused.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KubeConfig {
    /// Kubeconfig to use. Unset: `/etc/rancher/k3s/k3s.yaml` (outside a cluster, waited
    /// for up to `api_server_timeout_secs`: k3s writes it as it starts), else the
    /// in-cluster service account, else `KUBECONFIG` / `~/.kube/config`.
    pub kubeconfig: Option<PathBuf>,
    /// How long to wait for k3s's kubeconfig and then for the API server to answer at
    /// all (k3s may still be starting): one deadline for both.
    pub api_server_timeout_secs: u64,
    /// How long one request may keep failing transiently (5xx, 429, refused, no answer) before giving up.
    pub request_retry_secs: u64,
    /// How long one attempt of a request may take, connecting included, until its whole
    /// answer is in; then it counts as a transient failure and is retried. Watches are
    /// bounded by the wait they serve instead.
    pub request_timeout_secs: u64,
    /// Deadline for each CustomResourceDefinition to become `Established`.
    pub crd_established_timeout_secs: u64,
    /// Deadline for each Job, Deployment and DaemonSet to become ready (image pulls included).
    pub workload_ready_timeout_secs: u64,
    /// Deadline for each HTTPProxy to be `valid`.
    pub httpproxy_valid_timeout_secs: u64,
    /// How often object status is read while waiting, while watching it fails.
    pub poll_interval_secs: u64,
    /// How often a wait logs what is still not ready, and why.
    pub progress_interval_secs: u64,
}

impl KubeConfig {
    /// Refuses deadlines that would make every run fail at once.
    pub fn validate(&self) -> Result<(), String> {
        for (key, value) in [
            ("api_server_timeout_secs", self.api_server_timeout_secs),
            ("request_retry_secs", self.request_retry_secs),
            ("request_timeout_secs", self.request_timeout_secs),
            (
                "crd_established_timeout_secs",
                self.crd_established_timeout_secs,
            ),
            (
                "workload_ready_timeout_secs",
                self.workload_ready_timeout_secs,
            ),
            (
                "httpproxy_valid_timeout_secs",
                self.httpproxy_valid_timeout_secs,
            ),
        ] {
            if value == 0 {
                return Err(format!("kube.{key}: must be at least 1 (seconds)"));
            }
        }
        Ok(())
    }
}

impl Default for KubeConfig {
    fn default() -> Self {
        KubeConfig {
            kubeconfig: None,
            api_server_timeout_secs: 300,
            request_retry_secs: 120,
            request_timeout_secs: 10,
            crd_established_timeout_secs: 60,
            workload_ready_timeout_secs: 600,
            httpproxy_valid_timeout_secs: 180,
            poll_interval_secs: 2,
            progress_interval_secs: 10,
        }
    }
}

/// What [`apply_plan`](super::apply_plan) needs from the config, as durations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplyOptions {
    pub request_retry: Duration,
    pub request_timeout: Duration,
    pub crd_established_timeout: Duration,
    pub workload_ready_timeout: Duration,
    pub httpproxy_valid_timeout: Duration,
    pub poll_interval: Duration,
    pub progress_interval: Duration,
    /// Wait for readiness after applying (off: apply only, as `kubectl apply` does).
    pub wait: bool,
    /// Keep the apply record (ConfigMap `kube-system/ovaboot-applied`) and do not send
    /// the CRDs it proves unchanged since ovaboot's last apply (see `record`). On for
    /// `ovaboot apply`, `firstboot` and `reconfigure`; off by default, so that a
    /// library caller's requests are exactly the applies.
    pub record: bool,
}

impl ApplyOptions {
    /// How long an object may take to become ready under `deadline`.
    pub fn deadline(&self, deadline: Deadline) -> Duration {
        match deadline {
            Deadline::CrdEstablished => self.crd_established_timeout,
            Deadline::WorkloadReady => self.workload_ready_timeout,
            Deadline::HttpProxyValid => self.httpproxy_valid_timeout,
        }
    }
}

impl Default for ApplyOptions {
    fn default() -> Self {
        ApplyOptions::from(&KubeConfig::default())
    }
}

impl From<&KubeConfig> for ApplyOptions {
    fn from(c: &KubeConfig) -> Self {
        let secs = Duration::from_secs;
        ApplyOptions {
            request_retry: secs(c.request_retry_secs),
            request_timeout: secs(c.request_timeout_secs),
            crd_established_timeout: secs(c.crd_established_timeout_secs),
            workload_ready_timeout: secs(c.workload_ready_timeout_secs),
            httpproxy_valid_timeout: secs(c.httpproxy_valid_timeout_secs),
            // A zero interval would spin; one second is the floor.
            poll_interval: secs(c.poll_interval_secs.max(1)),
            progress_interval: secs(c.progress_interval_secs.max(1)),
            wait: true,
            record: false,
        }
    }
}

#[cfg(test)]
mod tests;
