//! Exercise 2: a token.
//!
//! With the challenge's three values, the client asks the token endpoint:
//!
//! ```text
//! GET <realm>?service=<service>&scope=<scope>      (with Basic auth when logged in)
//! 200 {"token": "eyJ…", "access_token": "eyJ…", "expires_in": 300}
//! ```
//!
//! The token is then sent as `Authorization: Bearer <token>` with every
//! request of that scope. Anonymous clients get `pull` on public
//! repositories. Chapter 06's client does this in `client/mod.rs`.
//!
//! Check with `scripts/check.sh 06 2`: the checker calls your function with
//! its registry's challenge, then uses the token you got.

use crate::ex1::Challenge;

/// Fetches a token for `challenge` from its realm, anonymously.
pub fn fetch_token(
    http: &reqwest::blocking::Client,
    challenge: &Challenge,
) -> Result<String, String> {
    let _ = (http, challenge);
    todo!("hint: http.get(&challenge.realm).query(&[(\"service\", …), (\"scope\", …)]).send(), check the status, then read \"token\" from the JSON body (serde_json::from_slice)")
}
