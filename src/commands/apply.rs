//! `ovaboot apply` and the cluster phase of `firstboot`: objects in, cluster
//! made to match, on a single-threaded runtime (concurrent requests are futures
//! on one thread; a thread pool would only cost memory).

use serde_json::Value;

use crate::cluster::{ApplyError, ApplyOptions, ApplySummary, KubeConfig, apply_plan, connect};
use crate::failure::Transience;

#[derive(Debug, thiserror::Error)]
pub enum ClusterRunError {
    #[error("starting the async runtime: {0}")]
    Runtime(std::io::Error),
    #[error(transparent)]
    Apply(#[from] ApplyError),
}

impl Transience for ClusterRunError {
    fn is_transient(&self) -> bool {
        match self {
            ClusterRunError::Runtime(_) => true,
            ClusterRunError::Apply(e) => e.is_transient(),
        }
    }
}

/// Connects as `kube` says (waiting for k3s and its API server), server-side
/// applies `objects` in order and waits for each to be ready.
pub fn apply_to_cluster(
    objects: &[Value],
    kube: &KubeConfig,
) -> Result<ApplySummary, ClusterRunError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(ClusterRunError::Runtime)?;
    let summary = runtime.block_on(async {
        let connection = connect(kube).await?;
        let options = ApplyOptions {
            record: true,
            ..ApplyOptions::from(kube)
        };
        apply_plan(&connection.client, objects, &options)
            .await
            .map_err(|e| connection.context(e))
    })?;
    Ok(summary)
}
