//! A phase's run, recorded where the admin looks (state file, console banner,
//! guestinfo): `firstboot`'s host and cluster phases, and a `reconfigure`
//! that changes something or fails.

use std::path::Path;

use super::{Outcome, Phase, State, current_boot_id};
use crate::failure::Failure;

/// Who runs a phase again after a failure that may pass, which decides how
/// that failure is recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// Its unit, within seconds (`Restart=on-failure`): "waiting to retry".
    /// (The host phase has waited out its own deadline already: failed.)
    Soon,
    /// Nothing before the renewal timer's next daily run (the timer's own
    /// run): failed, though not for good, with that run named, rather than
    /// "waiting to retry" for a day.
    NextTimerRun,
}

/// What a failure of the timer's run says about when it runs again.
pub const NEXT_TIMER_RUN: &str = "tried again at the next daily run of ovaboot-renew.timer (after midnight; `systemctl list-timers ovaboot-renew.timer` shows when)";

/// Runs one phase with its state recorded: running at the start; done,
/// waiting to retry (a cause that may pass, and systemd restarts the cluster
/// units) or failed at the end, with the same one line `main` prints. `run`
/// may record more on the way (the appliance's URL, a retry's cause).
pub fn track<T>(
    root: &Path,
    phase: Phase,
    run: impl FnOnce(&mut State) -> Result<T, Failure>,
) -> Result<T, Failure> {
    track_retried(root, phase, Retry::Soon, run)
}

/// [`track`], for a run whose failures that may pass are retried as `retry` says.
pub fn track_retried<T>(
    root: &Path,
    phase: Phase,
    retry: Retry,
    run: impl FnOnce(&mut State) -> Result<T, Failure>,
) -> Result<T, Failure> {
    let previous = super::load(root).unwrap_or_else(|e| {
        tracing::warn!(error = %e, "starting a new state file");
        None
    });
    let mut state = State::start(previous, phase, time::OffsetDateTime::now_utc());
    super::publish(root, &state);
    let result = run(&mut state);
    let now = time::OffsetDateTime::now_utc();
    match (&result, retry) {
        (Ok(_), _) => state.done(now),
        (Err(err), Retry::Soon) if err.is_transient() && phase != Phase::Host => {
            state.waiting(&err.one_line())
        }
        (Err(err), Retry::NextTimerRun) if err.is_transient() => {
            state.failed(&format!("{}; {NEXT_TIMER_RUN}", err.one_line()), false, now)
        }
        (Err(err), _) => state.failed(&err.one_line(), !err.is_transient(), now),
    }
    super::publish(root, &state);
    result
}

/// Records `failure` of `phase` as [`track_retried`] would have, for a run
/// that failed before it could start its tracked part (its inputs).
pub fn record_failure(root: &Path, phase: Phase, retry: Retry, failure: Failure) -> Failure {
    match track_retried(root, phase, retry, |_| Err::<(), _>(failure)) {
        Err(failure) => failure,
        Ok(()) => unreachable!("the run fails"),
    }
}

/// Records done a run an earlier boot left running or waiting to retry, once
/// a later run has found everything it set out to do in place (`reconfigure`'s
/// cluster part: the properties' digest is the one recorded, no certificate
/// due). Power lost between a run's last record (the digest, the xDS record,
/// the completion record) and its "done" would otherwise leave the state file
/// saying "running" for good. Returns whether it recorded anything.
pub fn settle_interrupted(root: &Path, now: time::OffsetDateTime) -> bool {
    let Ok(Some(mut state)) = super::load(root) else {
        return false;
    };
    let this_boot = current_boot_id();
    let in_progress = matches!(state.outcome, Outcome::Running | Outcome::WaitingToRetry);
    let earlier_boot = state.boot_id.is_none() || state.boot_id != this_boot;
    if !in_progress || !earlier_boot {
        return false;
    }
    tracing::info!(
        phase = state.phase.as_str(),
        started = %state.started,
        "a run an earlier boot left unfinished is complete: recorded done"
    );
    state.done(now);
    state.boot_id = this_boot;
    super::publish(root, &state);
    true
}
