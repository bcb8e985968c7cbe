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
                if !rest[i + 2..i + 2 + j].is_ascii() {
                    return Err(
                        "template parsing error: only ASCII is supported inside {{ }}".into(),
                    );
                }
                rest = &rest[i + 2 + j + 2..];
            }
            None => return Err("template parsing error: unclosed action".into()),
        }
    }
    let mut t = gtmpl::Template::default();
    t.add_func("json", json_func);
    t.parse(template)
        .map_err(|e| format!("template parsing error: {e}"))?;
    t.render(&gtmpl::Context::from(to_gtmpl(v)))
        .map_err(|e| format!("template: {e}"))
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
