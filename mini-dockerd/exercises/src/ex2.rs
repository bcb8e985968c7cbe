//! Exercise 2: the restart policy's back-off.
//!
//! A container with `--restart always` whose program fails at once would
//! be started again and again, as fast as the machine allows. Docker waits
//! between two restarts: 100 ms the first time, twice as long each time
//! after (200, 400, 800 ms…), never more than one minute; and once the
//! container ran for 10 seconds or more, it counts as healthy again and the
//! next delay is back to 100 ms. Meanwhile `docker ps` shows it
//! `Restarting`.
//!
//! Check with `scripts/check.sh engine 2`: the checker runs a crash loop
//! through your function (each run's length is given, your delay is the
//! wait before the next start) and looks at the schedule it makes.

/// The delay before the next start, in milliseconds, from the previous
/// delay (`0` when there was none yet) and how long the last run lasted.
pub fn next_backoff(previous_ms: u64, ran_ms: i64) -> u64 {
    let _ = (previous_ms, ran_ms);
    todo!("hint: 100 when previous_ms is 0 or the run lasted 10_000 ms or more; else twice previous_ms, at most 60_000")
}
