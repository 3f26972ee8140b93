//! A phase's run, recorded where the admin looks (state file, console banner,
//! guestinfo): `firstboot`'s host and cluster phases, and a `reconfigure`
//! that changes something.

use std::path::Path;

use crate::commands::failure::{is_transient, one_line};
use crate::state::{self, Phase, State};

/// Runs one phase with its state recorded: running at the start; done,
/// waiting to retry (a cause that may pass, and systemd restarts the cluster
/// units) or failed at the end, with the same one line `main` prints. `run`
/// may record more on the way (the appliance's URL, a retry's cause).
pub fn recorded<T>(
    root: &Path,
    phase: Phase,
    run: impl FnOnce(&mut State) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    let previous = state::load(root).unwrap_or_else(|e| {
        tracing::warn!(error = %e, "starting a new state file");
        None
    });
    let mut record = State::start(previous, phase, time::OffsetDateTime::now_utc());
    state::record(root, &record);
    let result = run(&mut record);
    let now = time::OffsetDateTime::now_utc();
    match &result {
        Ok(_) => record.done(now),
        // The cluster units are restarted by systemd; the host phase has
        // already waited out its own deadline.
        Err(err) if is_transient(err) && phase != Phase::Host => record.waiting(&one_line(err)),
        Err(err) => record.failed(&one_line(err), !is_transient(err), now),
    }
    state::record(root, &record);
    result
}
