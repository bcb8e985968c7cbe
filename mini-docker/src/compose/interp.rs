//! Variables: the `.env` file and `${VAR}` interpolation, as compose does.
//!
//! Compose reads `KEY=VALUE` lines from `.env` beside the first compose file
//! (or from `--env-file`); the shell's environment wins over the file. Then
//! every string value of the YAML (never a key) is interpolated:
//!
//! | written | gives |
//! | --- | --- |
//! | `$VAR`, `${VAR}` | its value, or empty (with a warning) when unset |
//! | `${VAR:-default}` | `default` when VAR is unset or empty |
//! | `${VAR-default}` | `default` when VAR is unset |
//! | `${VAR:?message}` | an error with `message` when unset or empty |
//! | `${VAR?message}` | an error when unset |
//! | `${VAR:+other}`, `${VAR+other}` | `other` when VAR is set (and not empty) |
//! | `$$` | a literal `$` |
//!
//! Defaults and messages may hold further `${…}`.

use serde_json::Value;
use std::collections::BTreeMap;

/// The variables interpolation sees.
pub type Vars = BTreeMap<String, String>;

/// Reads an env file: `KEY=VALUE`, `export KEY=VALUE`, `#` comments, values
/// in single quotes (literal) or double quotes (with `\n` escapes).
pub fn parse_env_file(text: &str) -> Result<Vars, String> {
    let mut out = Vars::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let Some((k, v)) = line.split_once('=') else {
            // A bare name takes the shell's value, as compose does.
            if let Ok(v) = std::env::var(line) {
                out.insert(line.to_string(), v);
            }
            continue;
        };
        let k = k.trim();
        if k.is_empty() || k.contains(char::is_whitespace) {
            return Err(format!("line {}: invalid variable name {k:?}", n + 1));
        }
        let v = v.trim_start();
        let v = if let Some(q) = v.strip_prefix('\'') {
            q.split_once('\'').map_or(q, |(a, _)| a).to_string()
        } else if let Some(q) = v.strip_prefix('"') {
            q.split_once('"')
                .map_or(q, |(a, _)| a)
                .replace("\\n", "\n")
                .replace("\\\"", "\"")
        } else {
            // An unquoted value ends at ` #`.
            v.split(" #").next().unwrap_or("").trim_end().to_string()
        };
        out.insert(k.to_string(), v);
    }
    Ok(out)
}

/// Interpolates one string. Warnings (unset variables) go to `warn`.
pub fn interpolate(s: &str, vars: &Vars, warn: &mut Vec<String>) -> Result<String, String> {
    let mut out = String::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'$' {
            let ch = s[i..].chars().next().unwrap_or_default();
            out.push(ch);
            i += ch.len_utf8();
            continue;
        }
        match b.get(i + 1) {
            Some(b'$') => {
                out.push('$');
                i += 2;
            }
            Some(b'{') => {
                // Find the matching brace (defaults may nest `${…}`).
                let mut depth = 0;
                let mut end = None;
                for (j, c) in s[i + 1..].char_indices() {
                    match c {
                        '{' => depth += 1,
                        '}' => {
                            depth -= 1;
                            if depth == 0 {
                                end = Some(i + 1 + j);
                                break;
                            }
                        }
                        _ => {}
                    }
                }
                let end = end.ok_or_else(|| format!("invalid interpolation format for {s:?}: a \"${{\" is not closed"))?;
                out.push_str(&expand(&s[i + 2..end], s, vars, warn)?);
                i = end + 1;
            }
            Some(c) if c.is_ascii_alphabetic() || *c == b'_' => {
                let start = i + 1;
                let mut j = start;
                while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_') {
                    j += 1;
                }
                out.push_str(&lookup(&s[start..j], vars, warn));
                i = j;
            }
            _ => {
                return Err(format!(
                    "invalid interpolation format for {s:?}: you may need to escape any $ with another $"
                ))
            }
        }
    }
    Ok(out)
}

fn lookup(name: &str, vars: &Vars, warn: &mut Vec<String>) -> String {
    match vars.get(name) {
        Some(v) => v.clone(),
        None => {
            let w = format!("The {name:?} variable is not set. Defaulting to a blank string.");
            if !warn.contains(&w) {
                warn.push(w);
            }
            String::new()
        }
    }
}

