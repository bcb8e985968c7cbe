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
const NIL_POINTERS: [&str; 12] = [
    "PidsLimit",
    "OomKillDisable",
    "MemorySwappiness",
    "Init",
    "Health",
    "IPAMConfig",
    "Healthcheck",
    "UsageData",
    "SizeRw",
    "SizeRootFs",
    "Node",
    "StopTimeout",
];

/// Fields of Docker's Go types that its JSON leaves out when they are
/// empty (`json:",omitempty"`), by the object they are in (`""` is the
/// top level), with the zero value Go's struct has for them.
///
/// The docker CLI decodes `inspect`'s JSON into those types before it runs
/// the template, so `{{json .State.Health}}` on a container without a
/// check is `null` (a nil pointer), where a lookup in the JSON map alone
/// would fail with "map has no entry for key". [`with_go_fields`] puts
/// them back.
const OMITTED: [(&str, &[(&str, Zero)]); 4] = [
    (
        "",
        &[
            ("SizeRw", Zero::Nil),
            ("SizeRootFs", Zero::Nil),
            ("Node", Zero::Nil),
        ],
    ),
    ("State", &[("Health", Zero::Nil)]),
    (
        "Config",
        &[
            ("ExposedPorts", Zero::Nil),
            ("Healthcheck", Zero::Nil),
            ("ArgsEscaped", Zero::False),
            ("NetworkDisabled", Zero::False),
            ("MacAddress", Zero::Empty),
            ("StopSignal", Zero::Empty),
            ("StopTimeout", Zero::Nil),
            ("Shell", Zero::Nil),
        ],
    ),
    ("HostConfig", &[("Init", Zero::Nil), ("Mounts", Zero::Nil)]),
];

/// A Go zero value, as JSON (a nil pointer, map or slice is `null`; see
/// [`to_gtmpl`] for how each prints).
#[derive(Clone, Copy)]
enum Zero {
    Nil,
    False,
    Empty,
}

/// `v` (a container's or an image's inspect) with the fields Docker's JSON
/// omits when empty put back as Go's zero values (see [`OMITTED`]); an
/// image's `Config` and `ContainerConfig` are the container's `Config`
/// type.
pub fn with_go_fields(mut v: Value) -> Value {
    for (parent, fields) in OMITTED {
        let parents: &[&str] = match parent {
            "Config" => &["Config", "ContainerConfig"],
            p => &[p][..],
        };
        for p in parents {
            let obj = if p.is_empty() {
                v.as_object_mut()
            } else {
                v.get_mut(*p).and_then(Value::as_object_mut)
            };
            let Some(obj) = obj else { continue };
            // `SizeRw`, `Node`…: a container's, not an image's.
            if p.is_empty() && !obj.contains_key("State") {
                continue;
            }
            for (key, zero) in fields.iter() {
                obj.entry(*key).or_insert(match zero {
                    Zero::Nil => Value::Null,
                    Zero::False => Value::Bool(false),
                    Zero::Empty => Value::String(String::new()),
                });
            }
        }
    }
    v
}

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

/// The JSON name of a Go field whose name differs from it (see
/// `version --format`, whose values carry Go's field names).
fn json_name(field: &str) -> &str {
    match field {
        "APIVersion" => "ApiVersion",
        other => other,
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
            G::Object(m) | G::Map(m) => Value::Object(
                m.iter()
                    .map(|(k, v)| (json_name(k).to_string(), back(v)))
                    .collect(),
            ),
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
pub fn list(
    template: &str,
    rows: &[Value],
    headers: &[(&str, &str)],
) -> Result<String, TemplateError> {
    list_as(template, rows, headers, &Go::MAP)
}

/// [`list`], with the Go type the docker CLI renders each row as (for
/// its error messages: see [`Go`]).
pub fn list_as(
    template: &str,
    rows: &[Value],
    headers: &[(&str, &str)],
    go: &Go,
) -> Result<String, TemplateError> {
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
            out.push_str(&execute(body, r, go)?);
            out.push('\n');
        }
        return Ok(out);
    }
    let titles: serde_json::Map<String, Value> = headers
        .iter()
        .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
        .collect();
    let mut tw = tabwriter::TabWriter::new(Vec::new()).minwidth(7).padding(3);
    let _ = writeln!(tw, "{}", execute(body, &Value::Object(titles), go)?);
    for r in rows {
        let _ = writeln!(tw, "{}", execute(body, r, go)?);
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

/// A template error, in the words of Go's text/template (which the
/// docker CLI prints after its own prefix, such as `template parsing
/// error: `): `template: :1: unclosed action` when the template does not
/// parse, `template: :1:2: executing "" at <.Nope>: map has no entry for
/// key "Nope"` when it fails on the data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplateError {
    /// The template does not parse.
    Parse(String),
    /// It parsed, and failed while running over the data.
    Exec(String),
}

impl std::fmt::Display for TemplateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TemplateError::Parse(m) | TemplateError::Exec(m) => f.write_str(m),
        }
    }
}

