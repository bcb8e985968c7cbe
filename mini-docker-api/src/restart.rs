//! `HostConfig.RestartPolicy` from the CLI's `--restart` flag.

/// `--restart` text to `RestartPolicy` JSON (the client's side).
pub fn parse_flag(s: &str) -> Result<serde_json::Value, String> {
    let (name, max) = match s.split_once(':') {
        Some((n, m)) => (
            n,
            m.parse::<i64>()
                .map_err(|_| format!("invalid restart policy format: {s}"))?,
        ),
        None => (s, 0),
    };
    if !matches!(name, "no" | "always" | "unless-stopped" | "on-failure") {
        return Err(format!("invalid restart policy {name}"));
    }
    Ok(serde_json::json!({"Name": name, "MaximumRetryCount": max}))
}
