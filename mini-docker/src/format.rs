//! What a person sees: Docker's tables (Go tabwriter min width 10 = text + padding 3)
//! and `--format` Go templates (gtmpl).
//!
//! A list command's `--format` is Docker's: `table TEMPLATE` prints a header
//! row (the template rendered over each field's column title) and aligns
//! the `\t`-separated columns with the same tabwriter as the default table;
//! `json` prints each row as one JSON object per line (the newer CLIs'
//! shorthand for `{{json .}}`); anything else is rendered once per row.
//! Templates have Docker's functions: `json`, `split`, `join`, `title`,
//! `lower`, `upper`, `pad`, `truncate` (and gtmpl's `printf`, `index`…).

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

/// Keys whose `null` is a nil Go map in Docker's types (printed `map[]`).
const NIL_MAPS: [&str; 14] = [
    "Labels",
    "Volumes",
    "ExposedPorts",
    "Ports",
    "PortBindings",
    "Options",
    "Tmpfs",
    "Sysctls",
    "StorageOpt",
    "Data",
    "Networks",
    "DriverOpts",
    "Containers",
    "Annotations",
];

/// Keys whose `null` is a nil Go pointer (printed `<nil>`).
const NIL_POINTERS: [&str; 8] = [
    "PidsLimit",
    "OomKillDisable",
    "MemorySwappiness",
    "Init",
    "Health",
    "IPAMConfig",
    "Healthcheck",
    "UsageData",
];

/// JSON to a template value.
///
/// A JSON `null` stands for a nil Go value, which Go prints by its type:
/// `[]` for a slice (most of them: `Cmd`, `Env`, `Binds`), `map[]` for a
/// map and `<nil>` for a pointer. The type is known by the key, so each
/// becomes a value [`go_string`] prints that way and `json` turns back
/// into `null`: `Nil` (a slice), an empty `Map` (a map; objects are
/// `Object`), `NoValue` (a pointer).
pub fn to_gtmpl(v: &Value) -> gtmpl_value::Value {
    keyed_gtmpl("", v)
}

fn keyed_gtmpl(key: &str, v: &Value) -> gtmpl_value::Value {
    use gtmpl_value::Value as G;
    match v {
        Value::Null if NIL_MAPS.contains(&key) => G::Map(Default::default()),
        Value::Null if NIL_POINTERS.contains(&key) => G::NoValue,
        Value::Null => G::Nil,
        Value::Bool(b) => G::Bool(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => G::from(i),
            None => G::from(n.as_f64().unwrap_or(0.0)),
        },
        Value::String(s) => G::String(s.clone()),
        Value::Array(a) => G::Array(a.iter().map(|v| keyed_gtmpl("", v)).collect()),
        Value::Object(m) => G::Object(
            m.iter()
                .map(|(k, v)| (k.clone(), keyed_gtmpl(k, v)))
                .collect(),
        ),
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
            // An empty `Map` is a nil map (see `to_gtmpl`).
            G::Map(m) if m.is_empty() => Value::Null,
            G::Object(m) | G::Map(m) => {
                Value::Object(m.iter().map(|(k, v)| (k.clone(), back(v))).collect())
            }
        }
    }
    let v = args.first().map(back).unwrap_or(Value::Null);
    Ok(gtmpl_value::Value::String(v.to_string()))
}

/// `--format` over a list command's rows; `headers` maps each field to its
/// column title (`("ID", "CONTAINER ID")`) for `table`.
///
/// As the docker CLI does, a `\t` or `\n` typed in the template (a
/// backslash and a letter, as a shell passes `'{{.ID}}\t{{.Names}}'`)
/// becomes a tab or a newline, and spaces around the template go.
pub fn list(template: &str, rows: &[Value], headers: &[(&str, &str)]) -> Result<String, String> {
    if template.trim() == "json" {
        return Ok(rows.iter().map(|r| format!("{r}\n")).collect());
    }
    let (is_table, body) = match template.strip_prefix("table") {
        Some(body) => (true, body),
        None => (false, template),
    };
    let body = body
        .trim_matches(' ')
        .replace("\\t", "\t")
        .replace("\\n", "\n");
    let body = body.as_str();
    if !is_table {
        let mut out = String::new();
        for r in rows {
            out.push_str(&render(body, r)?);
            out.push('\n');
        }
        return Ok(out);
    }
    let titles: serde_json::Map<String, Value> = headers
        .iter()
        .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
        .collect();
    let mut tw = tabwriter::TabWriter::new(Vec::new()).minwidth(7).padding(3);
    let _ = writeln!(tw, "{}", render(body, &Value::Object(titles))?);
    for r in rows {
        let _ = writeln!(tw, "{}", render(body, r)?);
    }
    let _ = tw.flush();
    Ok(String::from_utf8_lossy(&tw.into_inner().unwrap_or_default()).into_owned())
}

