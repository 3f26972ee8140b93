//! What the commands start from: the OVF environment (a file, the built-in
//! sample, or the first transport that delivers one), the agent's config (its
//! file, `--kubeconfig` and `OVABOOT_CONTOUR_MANIFEST` over it), and the plan
//! made from both for the system under a root.

use std::path::{Path, PathBuf};

use crate::config::{Config, ConfigError};
use crate::facts::{FactsError, read_host_facts};
use crate::failure::Transience;
use crate::ovf::transport::{SampleTransport, Transport, default_transports};
use crate::ovf::{OvfEnvironment, OvfError};
use crate::plan::appliance::{Plan, PlanError, build};
use crate::settings::{Settings, SettingsError};

/// Why the inputs could not be read or planned. Each variant keeps its cause
/// in the error chain, so the one line printed names the file or property at
/// fault; an OVF environment not there yet is transient ([`Transience`]).
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// Its message names the OVF environment already.
    #[error(transparent)]
    Environment(OvfError),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("OVABOOT_CONTOUR_MANIFEST={}", path.display())]
    Manifest {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Settings(#[from] SettingsError),
    #[error(transparent)]
    HostFacts(#[from] FactsError),
    #[error(transparent)]
    Plan(#[from] PlanError),
}

impl Transience for InputError {
    /// An OVF environment not delivered yet may come; nothing else here passes.
    fn is_transient(&self) -> bool {
        match self {
            InputError::Environment(e) => e.is_transient(),
            _ => false,
        }
    }
}

/// Where the OVF environment comes from (`--ovf-env`, `--sample`, or neither).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnvironmentSource {
    /// guestinfo, then the CD-ROM, then fw_cfg: the first that delivers one.
    Transports,
    /// This file only.
    File(PathBuf),
    /// The example environment built into ovaboot.
    Sample,
}

impl EnvironmentSource {
    /// Reads the OVF environment from this source.
    pub fn read(&self) -> Result<OvfEnvironment, InputError> {
        let transports: Vec<Box<dyn Transport>> = match self {
            EnvironmentSource::Sample => vec![Box::new(SampleTransport)],
            EnvironmentSource::File(path) => default_transports(Some(path)),
            EnvironmentSource::Transports => default_transports(None),
        };
        crate::ovf::read_environment(&transports).map_err(InputError::Environment)
    }
}

/// Where the agent's config comes from (`--config`, `--kubeconfig`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfigSource {
    /// The config file (default: /etc/ovaboot/ovaboot.toml if present, else built-in defaults).
    pub file: Option<PathBuf>,
    /// The kubeconfig, over the file's `[kube] kubeconfig`.
    pub kubeconfig: Option<PathBuf>,
}

impl ConfigSource {
    /// The config file, with the kubeconfig and `OVABOOT_CONTOUR_MANIFEST`
    /// (if set, where the pinned manifest is on this machine; its sha256 is
    /// checked all the same) over it.
    pub fn load(&self) -> Result<Config, InputError> {
        let mut config = Config::load(self.file.as_deref())?;
        if let Some(path) = &self.kubeconfig {
            config.kube.kubeconfig = Some(path.clone());
        }
        if let Some(manifest) = std::env::var_os("OVABOOT_CONTOUR_MANIFEST") {
            let manifest =
                std::path::absolute(&manifest).map_err(|source| InputError::Manifest {
                    path: PathBuf::from(&manifest),
                    source,
                })?;
            config.contour.manifest = Some(manifest);
        }
        Ok(config)
    }
}

/// The whole plan for the system under `root`: what render writes and
/// firstboot applies.
pub fn plan(source: &EnvironmentSource, config: &Config, root: &Path) -> Result<Plan, InputError> {
    plan_for(&source.read()?, config, root)
}

/// [`plan`] for an environment already read.
pub fn plan_for(env: &OvfEnvironment, config: &Config, root: &Path) -> Result<Plan, InputError> {
    let settings = Settings::from_properties(&env.properties)?;
    let facts = read_host_facts(root)?;
    let now = time::OffsetDateTime::now_utc();
    Ok(build(&settings, config, &facts, now)?)
}
