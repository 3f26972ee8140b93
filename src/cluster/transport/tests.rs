use super::*;

#[test]
fn backoff_doubles_up_to_the_cap_with_jitter_below_the_nominal_delay() {
    for attempt in 0..20 {
        let nominal = FIRST_DELAY
            .saturating_mul(1 << attempt.min(16))
            .min(MAX_DELAY);
        let d = backoff(attempt);
        assert!(
            d >= nominal / 2 && d < nominal,
            "attempt {attempt}: {d:?} vs {nominal:?}"
        );
    }
    assert!(backoff(12) >= MAX_DELAY / 2);
}