fn str_arg(
    args: &[gtmpl_value::Value],
    i: usize,
    name: &str,
) -> Result<String, gtmpl_value::FuncError> {
    match args.get(i) {
        Some(gtmpl_value::Value::String(s)) => Ok(s.clone()),
        Some(v) => Ok(go_string(v)),
        None => Err(gtmpl_value::FuncError::AtLeastXArgs(name.into(), i + 1)),
    }
}

fn int_arg(
    args: &[gtmpl_value::Value],
    i: usize,
    name: &str,
) -> Result<usize, gtmpl_value::FuncError> {
    match args.get(i) {
        Some(gtmpl_value::Value::Number(n)) => Ok(n.as_u64().unwrap_or(0) as usize),
        Some(v) => v
            .to_string()
            .parse()
            .map_err(|_| gtmpl_value::FuncError::Generic(format!("{name}: {v} is not a number"))),
        None => Err(gtmpl_value::FuncError::AtLeastXArgs(name.into(), i + 1)),
    }
}

type FuncResult = Result<gtmpl_value::Value, gtmpl_value::FuncError>;

fn upper(a: &[gtmpl_value::Value]) -> FuncResult {
    Ok(str_arg(a, 0, "upper")?.to_uppercase().into())
}

fn lower(a: &[gtmpl_value::Value]) -> FuncResult {
    Ok(str_arg(a, 0, "lower")?.to_lowercase().into())
}

/// Go's `strings.Title`: each word's first letter in upper case.
fn title(a: &[gtmpl_value::Value]) -> FuncResult {
    let s = str_arg(a, 0, "title")?;
    let mut out = String::with_capacity(s.len());
    let mut start = true;
    for c in s.chars() {
        if start {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        start = !c.is_alphanumeric() && c != '_';
    }
    Ok(out.into())
}

fn split(a: &[gtmpl_value::Value]) -> FuncResult {
    let (s, sep) = (str_arg(a, 0, "split")?, str_arg(a, 1, "split")?);
    let parts: Vec<gtmpl_value::Value> = if sep.is_empty() {
        s.chars().map(|c| c.to_string().into()).collect()
    } else {
        s.split(sep.as_str())
            .map(|p| p.to_string().into())
            .collect()
    };
    Ok(gtmpl_value::Value::Array(parts))
}

fn join(a: &[gtmpl_value::Value]) -> FuncResult {
    let sep = str_arg(a, 1, "join")?;
    match a.first() {
        Some(gtmpl_value::Value::Array(items)) => Ok(items
            .iter()
            .map(go_string)
            .collect::<Vec<_>>()
            .join(&sep)
            .into()),
        _ => Err(gtmpl_value::FuncError::Generic(
            "join: the first argument is not a list".into(),
        )),
    }
}

/// Docker's `pad`: `prefix` spaces before and `suffix` after a non-empty string.
fn pad(a: &[gtmpl_value::Value]) -> FuncResult {
    let s = str_arg(a, 0, "pad")?;
    if s.is_empty() {
        return Ok(s.into());
    }
    let (pre, post) = (int_arg(a, 1, "pad")?, int_arg(a, 2, "pad")?);
    Ok(format!("{}{s}{}", " ".repeat(pre), " ".repeat(post)).into())
}

/// Docker's `truncate`: the first `length` characters.
fn truncate(a: &[gtmpl_value::Value]) -> FuncResult {
    let s = str_arg(a, 0, "truncate")?;
    let n = int_arg(a, 1, "truncate")?;
    Ok(s.chars().take(n).collect::<String>().into())
}

/// A value as Go's `fmt` prints it with `%v`: lists as `[a b]`, maps as
/// `map[k:v]` (keys sorted), and a nil slice, map or pointer (see
/// [`to_gtmpl`]) as `[]`, `map[]` and `<nil>`.
pub fn go_string(v: &gtmpl_value::Value) -> String {
    use gtmpl_value::Value as G;
    match v {
        G::Nil => "[]".into(),
        G::NoValue => "<nil>".into(),
        G::Array(a) => format!(
            "[{}]",
            a.iter().map(go_string).collect::<Vec<_>>().join(" ")
        ),
        G::Object(m) | G::Map(m) => {
            let mut kv: Vec<_> = m.iter().collect();
            kv.sort_by(|a, b| a.0.cmp(b.0));
            let kv: Vec<String> = kv
                .iter()
                .map(|(k, v)| format!("{k}:{}", go_string(v)))
                .collect();
            format!("map[{}]", kv.join(" "))
        }
        other => other.to_string(),
    }
}

/// Go's `printf` verbs a `--format` uses: `%s %v %d %q %t %%`, with the
/// `-` flag, a width and (for `%s`) a precision.
fn printf(a: &[gtmpl_value::Value]) -> FuncResult {
    let spec = str_arg(a, 0, "printf")?;
    let mut args = a[1..].iter();
    let mut out = String::new();
    let mut chars = spec.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut left = false;
        let mut zero = false;
        while let Some(&f) = chars.peek() {
            match f {
                '-' => left = true,
                '0' => zero = true,
                '+' | ' ' | '#' => {}
                _ => break,
            }
            chars.next();
        }
        let mut width = String::new();
        while let Some(&d) = chars.peek().filter(|d| d.is_ascii_digit()) {
            width.push(d);
            chars.next();
        }
        let mut precision = None;
        if chars.peek() == Some(&'.') {
            chars.next();
            let mut p = String::new();
            while let Some(&d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                p.push(d);
                chars.next();
            }
            precision = Some(p.parse::<usize>().unwrap_or(0));
        }
        let Some(verb) = chars.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        let Some(arg) = args.next() else {
            out.push_str(&format!("%!{verb}(MISSING)"));
            continue;
        };
        let mut text = match verb {
            'q' => Value::String(go_string(arg)).to_string(),
            'd' => match arg {
                gtmpl_value::Value::Number(n) => n.to_string(),
                other => format!("%!d({})", go_string(other)),
            },
            _ => go_string(arg),
        };
        if let (Some(p), 's' | 'v') = (precision, verb) {
            text = text.chars().take(p).collect();
        }
        let width: usize = width.parse().unwrap_or(0);
        let fill = width.saturating_sub(text.chars().count());
        if left {
            text.push_str(&" ".repeat(fill));
        } else if zero && verb == 'd' {
            text = format!("{}{text}", "0".repeat(fill));
        } else {
            text = format!("{}{text}", " ".repeat(fill));
        }
        out.push_str(&text);
    }
    for extra in args {
        out.push_str(&format!("%!(EXTRA {})", go_string(extra)));
    }
    Ok(out.into())
}