/// The inside of `${…}`.
fn expand(inner: &str, whole: &str, vars: &Vars, warn: &mut Vec<String>) -> Result<String, String> {
    let name_end = inner
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(inner.len());
    let (name, op) = inner.split_at(name_end);
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
        return Err(format!(
            "invalid interpolation format for {whole:?}: bad variable name in \"${{{inner}}}\""
        ));
    }
    let val = vars.get(name);
    let set_nonempty = val.is_some_and(|v| !v.is_empty());
    if op.is_empty() {
        return Ok(lookup(name, vars, warn));
    }
    let mut rest = |n: usize| interpolate(&op[n..], vars, warn);
    match op {
        _ if op.starts_with(":-") => {
            if set_nonempty {
                Ok(val.cloned().unwrap_or_default())
            } else {
                rest(2)
            }
        }
        _ if op.starts_with('-') => match val {
            Some(v) => Ok(v.clone()),
            None => rest(1),
        },
        _ if op.starts_with(":?") || op.starts_with('?') => {
            let n = if op.starts_with(':') { 2 } else { 1 };
            let ok = if n == 2 { set_nonempty } else { val.is_some() };
            if ok {
                Ok(val.cloned().unwrap_or_default())
            } else {
                let msg = rest(n)?;
                Err(format!(
                    "required variable {name} is missing a value: {msg}"
                ))
            }
        }
        _ if op.starts_with(":+") => {
            if set_nonempty {
                rest(2)
            } else {
                Ok(String::new())
            }
        }
        _ if op.starts_with('+') => {
            if val.is_some() {
                rest(1)
            } else {
                Ok(String::new())
            }
        }
        _ => Err(format!(
            "invalid interpolation format for {whole:?}: \"${{{inner}}}\""
        )),
    }
}

/// Interpolates every string value of a tree in place; an error names the
/// key path.
pub fn interpolate_tree(
    v: &mut Value,
    path: &str,
    vars: &Vars,
    warn: &mut Vec<String>,
) -> Result<(), (String, String)> {
    match v {
        Value::String(s) => {
            *s = interpolate(s, vars, warn).map_err(|e| (path.to_string(), e))?;
        }
        Value::Array(a) => {
            for (i, x) in a.iter_mut().enumerate() {
                interpolate_tree(x, &format!("{path}[{i}]"), vars, warn)?;
            }
        }
        Value::Object(o) => {
            for (k, x) in o.iter_mut() {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                interpolate_tree(x, &p, vars, warn)?;
            }
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> Vars {
        [("A", "1"), ("EMPTY", ""), ("NAME", "web")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn run(s: &str) -> Result<String, String> {
        interpolate(s, &vars(), &mut Vec::new())
    }

    #[test]
    fn forms() {
        assert_eq!(run("$A-${A}").unwrap(), "1-1");
        assert_eq!(run("${EMPTY:-d}|${EMPTY-d}|${UNSET-d}").unwrap(), "d||d");
        assert_eq!(run("${A:-d}").unwrap(), "1");
        assert_eq!(run("${UNSET:-${NAME}-x}").unwrap(), "web-x");
        assert_eq!(run("$$HOME and $${A}").unwrap(), "$HOME and ${A}");
        assert_eq!(run("${A:+yes}${EMPTY:+no}${EMPTY+set}").unwrap(), "yesset");
        assert_eq!(run("port ${A}80").unwrap(), "port 180");
        assert_eq!(run("ünï ${NAME}").unwrap(), "ünï web");
    }

    #[test]
    fn required_and_unset() {
        assert_eq!(
            run("${UNSET:?set it in .env}").unwrap_err(),
            "required variable UNSET is missing a value: set it in .env"
        );
        assert!(run("${EMPTY:?no}").is_err());
        assert_eq!(run("${EMPTY?no}").unwrap(), "");
        let mut w = Vec::new();
        assert_eq!(interpolate("${UNSET}", &vars(), &mut w).unwrap(), "");
        assert_eq!(
            w,
            ["The \"UNSET\" variable is not set. Defaulting to a blank string."]
        );
        assert!(run("${A").unwrap_err().contains("not closed"));
        assert!(run("cost $5").unwrap_err().contains("escape any $"));
    }

    #[test]
    fn env_files() {
        let v =
            parse_env_file("# c\nA=1\nexport B = 2\nC='x # y'\nD=\"l1\\nl2\"\nE=v # comment\n\n")
                .unwrap();
        assert_eq!(v["A"], "1");
        assert_eq!(v["B"], "2");
        assert_eq!(v["C"], "x # y");
        assert_eq!(v["D"], "l1\nl2");
        assert_eq!(v["E"], "v");
    }
}
