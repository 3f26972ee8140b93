use std::cell::Cell;

use super::*;

/// A clock that moves only when the caller "waits".
struct Clock(Cell<Duration>);

impl Clock {
    fn new() -> Self {
        Clock(Cell::new(Duration::ZERO))
    }
    fn now(&self) -> Duration {
        self.0.get()
    }
    fn advance(&self, by: Duration) {
        self.0.set(self.0.get() + by);
    }
}

#[test]
fn a_transient_failure_is_retried_with_growing_waits_until_it_passes() {
    let clock = Clock::new();
    let mut waits = Vec::new();
    let mut tries = 0;
    let result: Result<u32, &str> = until_deadline(
        Duration::from_secs(60),
        || clock.now(),
        |_: &&str| true,
        |e, d| {
            waits.push((e.to_string(), d.as_secs()));
            clock.advance(d);
        },
        || {
            tries += 1;
            if tries < 6 { Err("not yet") } else { Ok(tries) }
        },
    );
    assert_eq!(result, Ok(6));
    let delays: Vec<u64> = waits.iter().map(|w| w.1).collect();
    assert_eq!(delays, [1, 2, 4, 8, 10]);
    assert!(waits.iter().all(|w| w.0 == "not yet"));
}

#[test]
fn a_permanent_failure_is_returned_at_once() {
    let clock = Clock::new();
    let mut tries = 0;
    let result: Result<(), &str> = until_deadline(
        Duration::from_secs(60),
        || clock.now(),
        |e| *e != "bad input",
        |_, _| panic!("no wait for a permanent failure"),
        || {
            tries += 1;
            Err("bad input")
        },
    );
    assert_eq!(result, Err("bad input"));
    assert_eq!(tries, 1);
}

#[test]
fn past_the_deadline_the_last_error_is_returned_and_the_last_try_is_at_the_deadline() {
    let clock = Clock::new();
    let mut tries = Vec::new();
    let result: Result<(), String> = until_deadline(
        Duration::from_secs(5),
        || clock.now(),
        |_| true,
        |_, d| clock.advance(d),
        || {
            tries.push(clock.now().as_secs());
            Err(format!("try {}", tries.len()))
        },
    );
    // Waits 1, 2, then 2 (not 4: the deadline), so the last try is at 5 s.
    assert_eq!(tries, [0, 1, 3, 5]);
    assert_eq!(result, Err("try 4".into()));
}

#[test]
fn a_zero_deadline_tries_once() {
    let clock = Clock::new();
    let mut tries = 0;
    let _: Result<(), ()> = until_deadline(
        Duration::ZERO,
        || clock.now(),
        |_| true,
        |_, _| panic!("no wait"),
        || {
            tries += 1;
            Err(())
        },
    );
    assert_eq!(tries, 1);
}