impl From<TemplateError> for String {
    fn from(e: TemplateError) -> String {
        e.to_string()
    }
}

/// How the docker CLI runs a template, for its error messages: the
/// template's name (`version` names its template, the others do not) and
/// the Go types of the structs it runs over, by path (`""` is the top,
/// `Server.Platform` a nested one). `inspect` runs over the JSON decoded
/// into a map (no types: a missing key is "map has no entry for key");
/// `ps`, `images` and the other lists run over a Go struct (a missing
/// field is "can't evaluate field Nope in type
/// *formatter.ContainerContext").
#[derive(Debug, Clone, Copy)]
pub struct Go<'a> {
    /// The template's name: `""`, or `version`.
    pub name: &'a str,
    /// The Go type of each struct, by its path from the top.
    pub types: &'a [(&'a str, &'a str)],
}

impl Go<'static> {
    /// An unnamed template over a map: `inspect`'s.
    pub const MAP: Go<'static> = Go {
        name: "",
        types: &[],
    };

    /// An unnamed template over the Go types `types` (see [`Go::types`]).
    pub const fn typed(types: &'static [(&'static str, &'static str)]) -> Go<'static> {
        Go { name: "", types }
    }
}

/// The docker CLI's message for a list command's template error
/// (`images`, `network ls`, `volume ls`): `template parsing error: ` and
/// Go's words, whether it did not parse or failed on a row; exit code 1.
pub fn list_failure(e: TemplateError) -> super::Failure {
    super::Failure {
        code: 1,
        message: format!("template parsing error: {e}"),
    }
}

/// Renders a Go template over `v` (with Docker's functions); an error is
/// one line, worded as Go's (see [`TemplateError`]).
pub fn render(template: &str, v: &Value) -> Result<String, String> {
    execute(template, v, &Go::MAP).map_err(String::from)
}

/// The line (from 1) of byte `pos` of `text`.
fn line_of(text: &str, pos: usize) -> usize {
    1 + text[..pos.min(text.len())].matches('\n').count()
}

/// Renders a Go template over `v`, as the docker CLI runs it (`go`).
pub fn execute(template: &str, v: &Value, go: &Go) -> Result<String, TemplateError> {
    execute_partial(template, v, go).map_err(|(_, e)| e)
}

