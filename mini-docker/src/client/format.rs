//! What a person sees: Docker's tables (Go tabwriter min width 10 = text + padding 3)
//! and `--format` Go templates (gtmpl).

use serde_json::Value;
use std::io::Write;

/// Prints rows as Docker's aligned table.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut tw = tabwriter::TabWriter::new(Vec::new()).minwidth(7).padding(3);
    let _ = writeln!(tw, "{}", header.join("\t"));
    for r in rows {
        let _ = writeln!(tw, "{}", r.join("\t"));
    }
    let _ = tw.flush();
    String::from_utf8_lossy(&tw.into_inner().unwrap_or_default()).into_owned()
}

/// JSON to a template value.
pub fn to_gtmpl(v: &Value) -> gtmpl_value::Value {
    use gtmpl_value::Value as G;
    match v {
        Value::Null => G::Nil,
        Value::Bool(b) => G::Bool(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => G::from(i),
            None => G::from(n.as_f64().unwrap_or(0.0)),
        },
        Value::String(s) => G::String(s.clone()),
        Value::Array(a) => G::Array(a.iter().map(to_gtmpl).collect()),
        Value::Object(m) => G::Object(m.iter().map(|(k, v)| (k.clone(), to_gtmpl(v))).collect()),
    }
}

fn json_func(args: &[gtmpl_value::Value]) -> Result<gtmpl_value::Value, gtmpl_value::FuncError> {
    fn back(v: &gtmpl_value::Value) -> Value {
        use gtmpl_value::Value as G;
        match v {
            G::Nil | G::NoValue | G::Function(_) => Value::Null,
            G::Bool(b) => Value::Bool(*b),
            G::String(s) => Value::String(s.clone()),
            G::Number(n) => n
                .as_i64()
                .map(Value::from)
                .or_else(|| n.as_f64().map(Value::from))
                .unwrap_or(Value::Null),
            G::Array(a) => Value::Array(a.iter().map(back).collect()),
            G::Object(m) | G::Map(m) => {
                Value::Object(m.iter().map(|(k, v)| (k.clone(), back(v))).collect())
            }
        }
    }
    let v = args.first().map(back).unwrap_or(Value::Null);
    Ok(gtmpl_value::Value::String(v.to_string()))
}

/// Renders a Go template over `v` (with Docker's `json` function).
pub fn render(template: &str, v: &Value) -> Result<String, String> {
    // gtmpl's lexer loops forever on an action left open at the end
    // (`{{index . .`) and panics on some non-ASCII input inside an action:
    // refuse both first (found by tests/hardening_parsers.rs).
    let mut rest = template;
    while let Some(i) = rest.find("{{") {
        match rest[i + 2..].find("}}") {
            Some(j) => {
                let action = &rest[i + 2..i + 2 + j];
                if !action.is_ascii() {
                    return Err(
                        "template parsing error: only ASCII is supported inside {{ }}".into(),
                    );
                }
                // Char constants and unbalanced strings send gtmpl's lexer
                // past the `}}` and, on some inputs, into an endless loop.
                // Only the escapes a --format needs (`\n \t \\ \"`): gtmpl
                // loops on others (`"\u"`).
                let mut esc = action.chars();
                while let Some(c) = esc.next() {
                    if c == '\\' && !matches!(esc.next(), Some('n' | 't' | '\\' | '"')) {
                        return Err("template parsing error: unsupported escape in a string".into());
                    }
                }
                let quotes = action.replace("\\\\", "").replace("\\\"", "");
                if action.contains('\'')
                    || quotes.matches('"').count() % 2 == 1
                    || action.contains('`')
                {
                    return Err(
                        "template parsing error: an unterminated string, a raw string or a char constant"
                            .into(),
                    );
                }
                rest = &rest[i + 2 + j + 2..];
            }
            None => return Err("template parsing error: unclosed action".into()),
        }
    }
    // The rest of gtmpl's lexer bugs slice its input inside a multi-byte
    // character (found by fuzz/): it only ever sees ASCII, each non-ASCII
    // run of text stands in as `\x01N\x02` and comes back after rendering.
    let (ascii, runs) = ascii_template(template);
    let mut t = gtmpl::Template::default();
    t.add_func("json", json_func);
    t.parse(&ascii)
        .map_err(|e| format!("template parsing error: {e}"))?;
    let mut out = t
        .render(&gtmpl::Context::from(to_gtmpl(v)))
        .map_err(|e| format!("template: {e}"))?;
    for (i, run) in runs.iter().enumerate() {
        out = out.replace(&format!("\u{1}{i}\u{2}"), run);
    }
    Ok(out)
}

/// `template` with each run of non-ASCII characters replaced by `\x01N\x02`.
fn ascii_template(template: &str) -> (String, Vec<String>) {
    let (mut out, mut runs, mut cur) = (String::new(), Vec::new(), String::new());
    for c in template.chars().chain(std::iter::once('\0')) {
        if !c.is_ascii() {
            cur.push(c);
            continue;
        }
        if !cur.is_empty() {
            out.push_str(&format!("\u{1}{}\u{2}", runs.len()));
            runs.push(std::mem::take(&mut cur));
        }
        out.push(c);
    }
    out.pop(); // the '\0' that flushed the last run
    (out, runs)
}

/// Docker's `stringutils.Ellipsis`.
pub fn ellipsis(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max - 1).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_ascii_text_survives_and_hostile_templates_are_refused() {
        let v = serde_json::json!({"ID": "abc", "Names": ["/x"]});
        assert_eq!(render("→ {{.ID}} ✓ ok", &v).unwrap(), "→ abc ✓ ok");
        assert!(render("{{index . .", &v)
            .unwrap_err()
            .contains("unclosed action"));
        assert!(render("{{.ID \"é\"}}", &v).unwrap_err().contains("ASCII"));
        // The crash fuzz/ found: quotes that run past `}}` into non-ASCII text.
        let crash =
            "{{\0\0'''''' '''''''''''''}\0 }}''''''''La\u{fffd}el'''(''' {{} }}}V}V\nc\u{fffd}}";
        let _ = render(crash, &v);
        // …and the hang it found next: an unknown escape in a string.
        assert!(render("{{\"uu\\u\" -}}", &v)
            .unwrap_err()
            .contains("escape"));
        assert_eq!(render("{{\"a\\tb\"}}", &v).unwrap(), "a\tb");
    }

    #[test]
    fn templates_and_tables() {
        let v = serde_json::json!({"State": {"Status": "running", "Pid": 5}});
        assert_eq!(render("{{ .State.Status }}", &v).unwrap(), "running");
        assert_eq!(
            render("{{json .State}}", &v).unwrap(),
            r#"{"Pid":5,"Status":"running"}"#
        );
        let t = table(
            &["CONTAINER ID", "IMAGE"],
            &[vec!["abc".into(), "bb".into()]],
        );
        assert_eq!(t, "CONTAINER ID   IMAGE\nabc            bb\n");
        assert_eq!(
            ellipsis("sh -c 'echo hello; exit 3'", 20),
            "sh -c 'echo hello; …"
        );
    }
}
