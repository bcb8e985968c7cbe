//! # Times as the Engine API and the OCI state write them
//!
//! RFC 3339 in UTC with nanoseconds (`2023-11-14T22:13:20.123456789Z`), as
//! runc's `state.json` `created` and dockerd's `Created`, `StartedAt`,
//! `FinishedAt`; the zero time is Go's (`0001-01-01T00:00:00Z`), which is
//! what dockerd shows for a container that never started. The engine keeps
//! times as nanoseconds since the epoch and formats them here; the runtime
//! formats "now" here. One implementation for both, so they cannot drift.
//!
//! The date arithmetic is Howard Hinnant's `civil_from_days` and
//! `days_from_civil` (proleptic Gregorian calendar, eras of 400 years).

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
    let secs = nanos / 1_000_000_000;
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = if month <= 2 { y + 1 } else { y };
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:09}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        nanos % 1_000_000_000
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
    let y2 = if m <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(((days * 86_400 + hh * 3600 + mm * 60 + ss) * 1_000_000_000) + nanos)
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