/// [`execute`], keeping on failure what the template wrote before it
/// failed: Go's templates write as they go, and `info` and `version`
/// print that part (`0.1.0 ` of `{{.Server.Version}} {{.Nope}}`).
pub fn execute_partial(
    template: &str,
    v: &Value,
    go: &Go,
) -> Result<String, (String, TemplateError)> {
    let parse_error = |pos: usize, msg: &str| {
        (
            String::new(),
            TemplateError::Parse(format!(
                "template: {}:{}: {msg}",
                go.name,
                line_of(template, pos)
            )),
        )
    };
    // gtmpl's lexer loops forever on an action left open at the end
    // (`{{index . .`) and panics on some non-ASCII input inside an action:
    // refuse both first (found by tests/tests/parsers_fuzz.rs).
    let mut at = 0;
    while let Some(i) = template[at..].find("{{").map(|i| at + i) {
        match template[i + 2..].find("}}") {
            Some(j) => {
                let action = &template[i + 2..i + 2 + j];
                if !action.is_ascii() {
                    return Err(parse_error(
                        i,
                        "only ASCII is supported inside {{ }} (a limit of mini-docker's template engine)",
                    ));
                }
                // Char constants and unbalanced strings send gtmpl's lexer
                // past the `}}` and, on some inputs, into an endless loop.
                // Only the escapes a --format needs (`\n \t \\ \"`): gtmpl
                // loops on others (`"\u"`).
                let mut esc = action.chars();
                while let Some(c) = esc.next() {
                    if c == '\\' && !matches!(esc.next(), Some('n' | 't' | '\\' | '"')) {
                        return Err(parse_error(
                            i,
                            "unsupported escape in a string (mini-docker's templates know \\n \\t \\\\ \\\")",
                        ));
                    }
                }
                let quotes = action.replace("\\\\", "").replace("\\\"", "");
                if action.contains('\'')
                    || quotes.matches('"').count() % 2 == 1
                    || action.contains('`')
                {
                    return Err(parse_error(
                        i,
                        "an unterminated string, a raw string or a char constant (not supported by mini-docker's templates)",
                    ));
                }
                at = i + 2 + j + 2;
            }
            // Go's lexer stops at the first character an action cannot
            // hold (`{{.Nope}`), or at the end of the input.
            None => {
                let rest = &template[i + 2..];
                let mut in_string = false;
                let mut prev = ' ';
                for (k, c) in rest.char_indices() {
                    if c == '"' && prev != '\\' {
                        in_string = !in_string;
                    }
                    prev = c;
                    if !(in_string || c.is_alphanumeric() || " \t\r\n=:|\"$'.+-_(),`".contains(c)) {
                        let msg = format!("bad character U+{:04X} '{c}'", c as u32);
                        return Err(parse_error(i + 2 + k, &msg));
                    }
                }
                return Err(parse_error(template.len(), "unclosed action"));
            }
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
        .map_err(|e| (String::new(), go_parse_error(e, template, go)))?;
    let mut written = Vec::new();
    let done = t.execute(&mut written, &gtmpl::Context::from(to_gtmpl(v)));
    let mut out = String::from_utf8_lossy(&written).into_owned();
    for (i, run) in runs.iter().enumerate() {
        out = out.replace(&format!("\u{1}{i}\u{2}"), run);
    }
    done.map_err(|e| {
        let e = match e {
            gtmpl::error::ExecError::NoFiledFor(key, _) => {
                TemplateError::Exec(missing_field(template, v, &key, go))
            }
            gtmpl::error::ExecError::OnlyMapsAndObjectsHaveFields => TemplateError::Exec(
                field_of_scalar(template, v, go)
                    .unwrap_or_else(|| format!("template: {}: {e}", go.name)),
            ),
            e => TemplateError::Exec(format!("template: {}: {e}", go.name)),
        };
        (out.clone(), e)
    })?;
    Ok(out)
}

/// gtmpl's parse error in Go's words: `template: NAME:LINE: MESSAGE`,
/// with Go's `function "f" not defined` and `bad character U+007D '}'`.
fn go_parse_error(e: gtmpl::error::ParseError, template: &str, go: &Go) -> TemplateError {
    let gtmpl::error::ParseError::WithContext(ctx, msg) = e else {
        return TemplateError::Parse(format!("template: {}: {e}", go.name));
    };
    if let Some(f) = msg
        .strip_prefix("function ")
        .and_then(|m| m.strip_suffix(" not defined"))
    {
        // gtmpl's line is one off on the first line: Go's is the line of
        // the first action that names the function.
        let line = word_in_actions(template, f).map_or(ctx.line, |pos| line_of(template, pos));
        return TemplateError::Parse(format!(
            "template: {}:{line}: function {f:?} not defined",
            go.name
        ));
    }
    let msg = if let Some(c) = msg
        .strip_prefix("bad character ")
        .and_then(|c| c.chars().next())
    {
        format!("bad character U+{:04X} '{c}'", c as u32)
    } else {
        msg
    };
    TemplateError::Parse(format!("template: {}:{}: {msg}", go.name, ctx.line))
}

/// Where `word` first stands alone (an identifier, not a field) inside
/// an action of `template`, outside strings.
fn word_in_actions(template: &str, word: &str) -> Option<usize> {
    let b = template.as_bytes();
    let is_word = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let mut at = 0;
    while let Some(open) = template[at..].find("{{").map(|i| at + i + 2) {
        let close = template[open..]
            .find("}}")
            .map_or(template.len(), |j| open + j);
        let mut i = open;
        while i < close {
            if b[i] == b'"' {
                i += 1;
                while i < close && b[i] != b'"' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
                continue;
            }
            if is_word(b[i]) && (i == open || !is_word(b[i - 1]) && !b".$".contains(&b[i - 1])) {
                let start = i;
                while i < close && is_word(b[i]) {
                    i += 1;
                }
                if &template[start..i] == word {
                    return Some(start);
                }
                continue;
            }
            i += 1;
        }
        at = (close + 2).min(template.len());
    }
    None
}

/// A field chain in a template (`.State.Nope`, `$c.Name`): its text, where
/// Go places it, and its parts (`$c` or a field name each).
struct Chain {
    text: String,
    pos: usize,
    parts: Vec<String>,
}

/// The field chains of `template`'s actions, in order. Go places a chain
/// at its second part when it has more than one (`{{.State.Nope}}` is at
/// byte 8, `.Nope`), at its start otherwise.
fn chains(template: &str) -> Vec<Chain> {
    let mut out = Vec::new();
    let mut at = 0;
    while let Some(open) = template[at..].find("{{").map(|i| at + i + 2) {
        let close = template[open..]
            .find("}}")
            .map_or(template.len(), |j| open + j);
        let b = template.as_bytes();
        let word = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
        let mut i = open;
        while i < close {
            match b[i] {
                b'"' => {
                    i += 1;
                    while i < close && b[i] != b'"' {
                        i += if b[i] == b'\\' { 2 } else { 1 };
                    }
                    i += 1;
                }
                b'.' | b'$' if i == open || !word(b[i - 1]) && b[i - 1] != b')' => {
                    let start = i;
                    let mut parts = Vec::new();
                    let mut starts = Vec::new();
                    if b[i] == b'$' {
                        starts.push(i);
                        i += 1;
                        while i < close && word(b[i]) {
                            i += 1;
                        }
                        parts.push(template[start..i].to_string());
                    }
                    while i + 1 < close && b[i] == b'.' && word(b[i + 1]) {
                        starts.push(i);
                        let from = i + 1;
                        i += 1;
                        while i < close && word(b[i]) {
                            i += 1;
                        }
                        parts.push(template[from..i].to_string());
                    }
                    if parts.is_empty() {
                        i += 1;
                        continue;
                    }
                    out.push(Chain {
                        text: template[start..i].to_string(),
                        pos: starts.get(1).copied().unwrap_or(start),
                        parts,
                    });
                }
                _ => i += 1,
            }
        }
        at = (close + 2).min(template.len());
    }
    out
}

/// Go's error for a field `key` that is not there: where, in which chain,
/// and why (a map without the key, or a struct without the field).
fn missing_field(template: &str, v: &Value, key: &str, go: &Go) -> String {
    // The first chain that names `key` and, when it starts at the top,
    // really fails there (`.Config.Image` before a failing `.Image`).
    let fails_at = |c: &Chain| -> Option<usize> {
        if c.parts[0].starts_with('$') {
            return c.parts.iter().position(|p| p == key);
        }
        let mut cur = v;
        for (i, p) in c.parts.iter().enumerate() {
            match cur.get(p) {
                Some(next) => cur = next,
                None => return (p == key).then_some(i),
            }
        }
        None
    };
    let all = chains(template);
    let found = all
        .iter()
        .find_map(|c| fails_at(c).map(|i| (c, i)))
        .or_else(|| {
            all.iter()
                .find_map(|c| c.parts.iter().position(|p| p == key).map(|i| (c, i)))
        });
    let Some((chain, index)) = found else {
        return format!("template: {}: map has no entry for key {key:?}", go.name);
    };
    // The path of the object the key was looked up in, from the top
    // (`$` is the top too; another variable's is not known).
    let parent = match chain.parts[0].as_str() {
        "$" => Some(chain.parts[1..index.max(1)].join(".")),
        p if p.starts_with('$') => None,
        _ => Some(chain.parts[..index].join(".")),
    };
    let typ = parent.and_then(|p| go.types.iter().find(|(path, _)| *path == p));
    let why = match typ {
        Some((_, t)) => format!("can't evaluate field {key} in type {t}"),
        None => format!("map has no entry for key {key:?}"),
    };
    at_chain(template, chain, &why, go)
}

/// Go's `template: NAME:LINE:COL: executing "NAME" at <CHAIN>: WHY`.
fn at_chain(template: &str, chain: &Chain, why: &str, go: &Go) -> String {
    let line = line_of(template, chain.pos);
    let col = match template[..chain.pos].rfind('\n') {
        Some(nl) => chain.pos - nl - 1,
        None => chain.pos,
    };
    format!(
        "template: {name}:{line}:{col}: executing {name:?} at <{}>: {why}",
        chain.text,
        name = go.name
    )
}

/// Go's error for a field looked up in what is not a map or a struct
/// (`.Config.Cmd.x`): the first chain from the top that walks into a
/// list or a scalar.
fn field_of_scalar(template: &str, v: &Value, go: &Go) -> Option<String> {
    for chain in chains(template) {
        if chain.parts[0].starts_with('$') {
            continue;
        }
        let mut cur = v;
        for p in &chain.parts {
            match cur {
                Value::Object(m) => match m.get(p) {
                    Some(next) => cur = next,
                    None => break,
                },
                other => {
                    // A map's values are `interface {}` to Go; a struct's
                    // fields have their own types.
                    let typ = match (go.types.is_empty(), other) {
                        (true, _) | (false, Value::Null) => "interface {}",
                        (false, Value::String(_)) => "string",
                        (false, Value::Bool(_)) => "bool",
                        (false, Value::Number(_)) => "int",
                        (false, _) => "[]string",
                    };
                    let why = format!("can't evaluate field {p} in type {typ}");
                    return Some(at_chain(template, &chain, &why, go));
                }
            }
        }
    }
    None
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
            "template: :1:2: executing \"\" at <.Nope>: map has no entry for key \"Nope\""
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
