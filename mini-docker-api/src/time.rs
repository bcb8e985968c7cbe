//! # Times as the Engine API and the OCI state write them
//!
//! RFC 3339 in UTC with nanoseconds (`2023-11-14T22:13:20.123456789Z`), as
//! runc's `state.json` `created` and dockerd's `Created`, `StartedAt`,
//! `FinishedAt`; the zero time is Go's (`0001-01-01T00:00:00Z`), which is
//! what dockerd shows for a container that never started. The engine keeps
//! times as nanoseconds since the epoch and formats them here; the runtime
//! formats "now" here. One implementation for both, so they cannot drift.
//!
//! The calendar arithmetic is the `time` crate's (chapter 04 writes it out
//! by hand, as part of its lesson on image configs).

use std::time::{SystemTime, UNIX_EPOCH};

/// Nanoseconds since the epoch, now.
pub fn now_nanos() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

/// Now, as [`rfc3339_nanos`] writes it.
pub fn now_rfc3339() -> String {
    rfc3339_nanos(now_nanos())
}

/// `nanos` since the epoch as RFC 3339 with nanoseconds, UTC; zero or less
/// is Go's zero time, `0001-01-01T00:00:00Z`.
pub fn rfc3339_nanos(nanos: i64) -> String {
    if nanos <= 0 {
        return "0001-01-01T00:00:00Z".into();
    }
    let Ok(t) = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(nanos)) else {
        return "0001-01-01T00:00:00Z".into();
    };
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:09}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.nanosecond()
    )
}

/// Parses the RFC 3339 times [`rfc3339_nanos`] writes (and Docker's, with
/// 0 to 9 fraction digits) to nanoseconds since the epoch.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    let (date, time) = s.split_once('T')?;
    let mut d = date.split('-').map(|x| x.parse::<i64>());
    let (y, m, day) = (d.next()?.ok()?, d.next()?.ok()?, d.next()?.ok()?);
    let time = time.trim_end_matches('Z');
    let (hms, frac) = time.split_once('.').unwrap_or((time, "0"));
    let mut t = hms.split(':').map(|x| x.parse::<i64>());
    let (hh, mm, ss) = (t.next()?.ok()?, t.next()?.ok()?, t.next()?.ok()?);
    let frac: String = frac.chars().take_while(|c| c.is_ascii_digit()).collect();
    let nanos: i64 = format!("{frac:0<9}")[..9].parse().ok()?;
    let month = time::Month::try_from(u8::try_from(m).ok()?).ok()?;
    let date =
        time::Date::from_calendar_date(i32::try_from(y).ok()?, month, u8::try_from(day).ok()?)
            .ok()?;
    let secs = date.midnight().assume_utc().unix_timestamp();
    Some((secs + hh * 3600 + mm * 60 + ss) * 1_000_000_000 + nanos)
}

/// Docker's `since`/`until` query values: Unix seconds with an optional
/// fraction (`1700000000.5`); 0 or empty means unset.
pub fn parse_unix_time(v: &str) -> Option<i64> {
    let (secs, frac) = v.split_once('.').unwrap_or((v, ""));
    let secs: i64 = secs.parse().ok()?;
    let frac: String = frac.chars().take(9).collect();
    let nanos: i64 = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<9}").parse().ok()?
    };
    let t = secs.checked_mul(1_000_000_000)?.checked_add(nanos)?;
    (t > 0).then_some(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_round_trip() {
        let n = 1_700_000_000_123_456_789;
        assert_eq!(rfc3339_nanos(n), "2023-11-14T22:13:20.123456789Z");
        assert_eq!(parse_rfc3339(&rfc3339_nanos(n)), Some(n));
        assert_eq!(rfc3339_nanos(0), "0001-01-01T00:00:00Z");
        assert_eq!(
            parse_rfc3339("2000-02-29T00:00:00Z"),
            Some(951_782_400_000_000_000)
        );
        assert_eq!(
            rfc3339_nanos(951_782_400_000_000_000),
            "2000-02-29T00:00:00.000000000Z"
        );
    }
}