/// Renders a Go template over `v` (with Docker's functions).
pub fn render(template: &str, v: &Value) -> Result<String, String> {
    // gtmpl's lexer loops forever on an action left open at the end
    // (`{{index . .`) and panics on some non-ASCII input inside an action:
    // refuse both first (found by tests/tests/parsers_fuzz.rs).
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
    let (ascii, runs) = ascii_template(&go_printed(template));
    let mut t = gtmpl::Template::default();
    t.add_func(GO_PRINT, go_print);
    t.add_func("json", json_func);
    t.add_func("upper", upper);
    t.add_func("lower", lower);
    t.add_func("title", title);
    t.add_func("split", split);
    t.add_func("join", join);
    t.add_func("pad", pad);
    t.add_func("truncate", truncate);
    t.add_func("printf", printf);
    t.parse(&ascii)
        .map_err(|e| format!("template parsing error: {e}"))?;
    let mut out = t
        .render(&gtmpl::Context::from(to_gtmpl(v)))
        .map_err(|e| match e {
            // Docker's words for a missing key; gtmpl's would print the
            // whole object the key was looked up in.
            gtmpl::error::ExecError::NoFiledFor(key, _) => {
                format!("template: map has no entry for key {key:?}")
            }
            e => format!("template: {e}"),
        })?;
    for (i, run) in runs.iter().enumerate() {
        out = out.replace(&format!("\u{1}{i}\u{2}"), run);
    }
    Ok(out)
}

/// The function every printing action ends in (see [`go_printed`]).
const GO_PRINT: &str = "__go_print";

fn go_print(a: &[gtmpl_value::Value]) -> FuncResult {
    Ok(a.last().map(go_string).unwrap_or_default().into())
}

