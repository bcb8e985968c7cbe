//! Exercise 2, a reference answer.

use crate::ex1::Challenge;

/// Fetches a token for `challenge` from its realm, anonymously.
pub fn fetch_token(
    http: &reqwest::blocking::Client,
    challenge: &Challenge,
) -> Result<String, String> {
    let mut query = vec![("service", challenge.service.as_str())];
    if !challenge.scope.is_empty() {
        query.push(("scope", challenge.scope.as_str()));
    }
    let resp = http
        .get(&challenge.realm)
        .query(&query)
        .send()
        .map_err(|e| format!("GET {}: {e}", challenge.realm))?;
    let status = resp.status();
    let body = resp
        .bytes()
        .map_err(|e| format!("read the token response: {e}"))?;
    if !status.is_success() {
        return Err(format!(
            "the token endpoint answered {status}: {}",
            String::from_utf8_lossy(&body)
        ));
    }
    let json: serde_json::Value = serde_json::from_slice(&body)
        .map_err(|e| format!("the token response is not JSON: {e}"))?;
    json.get("token")
        .or_else(|| json.get("access_token"))
        .and_then(|t| t.as_str())
        .map(str::to_string)
        .ok_or_else(|| "the token response has no \"token\"".to_string())
}
