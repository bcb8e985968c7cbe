//! Small helpers shared by the daemon, the shim and the client: ids, names,
//! times, atomic writes.

use std::path::Path;

/// A new 64-hex-digit container id, as Docker makes them.
pub fn new_id() -> String {
    use rand::RngCore;
    let mut b = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A random `adjective_surname` name, like Docker's.
pub fn random_name() -> String {
    use rand::seq::SliceRandom;
    const LEFT: &[&str] = &[
        "admiring",
        "brave",
        "clever",
        "dazzling",
        "eager",
        "focused",
        "gifted",
        "happy",
        "jolly",
        "keen",
        "loving",
        "modest",
        "nifty",
        "optimistic",
        "quirky",
        "relaxed",
        "serene",
        "tender",
        "upbeat",
        "vibrant",
        "wizardly",
        "zealous",
    ];
    const RIGHT: &[&str] = &[
        "turing",
        "hopper",
        "lovelace",
        "ritchie",
        "thompson",
        "torvalds",
        "knuth",
        "dijkstra",
        "hamilton",
        "liskov",
        "kernighan",
        "pike",
        "allen",
        "babbage",
        "curie",
        "noether",
        "shannon",
        "wozniak",
        "yalow",
        "goldberg",
    ];
    let mut r = rand::thread_rng();
    format!(
        "{}_{}",
        LEFT.choose(&mut r).unwrap_or(&"brave"),
        RIGHT.choose(&mut r).unwrap_or(&"turing")
    )
}

/// Docker's rule for container names: `[a-zA-Z0-9][a-zA-Z0-9_.-]+`.
pub fn valid_name(name: &str) -> bool {
    let mut c = name.chars();
    matches!(c.next(), Some(f) if f.is_ascii_alphanumeric())
        && name.len() >= 2
        && c.all(|x| x.is_ascii_alphanumeric() || matches!(x, '_' | '.' | '-'))
}

// The time helpers are shared with the runtime: one implementation.
pub use mini_docker_api::time::{now_nanos, parse_rfc3339, rfc3339_nanos};

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

/// Writes `data` to `path` under the data root atomically and durably
/// (temp file, fsync, rename, fsync of the directory): every record the
/// daemon keeps promises to survive a crash ([`mini_docker_api::atomic`]).
pub fn write_atomic(path: &Path, data: &[u8]) -> std::io::Result<()> {
    mini_docker_api::atomic::write_atomic(
        path,
        data,
        mini_docker_api::atomic::Durability::Directory,
    )
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

    #[test]
    fn names() {
        assert!(valid_name("web-1"));
        assert!(!valid_name("-x"));
        assert!(!valid_name("a b"));
        assert!(valid_name(&random_name()));
    }
}
