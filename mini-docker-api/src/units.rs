//! Docker's human units (`github.com/docker/go-units`), as the daemon puts
//! them in `Status` ("Up 5 minutes") and the client in its tables.

/// Docker's `units.HumanDuration`: "Less than a second", "5 seconds", "About a minute", …
pub fn human_duration(secs: i64) -> String {
    let s = secs.max(0);
    if s < 1 {
        return "Less than a second".into();
    }
    if s == 1 {
        return "1 second".into();
    }
    if s < 60 {
        return format!("{s} seconds");
    }
    let m = s / 60;
    if m == 1 {
        return "About a minute".into();
    }
    if m < 60 {
        return format!("{m} minutes");
    }
    let h = (s as f64 / 3600.0).round() as i64;
    if h == 1 {
        return "About an hour".into();
    }
    if h < 48 {
        return format!("{h} hours");
    }
    if h < 24 * 7 * 2 {
        return format!("{} days", h / 24);
    }
    if h < 24 * 30 * 2 {
        return format!("{} weeks", h / 24 / 7);
    }
    if h < 24 * 365 * 2 {
        return format!("{} months", h / 24 / 30);
    }
    format!("{} years", h / 24 / 365)
}

/// Docker's `units.HumanSizeWithPrecision(size, 3)`: decimal units.
pub fn human_size(size: u64) -> String {
    const UNITS: &[&str] = &["B", "kB", "MB", "GB", "TB", "PB"];
    let mut v = size as f64;
    let mut i = 0;
    while v >= 1000.0 && i < UNITS.len() - 1 {
        v /= 1000.0;
        i += 1;
    }
    // %.3g: 3 significant digits, trailing zeros dropped.
    let digits = if v >= 100.0 {
        0
    } else if v >= 10.0 {
        1
    } else {
        2
    };
    let s = format!("{v:.digits$}");
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    };
    format!("{s}{}", UNITS[i])
}

/// Docker's `units.RAMInBytes`: `512m`, `1.5g`, `1kb`, `100b`, `1048576`
/// (binary units, a trailing `b` optional, any case) to bytes.
pub fn ram_in_bytes(s: &str) -> Option<i64> {
    let s = s.trim().to_ascii_lowercase();
    let s = s.strip_suffix('b').unwrap_or(&s);
    let (n, mult) = match s.chars().last()? {
        'k' => (&s[..s.len() - 1], 1i64 << 10),
        'm' => (&s[..s.len() - 1], 1 << 20),
        'g' => (&s[..s.len() - 1], 1 << 30),
        't' => (&s[..s.len() - 1], 1 << 40),
        'p' => (&s[..s.len() - 1], 1 << 50),
        _ => (s, 1),
    };
    let n: f64 = n.parse().ok()?;
    Some((n * mult as f64) as i64)
}

/// A Go duration (`30s`, `1m30s`, `500ms`, `2h`) in nanoseconds, as
/// Dockerfile `HEALTHCHECK` flags and compose durations write it.
pub fn go_duration_nanos(s: &str) -> Option<i64> {
    let mut total = 0f64;
    let mut rest = s.trim();
    if rest.is_empty() {
        return None;
    }
    if rest == "0" {
        return Some(0);
    }
    while !rest.is_empty() {
        let n = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let num: f64 = rest[..n].parse().ok()?;
        rest = &rest[n..];
        let u = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let mult = match &rest[..u] {
            "ns" => 1.0,
            "us" | "µs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        total += num * mult;
        rest = &rest[u..];
    }
    Some(total as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_units() {
        assert_eq!(human_duration(0), "Less than a second");
        assert_eq!(human_duration(5), "5 seconds");
        assert_eq!(human_duration(90), "About a minute");
        assert_eq!(human_size(1_240_000), "1.24MB");
        assert_eq!(human_size(999), "999B");
        assert_eq!(human_size(12_345_678), "12.3MB");
    }
}
