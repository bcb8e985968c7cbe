//! Exercise 1: the challenge.
//!
//! A registry with token auth answers a request without a token with `401`
//! and a header that says where to get one:
//!
//! ```text
//! WWW-Authenticate: Bearer realm="http://127.0.0.1:5000/token",service="registry",scope="repository:demo/app:pull"
//! ```
//!
//! `realm` is the token endpoint, `service` and `scope` are what to ask it
//! for. Values are quoted, and a scope may hold a comma
//! (`repository:demo/app:pull,push`), so splitting on `,` is not enough.
//! Chapter 06's `auth.rs` (`parse_challenge`) and the distribution spec's
//! token.md describe it.
//!
//! Check with `scripts/check.sh 06 1`: the checker feeds your function the
//! header its registry really sent, and two harder ones.

/// What a `Bearer` challenge asks for.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Challenge {
    /// The token endpoint's URL.
    pub realm: String,
    /// The `service` parameter to send to it.
    pub service: String,
    /// The `scope` parameter to send to it (may be empty).
    pub scope: String,
}

/// Parses a `WWW-Authenticate: Bearer …` value; `None` for another scheme.
pub fn parse_challenge(value: &str) -> Option<Challenge> {
    let _ = value;
    todo!("hint: strip the \"Bearer \" prefix, then read key=\"value\" pairs one by one, taking everything up to the closing quote (commas included)")
}
