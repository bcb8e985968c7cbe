//! Small helpers shared by the daemon, the shim and the client: ids, names,
//! times, atomic writes.

pub use mini_docker_api::ids::new_id;
pub use mini_docker_api::time::{now_nanos, parse_rfc3339, rfc3339_nanos};
pub use mini_docker_api::units::{human_duration, human_size};
use std::path::Path;

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
    fn names() {
        assert!(valid_name("web-1"));
        assert!(!valid_name("-x"));
        assert!(!valid_name("a b"));
        assert!(valid_name(&random_name()));
    }
}
