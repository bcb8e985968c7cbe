//! Times on the wire: Docker's API writes RFC 3339 with nanoseconds, in UTC,
//! and takes `since`/`until` as Unix seconds with a fraction.

use std::time::{SystemTime, UNIX_EPOCH};

/// Nanoseconds since the epoch.
pub fn now_nanos() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

/// RFC 3339 with nanoseconds, UTC (`2024-01-02T03:04:05.123456789Z`).
pub fn rfc3339_nanos(nanos: i64) -> String {
    if nanos <= 0 {
        return "0001-01-01T00:00:00Z".into();
    }
    let secs = (nanos / 1_000_000_000) as u64;
    let base = images::rfc3339(secs);
    format!(
        "{}.{:09}Z",
        base.trim_end_matches('Z'),
        nanos % 1_000_000_000
    )
}

/// Parses the RFC 3339 times this crate writes (and Docker's) to nanoseconds.
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
    // days from civil (Howard Hinnant).
    let y2 = if m <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(((days * 86_400 + hh * 3600 + mm * 60 + ss) * 1_000_000_000) + nanos)
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
        assert_eq!(
            parse_rfc3339("2000-02-29T00:00:00Z"),
            Some(951_782_400_000_000_000)
        );
    }
}
