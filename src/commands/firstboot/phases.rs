//! `ovaboot firstboot` from end to end: the completion check, then the host
//! phase and the cluster phase, each recorded where the admin looks
//! ([`track`]), each planning from the inputs it is given.
//!
//! The host phase retries reading the OVF environment with backoff (its
//! device may not be readable yet) up to `[host] retry_timeout_secs`, because
//! its unit is not restarted; the cluster phase's unit is, so it fails at once
//! with exit 1 and systemd runs it again.

use std::cell::RefCell;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::apply::files::WriteReport;
use crate::cluster::ApplySummary;
use crate::commands::reconfigure;
use crate::config::Config;
use crate::failure::Failure;
use crate::inputs::{ConfigSource, EnvironmentSource, plan_for};
use crate::ovf::OvfEnvironment;
use crate::plan::appliance::Plan;
use crate::retry;
use crate::state::track;
use crate::state::{self, State};

use super::{Phase, apply_host};
use crate::state::completion::{self, Completion};

/// What a `firstboot` run is asked to do.
pub struct Request<'a> {
    pub phase: Phase,
    pub environment: &'a EnvironmentSource,
    /// Loaded by each phase, so that a bad config is recorded as its failure.
    pub config: &'a ConfigSource,
    /// The system to configure; the kernel host name and settings are set
    /// only when it is `/`.
    pub root: &'a Path,
}

/// What a run has done so far, one line each, told as it happens (the cluster
/// phase of `--phase all` may take minutes after the host line).
#[derive(Debug)]
pub enum Progress<'a> {
    /// First boot had completed before: nothing was done.
    AlreadyCompleted {
        completion: &'a Completion,
        /// The completion record's real path (under the root).
        record: PathBuf,
    },
    /// The host phase's files.
    Host(&'a WriteReport),
    /// The cluster phase's objects.
    Cluster(&'a ApplySummary),
    /// The completion record was written.
    Completed(&'a Completion),
}

impl fmt::Display for Progress<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Progress::AlreadyCompleted { completion, record } => write!(
                f,
                "first boot already completed at {} for {}; nothing to do (remove {} to run it again)",
                completion.completed_at,
                completion.hostname,
                record.display()
            ),
            Progress::Host(host) => write!(
                f,
                "host: {} files written, {} unchanged, {} removed",
                host.written.len(),
                host.unchanged.len(),
                host.removed.len()
            ),
            Progress::Cluster(cluster) => write!(f, "cluster: {cluster}"),
            Progress::Completed(done) => write!(
                f,
                "first boot completed for {}; certificate sha256 {}",
                done.hostname, done.certificate_sha256
            ),
        }
    }
}

/// Runs the phases `request` asks for, telling `progress` what each did,
/// holding the run lock ([`crate::run_lock`]) throughout. Nothing is done when
/// first boot has completed before.
pub fn run_phases(
    request: &Request<'_>,
    mut progress: impl FnMut(Progress<'_>),
) -> Result<(), Failure> {
    let root = request.root;
    // Once completed, later boots take no lock and write nothing; a run that
    // waited for the lock looks again (the holder may have completed it).
    let already = |progress: &mut dyn FnMut(Progress<'_>)| -> Result<bool, Failure> {
        let Some(done) = completion::load(root)? else {
            return Ok(false);
        };
        progress(Progress::AlreadyCompleted {
            completion: &done,
            record: completion::path(root),
        });
        Ok(true)
    };
    if already(&mut progress)? {
        return Ok(());
    }
    let _lock = crate::run_lock::acquire_for_run(root, request.config)?;
    if already(&mut progress)? {
        return Ok(());
    }
    let mut planned = None;
    if request.phase.runs_host() {
        planned = Some(track(root, state::Phase::Host, |state| {
            host_phase(request, state, &mut progress)
        })?);
    }
    if request.phase.runs_cluster() {
        track(root, state::Phase::Cluster, |state| {
            cluster_phase(planned.take(), request, state, &mut progress)
        })?;
    }
    Ok(())
}

/// The host phase: the plan (the OVF environment's transports retried with
/// backoff up to `[host] retry_timeout_secs` while the cause may pass), then
/// the host files. Returns the environment and plan for the cluster phase of
/// `--phase all`.
fn host_phase(
    request: &Request<'_>,
    state: &mut State,
    progress: &mut impl FnMut(Progress<'_>),
) -> Result<(OvfEnvironment, Plan), Failure> {
    let root = request.root;
    let config = request.config.load()?;
    let started = Instant::now();
    let hostname = RefCell::new(None);
    let planned = retry::until_deadline(
        Duration::from_secs(config.host.retry_timeout_secs),
        || started.elapsed(),
        Failure::is_transient,
        |err, delay| {
            let line = err.one_line();
            tracing::warn!(
                "{line}; trying again in {:.1} s (until host.retry_timeout_secs = {})",
                delay.as_secs_f64(),
                config.host.retry_timeout_secs
            );
            state.waiting(&line);
            state::publish(root, state);
            std::thread::sleep(delay);
        },
        || -> Result<_, Failure> {
            let env = request.environment.read()?;
            let plan = plan_noting_hostname(&env, &config, root, &mut hostname.borrow_mut())?;
            Ok((env, plan))
        },
    );
    if planned.is_err() {
        state.hostname = hostname.into_inner().or(state.hostname.take());
    }
    let (env, plan) = planned?;
    appliance(state, &plan, root);
    let host = apply_host(&plan, root)?;
    progress(Progress::Host(&host));
    Ok((env, plan))
}

/// The cluster phase: the manifests, then the completion record and the
/// properties' digest (what `reconfigure` compares later boots with).
fn cluster_phase(
    planned: Option<(OvfEnvironment, Plan)>,
    request: &Request<'_>,
    state: &mut State,
    progress: &mut impl FnMut(Progress<'_>),
) -> Result<(), Failure> {
    let root = request.root;
    let config = request.config.load()?;
    let (env, plan) = match planned {
        Some(planned) => planned,
        None => {
            let env = request.environment.read()?;
            let mut hostname = None;
            match plan_noting_hostname(&env, &config, root, &mut hostname) {
                Ok(plan) => (env, plan),
                Err(err) => {
                    state.hostname = hostname.or(state.hostname.take());
                    return Err(err);
                }
            }
        }
    };
    appliance(state, &plan, root);
    let report = super::run(&plan, Phase::Cluster, root, &config.kube)?;
    if let Some(cluster) = &report.cluster {
        progress(Progress::Cluster(cluster));
    }
    if let Some(done) = &report.completion {
        reconfigure::store_digest(
            root,
            &env.properties,
            &plan,
            time::OffsetDateTime::now_utc(),
        )?;
        progress(Progress::Completed(done));
    }
    Ok(())
}

/// The plan for `env`, with the host name the properties give noted in
/// `hostname` first: a plan refused later (a certificate that does not fit
/// the name) still tells the console which appliance this is.
fn plan_noting_hostname(
    env: &OvfEnvironment,
    config: &Config,
    root: &Path,
    hostname: &mut Option<String>,
) -> Result<Plan, Failure> {
    *hostname = crate::settings::hostname(&env.properties)
        .ok()
        .map(|name| name.fqdn().to_owned());
    Ok(plan_for(env, config, root)?)
}

/// Records what the plan says the appliance is.
fn appliance(state: &mut State, plan: &Plan, root: &Path) {
    state.appliance(
        &format!("https://{}/", plan.hostname.fqdn()),
        &plan.tls.leaf_sha256,
        plan.tls.source.into(),
    );
    state::publish(root, state);
}
