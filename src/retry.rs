//! Trying again with backoff until a deadline: for a step whose failure may
//! pass by itself (a device not readable yet). Pure control flow: the clock
//! and the waiting are the caller's, so tests run without sleeping.

use std::time::Duration;

/// The first wait; each next one doubles, up to [`MAX_DELAY`].
pub const FIRST_DELAY: Duration = Duration::from_secs(1);
pub const MAX_DELAY: Duration = Duration::from_secs(10);

/// Runs `attempt` until it succeeds, fails for good (`is_transient` false),
/// or `deadline` has passed since the start (by `elapsed`); then returns its
/// last result. Before each retry `wait(error, delay)` is called to record
/// the cause and sleep `delay` (never past the deadline, so the last attempt
/// is made at the deadline).
pub fn until_deadline<T, E>(
    deadline: Duration,
    elapsed: impl Fn() -> Duration,
    is_transient: impl Fn(&E) -> bool,
    mut wait: impl FnMut(&E, Duration),
    mut attempt: impl FnMut() -> Result<T, E>,
) -> Result<T, E> {
    let mut delay = FIRST_DELAY;
    loop {
        let err = match attempt() {
            Ok(value) => return Ok(value),
            Err(err) => err,
        };
        let spent = elapsed();
        if !is_transient(&err) || spent >= deadline {
            return Err(err);
        }
        let next = delay.min(deadline - spent);
        wait(&err, next);
        delay = (delay * 2).min(MAX_DELAY);
    }
}

#[cfg(test)]
mod tests;
