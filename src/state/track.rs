//! A phase's run, recorded where the admin looks (state file, console banner,
//! guestinfo): `firstboot`'s host and cluster phases, and a `reconfigure`
//! that changes something.

use std::path::Path;

use super::{Phase, State};
use crate::failure::Failure;

/// Runs one phase with its state recorded: running at the start; done,
/// waiting to retry (a cause that may pass, and systemd restarts the cluster
/// units) or failed at the end, with the same one line `main` prints. `run`
/// may record more on the way (the appliance's URL, a retry's cause).
pub fn track<T>(
    root: &Path,
    phase: Phase,
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
    match &result {
        Ok(_) => state.done(now),
        // The cluster units are restarted by systemd; the host phase has
        // already waited out its own deadline.
        Err(err) if err.is_transient() && phase != Phase::Host => state.waiting(&err.one_line()),
        Err(err) => state.failed(&err.one_line(), !err.is_transient(), now),
    }
    super::publish(root, &state);
    result
}