/// `template` with each action that prints a value piped through
/// [`GO_PRINT`], so the value is printed as Go's `fmt` prints it (`[a b]`,
/// `map[k:v]`) rather than as gtmpl prints it (Rust's debug form).
///
/// Go's text/template prints the final value of an action that is not a
/// control word (`if`, `range`, `end`…), a comment or a variable
/// declaration; those are left as they are. The `-` trim markers stay
/// outside the added pipe: `{{- .L -}}` becomes `{{- .L | __go_print -}}`.
fn go_printed(template: &str) -> String {
    const CONTROL: [&str; 10] = [
        "if", "else", "end", "range", "with", "define", "template", "block", "break", "continue",
    ];
    let mut out = String::with_capacity(template.len() + 16);
    let mut rest = template;
    while let Some(i) = rest.find("{{") {
        let Some(j) = rest[i + 2..].find("}}") else {
            break;
        };
        out.push_str(&rest[..i + 2]);
        let action = &rest[i + 2..i + 2 + j];
        rest = &rest[i + 2 + j + 2..];
        let lead = if action.starts_with("- ") { 2 } else { 0 };
        let trail = if action.ends_with(" -") { 2 } else { 0 };
        let Some(inner) = action.get(lead..action.len().saturating_sub(trail)) else {
            out.push_str(action);
            out.push_str("}}");
            continue;
        };
        let word = inner
            .trim_start()
            .split(|c: char| c.is_whitespace() || c == '(')
            .next()
            .unwrap_or("");
        let declares = inner.trim_start().starts_with('$')
            && (inner.contains(":=") || inner.split_whitespace().nth(1) == Some("="));
        let prints = !inner.trim().is_empty()
            && !CONTROL.contains(&word)
            && !inner.trim_start().starts_with("/*")
            && !declares;
        out.push_str(&action[..lead]);
        out.push_str(inner);
        if prints {
            out.push_str(" | ");
            out.push_str(GO_PRINT);
        }
        out.push_str(&action[action.len() - trail..]);
        out.push_str("}}");
    }
    out.push_str(rest);
    out
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
    fn list_formats_and_go_printing() {
        let rows = vec![
            serde_json::json!({"ID": "a1", "Names": "web", "L": ["x", "y"], "M": {"k": "v", "a": 1}}),
            serde_json::json!({"ID": "b22222222222", "Names": "db", "L": [], "M": {}}),
        ];
        let h = [("ID", "CONTAINER ID"), ("Names", "NAMES")];
        assert_eq!(
            list("table {{.ID}}\t{{.Names}}", &rows, &h).unwrap(),
            "CONTAINER ID   NAMES\na1             web\nb22222222222   db\n"
        );
        // A `\t` typed by the user (backslash, t) is a column, and `\n` a line.
        assert_eq!(
            list("table {{.ID}}\\t{{.Names}} ", &rows, &h).unwrap(),
            "CONTAINER ID   NAMES\na1             web\nb22222222222   db\n"
        );
        assert_eq!(
            list(" {{.ID}}\\t{{.Names}}\\n", &rows[..1], &h).unwrap(),
            "a1\tweb\n\n"
        );
        assert_eq!(
            render("{{.Nope}}", &rows[0]).unwrap_err(),
            "template: map has no entry for key \"Nope\""
        );
        assert_eq!(
            list("json", &rows[1..], &h).unwrap(),
            "{\"ID\":\"b22222222222\",\"L\":[],\"M\":{},\"Names\":\"db\"}\n"
        );
        assert_eq!(
            list(
                "{{printf \"%v %v|%-4s|%5d|%q\" .L .M .Names 7 .Names}}",
                &rows[..1],
                &h
            )
            .unwrap(),
            "[x y] map[a:1 k:v]|web |    7|\"web\"\n"
        );
        assert_eq!(
            render(
                "{{pad .Names 1 2}}|{{truncate .ID 3}}|{{title \"a-b c\"}}",
                &rows[1]
            )
            .unwrap(),
            " db  |b22|A-B C"
        );
        assert_eq!(render("{{join .L \",\"}}", &rows[0]).unwrap(), "x,y");
        // A plain action prints lists and maps as Go does, nested too.
        assert_eq!(
            render("{{.L}} {{.M}} {{ .L -}} | {{- .M }}", &rows[0]).unwrap(),
            "[x y] map[a:1 k:v] [x y]|map[a:1 k:v]"
        );
        assert_eq!(
            render(
                "{{range $i, $e := .L}}{{$i}}={{$e}};{{end}}{{$m := .M}}{{/* c */}}{{if .L}}{{$m}}{{else}}-{{end}}",
                &rows[0]
            )
            .unwrap(),
            "0=x;1=y;map[a:1 k:v]"
        );
        let nested = serde_json::json!({"N": {"b": [1, 2], "a": {"x": "y"}}, "E": [], "Z": null});
        assert_eq!(
            render("{{.N}} {{.E}} {{.Z}} {{len .E}}", &nested).unwrap(),
            "map[a:map[x:y] b:[1 2]] [] [] 0"
        );
        // A nil slice, map and pointer print as Go prints them; json says null.
        let nils = serde_json::json!({"Cmd": null, "Labels": null, "PidsLimit": null});
        assert_eq!(
            render(
                "{{.Cmd}} {{.Labels}} {{.PidsLimit}} {{json .Cmd}} {{json .Labels}} {{json .PidsLimit}}{{if .Labels}}!{{end}}",
                &nils
            )
            .unwrap(),
            "[] map[] <nil> null null null"
        );
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
