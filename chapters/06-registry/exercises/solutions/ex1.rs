//! Exercise 1, a reference answer.

pub use crate::ex1::Challenge;

/// Parses a `WWW-Authenticate: Bearer …` value.
pub fn parse_challenge(value: &str) -> Option<Challenge> {
    let mut rest = value.trim().strip_prefix("Bearer ")?.trim_start();
    let mut c = Challenge::default();
    while !rest.is_empty() {
        let (key, after) = rest.split_once('=')?;
        let (val, after) = match after.strip_prefix('"') {
            Some(quoted) => {
                let end = quoted.find('"')?;
                (&quoted[..end], &quoted[end + 1..])
            }
            None => after.split_once(',').unwrap_or((after, "")),
        };
        match key.trim() {
            "realm" => c.realm = val.to_string(),
            "service" => c.service = val.to_string(),
            "scope" => c.scope = val.to_string(),
            _ => {}
        }
        rest = after.trim_start_matches([',', ' ']);
    }
    Some(c)
}
