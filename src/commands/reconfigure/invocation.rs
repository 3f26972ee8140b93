//! `ovaboot reconfigure` from end to end: the run lock, the completion check,
//! the inputs (config, OVF environment), then [`super::run_tracked`].
//!
//! A failure to read the inputs is recorded like any other failure of the
//! run (state file, banner, guestinfo): the daily timer's run has no console,
//! and a timer that fails for a missing OVF environment or a bad config must
//! show somewhere the admin looks. A dry run records nothing and takes no
//! lock (it changes nothing, so another run has nothing to fear from it; its
//! preview may be of a state another run is still writing).

use std::path::Path;

use super::{Outcome, Phase, Request, require_completion, run_tracked};
use crate::config::Config;
use crate::failure::Failure;
use crate::inputs::{ConfigSource, EnvironmentSource};
use crate::ovf::OvfEnvironment;
use crate::state::{self, Retry};

/// What `ovaboot reconfigure` is asked to do, before anything is read.
pub struct Invocation<'a> {
    pub environment: &'a EnvironmentSource,
    pub config: &'a ConfigSource,
    pub root: &'a Path,
    pub phase: Phase,
    pub dry_run: bool,
    /// Who runs it again after a failure that may pass: its unit, or the
    /// renewal timer's next daily run (`--from-timer`).
    pub retry: Retry,
}

/// Runs `invocation`; see the module doc.
pub fn run_invocation(invocation: &Invocation<'_>) -> Result<Outcome, Failure> {
    let root = invocation.root;
    // Before anything else: with no first boot there is nothing to lock or to
    // record a day-2 failure against (the units' ConditionPathExists= says so
    // too). No run removes the record, so it holds once the lock is taken.
    require_completion(root)?;
    let _lock = match invocation.dry_run {
        true => None,
        false => Some(crate::run_lock::acquire_for_run(root, invocation.config)?),
    };
    let (config, env) = match inputs(invocation) {
        Ok(inputs) => inputs,
        Err(failure) if invocation.dry_run => return Err(failure),
        Err(failure) => {
            return Err(state::record_failure(
                root,
                state::Phase::Reconfigure,
                invocation.retry,
                failure,
            ));
        }
    };
    let request = Request {
        properties: &env.properties,
        config: &config,
        root,
        phase: invocation.phase,
        dry_run: invocation.dry_run,
    };
    run_tracked(&request, invocation.retry)
}

fn inputs(invocation: &Invocation<'_>) -> Result<(Config, OvfEnvironment), Failure> {
    let config = invocation.config.load()?;
    let env = invocation.environment.read()?;
    Ok((config, env))
}
