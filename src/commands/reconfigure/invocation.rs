//! `ovaboot reconfigure` from end to end: the run lock, the completion check,
//! the config, the renewal of the xDS and auth server certificates (which
//! depends on no property, so nothing about the properties may hold it up), the OVF
//! environment, then [`super::run_tracked`]; at the end a run an earlier
//! boot cut short is recorded done when nothing is left to do, and the
//! certificate nearest its end is noted in the state file.
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

/// Runs `invocation`; see the module doc. `say` gets the xDS renewal's line.
pub fn run_invocation(
    invocation: &Invocation<'_>,
    say: impl FnMut(String),
) -> Result<Outcome, Failure> {
    let root = invocation.root;
    // Before anything else: with no first boot there is nothing to lock or to
    // record a day-2 failure against (the units' ConditionPathExists= says so
    // too). No run removes the record, so it holds once the lock is taken.
    require_completion(root)?;
    let _lock = match invocation.dry_run {
        true => None,
        false => Some(crate::run_lock::acquire_for_run(root, invocation.config)?),
    };
    let config = recorded_unless_dry(invocation, invocation.config.load().map_err(Failure::from))?;
    let outcome = renew_then_reconfigure(invocation, &config, say);
    // The cluster part found nothing to do: a run an earlier boot cut short
    // after its last record is complete (the host part alone has not looked
    // at the xDS and auth server certificates, so it cannot say).
    if matches!(outcome, Ok(Outcome::Unchanged { .. }))
        && invocation.phase.runs_cluster()
        && !invocation.dry_run
    {
        state::settle_interrupted(root, time::OffsetDateTime::now_utc());
    }
    if !invocation.dry_run {
        crate::certificates::note_in_state(root, &config);
    }
    outcome
}

fn renew_then_reconfigure(
    invocation: &Invocation<'_>,
    config: &Config,
    mut say: impl FnMut(String),
) -> Result<Outcome, Failure> {
    let root = invocation.root;
    if invocation.phase.runs_cluster() && !invocation.dry_run {
        say(crate::xds::renew::run_tracked(root, config, invocation.retry)?.to_string());
        let auth = crate::auth::renew::run_tracked(root, config, invocation.retry)?;
        if matches!(auth, crate::auth::renew::Renewed::Applied { .. }) {
            say(auth.to_string());
        }
    }
    let env: OvfEnvironment = recorded_unless_dry(
        invocation,
        invocation.environment.read().map_err(Failure::from),
    )?;
    let request = Request {
        properties: &env.properties,
        config,
        root,
        phase: invocation.phase,
        dry_run: invocation.dry_run,
    };
    run_tracked(&request, invocation.retry)
}

/// An input's failure, recorded like any failure of the run (a dry run records nothing).
fn recorded_unless_dry<T>(
    invocation: &Invocation<'_>,
    read: Result<T, Failure>,
) -> Result<T, Failure> {
    read.map_err(|failure| match invocation.dry_run {
        true => failure,
        false => state::record_failure(
            invocation.root,
            state::Phase::Reconfigure,
            invocation.retry,
            failure,
        ),
    })
}
