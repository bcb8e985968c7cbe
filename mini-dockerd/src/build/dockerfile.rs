//! The Dockerfile parser.
//!
//! A Dockerfile is read in four passes, as Docker's parser does:
//!
//! 1. **Parser directives**: `# escape=`` ` `` and `# syntax=…` lines, only
//!    at the very top (the first comment, empty line or instruction ends
//!    them). `escape` changes the escape character from `\` to `` ` ``
//!    (handy on Windows paths).
//! 2. **Logical lines**: a line that ends with the escape character
//!    continues on the next one; comment lines (`#` first) and empty lines
//!    are dropped, even inside a continuation. Each logical line remembers
//!    the physical line where it began, for error messages.
//! 3. **Instruction and flags**: the first word is the instruction
//!    (case-insensitive), then `--name=value` flags (`COPY --from=build`,
//!    `ADD --chown=1:1`, `FROM --platform=…`, `HEALTHCHECK --interval=5s`).
//! 4. **Arguments**: the *JSON form* (`CMD ["a", "b"]`, an exec array) or
//!    the *shell form* (`CMD a b`, a string run by the SHELL, `/bin/sh -c`
//!    by default); `ENV`/`LABEL` take `key=value` pairs (or the old
//!    `ENV key value with spaces`).
//!
//! Variables are *not* substituted here: their values depend on the ENV
//! and ARG instructions run before, so the builder expands each
//! instruction right before running it ([`Instruction::expand`]).
//!
//! Every error names the file, the line and the instruction:
//! `Dockerfile:3: COPY: COPY requires at least two arguments`.

use super::shellword::{self, Vars};
use serde::Serialize;
use std::fmt;

/// A parse (or expansion) error, with where it happened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}: {instruction}: {message}")]
pub struct ParseError {
    /// The Dockerfile's name as given (`Dockerfile`, `sub/Dockerfile.dev`).
    pub file: String,
    /// 1-based line where the instruction begins.
    pub line: usize,
    /// The instruction (upper case), or `-` before one is known.
    pub instruction: String,
    /// What is wrong.
    pub message: String,
}

/// The exec (JSON) or shell form of RUN, CMD, ENTRYPOINT and HEALTHCHECK.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Form {
    /// `["a", "b"]`: run as is.
    Exec(Vec<String>),
    /// `a b`: run through the SHELL.
    Shell(String),
}

impl Form {
    /// argv, with `shell` (`["/bin/sh", "-c"]`) in front of the shell form.
    pub fn argv(&self, shell: &[String]) -> Vec<String> {
        match self {
            Form::Exec(v) => v.clone(),
            Form::Shell(s) => shell.iter().cloned().chain([s.clone()]).collect(),
        }
    }
}

/// `HEALTHCHECK`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Health {
    /// `NONE` (disable the base image's check) or the test command.
    pub test: Option<Form>,
    /// `--interval`, `--timeout`, `--start-period` (Go durations, as written).
    pub interval: Option<String>,
    /// `--timeout`.
    pub timeout: Option<String>,
    /// `--start-period`.
    pub start_period: Option<String>,
    /// `--retries`.
    pub retries: Option<u32>,
}

/// COPY and ADD.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CopySpec {
    /// Sources (relative to the context, or to the stage with `--from`).
    pub srcs: Vec<String>,
    /// Destination (relative ones are under WORKDIR).
    pub dest: String,
    /// `--from=<stage name|index|image>`.
    pub from: Option<String>,
    /// `--chown=user[:group]`.
    pub chown: Option<String>,
}

/// One instruction, its arguments parsed (variables not yet substituted).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Cmd {
    /// `FROM image [AS name]`.
    From {
        /// The base image, or `scratch`.
        image: String,
        /// The stage name.
        name: Option<String>,
        /// `--platform`.
        platform: Option<String>,
    },
    /// `RUN`.
    Run(Form),
    /// `CMD`.
    Cmd(Form),
    /// `ENTRYPOINT`.
    Entrypoint(Form),
    /// `WORKDIR path`.
    Workdir(String),
    /// `COPY`.
    Copy(CopySpec),
    /// `ADD` (local tar archives are extracted).
    Add(CopySpec),
    /// `ENV k=v …`.
    Env(Vec<(String, String)>),
    /// `ARG name[=default]`.
    Arg(Vec<(String, Option<String>)>),
    /// `EXPOSE 80/tcp …`.
    Expose(Vec<String>),
    /// `LABEL k=v …`.
    Label(Vec<(String, String)>),
    /// `USER user[:group]`.
    User(String),
    /// `VOLUME /a /b` or `VOLUME ["/a"]`.
    Volume(Vec<String>),
    /// `STOPSIGNAL SIGTERM`.
    StopSignal(String),
    /// `HEALTHCHECK`.
    Healthcheck(Health),
    /// `SHELL ["/bin/sh", "-c"]`.
    Shell(Vec<String>),
    /// `MAINTAINER name` (deprecated: sets the image's author).
    Maintainer(String),
}

/// An instruction and where it came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Instruction {
    /// 1-based line where it begins.
    pub line: usize,
    /// Upper-case name (`RUN`).
    pub name: String,
    /// The arguments as written (continuations joined), for progress lines.
    pub args: String,
    /// The instruction word as written (`from`, `Run`), for progress lines.
    pub keyword: String,
    /// Parsed.
    pub cmd: Cmd,
}

impl fmt::Display for Instruction {
    /// `RUN echo hi`, as written, as `Step 2/5 : …` shows it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.keyword, self.args)
    }
}

/// A parsed Dockerfile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Dockerfile {
    /// Its name, for errors.
    pub file: String,
    /// The escape character (`\` or `` ` ``).
    pub escape: char,
    /// In order.
    pub instructions: Vec<Instruction>,
}

/// The flags each instruction accepts.
fn allowed_flags(name: &str) -> &'static [&'static str] {
    match name {
        "FROM" => &["platform"],
        "COPY" => &["from", "chown"],
        "ADD" => &["chown"],
        "HEALTHCHECK" => &["interval", "timeout", "start-period", "retries"],
        _ => &[],
    }
}

struct Ctx<'a> {
    file: &'a str,
    line: usize,
    name: &'a str,
}

impl Ctx<'_> {
    fn err(&self, m: impl Into<String>) -> ParseError {
        ParseError {
            file: self.file.to_string(),
            line: self.line,
            instruction: self.name.to_string(),
            message: m.into(),
        }
    }
}

/// Parses the text of a Dockerfile named `file`.
pub fn parse(file: &str, text: &str) -> Result<Dockerfile, ParseError> {
    let lines: Vec<&str> = text.lines().collect();
    let top = |line: usize, m: String| ParseError {
        file: file.to_string(),
        line,
        instruction: "-".into(),
        message: m,
    };
    // 1. Directives.
    let mut escape = '\\';
    let mut first = 0;
    let mut seen = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        let Some((k, v)) = directive(l) else { break };
        if seen.contains(&k) {
            return Err(top(
                i + 1,
                format!("only one {k} parser directive can be used"),
            ));
        }
        if k == "escape" {
            escape = match v.as_str() {
                "\\" => '\\',
                "`" => '`',
                other => {
                    return Err(top(
                        i + 1,
                        format!("invalid escape token '{other}' does not match ` or \\"),
                    ))
                }
            };
        }
        seen.push(k);
        first = i + 1;
    }
    // 2. Logical lines.
    let mut logical: Vec<(usize, String)> = Vec::new();
    let mut cur: Option<(usize, String)> = None;
    for (i, raw) in lines.iter().enumerate().skip(first) {
        let trimmed = raw.trim_start();
        if trimmed.starts_with('#') || (trimmed.is_empty() && cur.is_some()) {
            continue;
        }
        if trimmed.is_empty() {
            continue;
        }
        let (text, more) = match raw.trim_end().strip_suffix(escape) {
            Some(t) => (t, true),
            None => (*raw, false),
        };
        match cur.as_mut() {
            Some((_, s)) => s.push_str(text),
            None => cur = Some((i + 1, text.trim_start().to_string())),
        }
        if !more {
            logical.extend(cur.take());
        }
    }
    logical.extend(cur.take());
    // 3 and 4.
    let mut instructions = Vec::new();
    for (line, text) in logical {
        let text = text.trim();
        if text.is_empty() {
            continue;
        }
        let (word, rest) = text.split_once(char::is_whitespace).unwrap_or((text, ""));
        let name = word.to_ascii_uppercase();
        let ctx = Ctx {
            file,
            line,
            name: &name,
        };
        let (flags, rest) = take_flags(&ctx, rest.trim_start())?;
        let cmd = parse_instruction(&ctx, &flags, rest, escape)?;
        instructions.push(Instruction {
            line,
            name: name.clone(),
            args: text[word.len()..].trim().to_string(),
            keyword: word.to_string(),
            cmd,
        });
    }
    if instructions.is_empty() {
        return Err(top(
            lines.len().max(1),
            "the Dockerfile has no instructions".into(),
        ));
    }
    match instructions.iter().find(|i| !matches!(i.cmd, Cmd::Arg(_))) {
        Some(i) if !matches!(i.cmd, Cmd::From { .. }) => {
            return Err(ParseError {
                file: file.to_string(),
                line: i.line,
                instruction: i.name.clone(),
                message: "no build stage in current context: the first instruction must be FROM (ARG may come before it)".into(),
            })
        }
        None => {
            return Err(top(
                lines.len().max(1),
                "no build stage: the Dockerfile has no FROM".into(),
            ))
        }
        _ => {}
    }
    Ok(Dockerfile {
        file: file.to_string(),
        escape,
        instructions,
    })
}

/// `# key=value` at the top of the file.
fn directive(line: &str) -> Option<(String, String)> {
    let rest = line.trim().strip_prefix('#')?;
    let (k, v) = rest.split_once('=')?;
    let k = k.trim().to_ascii_lowercase();
    if !matches!(k.as_str(), "escape" | "syntax") {
        return None;
    }
    Some((k, v.trim().to_string()))
}

/// `--name=value` flags, in order.
type Flags = Vec<(String, String)>;

/// Leading `--name=value` flags.
fn take_flags<'a>(ctx: &Ctx<'_>, mut rest: &'a str) -> Result<(Flags, &'a str), ParseError> {
    let mut flags = Vec::new();
    while let Some(f) = rest.strip_prefix("--") {
        let (word, after) = f.split_once(char::is_whitespace).unwrap_or((f, ""));
        let (k, v) = match word.split_once('=') {
            Some((k, v)) => (k, v),
            None => {
                return Err(ctx.err(format!(
                    "flag --{word} needs a value: write --{word}=<value>"
                )))
            }
        };
        if !allowed_flags(ctx.name).contains(&k) {
            return Err(ctx.err(format!("Unknown flag: {k}")));
        }
        if flags.iter().any(|(x, _): &(String, String)| x == k) {
            return Err(ctx.err(format!("Duplicate flag specified: {k}")));
        }
        flags.push((k.to_string(), v.to_string()));
        rest = after.trim_start();
    }
    Ok((flags, rest))
}

fn flag(flags: &[(String, String)], k: &str) -> Option<String> {
    flags.iter().find(|(x, _)| x == k).map(|(_, v)| v.clone())
}

/// `["a","b"]` when it is a JSON array of strings.
fn json_array(args: &str) -> Option<Vec<String>> {
    let t = args.trim();
    if !t.starts_with('[') {
        return None;
    }
    serde_json::from_str::<Vec<String>>(t).ok()
}

fn form(ctx: &Ctx<'_>, args: &str) -> Result<Form, ParseError> {
    if let Some(v) = json_array(args) {
        return Ok(Form::Exec(v));
    }
    if args.trim().is_empty() {
        return Err(ctx.err(format!("{} requires at least one argument", ctx.name)));
    }
    Ok(Form::Shell(args.trim().to_string()))
}

/// `k=v k2="v 2"`, or the old form `k v with spaces` when `legacy`.
fn pairs(
    ctx: &Ctx<'_>,
    args: &str,
    escape: char,
    legacy: bool,
) -> Result<Vec<(String, String)>, ParseError> {
    let words = shellword::split_raw(args, escape).map_err(|m| ctx.err(m))?;
    if words.is_empty() {
        return Err(ctx.err(format!("{} requires at least one argument", ctx.name)));
    }
    if !words[0].contains('=') {
        if !legacy {
            return Err(ctx.err(format!("{} requires key=value pairs", ctx.name)));
        }
        let (k, v) = args.trim().split_once(char::is_whitespace).ok_or_else(|| {
            ctx.err(format!(
                "{} must have two arguments: {} {} <value>",
                ctx.name, ctx.name, words[0]
            ))
        })?;
        return Ok(vec![(k.to_string(), v.trim().to_string())]);
    }
    let mut out = Vec::new();
    for w in words {
        match w.split_once('=') {
            Some(("", _)) => return Err(ctx.err(format!("{} names can not be blank", ctx.name))),
            Some((k, v)) => out.push((k.to_string(), v.to_string())),
            None => {
                return Err(ctx.err(format!(
                    "Syntax error - can't find = in \"{w}\". Must be of the form: name=value"
                )))
            }
        }
    }
    Ok(out)
}

fn parse_instruction(
    ctx: &Ctx<'_>,
    flags: &[(String, String)],
    args: &str,
    escape: char,
) -> Result<Cmd, ParseError> {
    let words: Vec<&str> = args.split_whitespace().collect();
    let need_one = |what: &str| -> Result<String, ParseError> {
        let a = args.trim();
        if a.is_empty() {
            Err(ctx.err(format!("{} requires exactly one argument", what)))
        } else {
            Ok(a.to_string())
        }
    };
    let list = || -> Vec<String> {
        json_array(args).unwrap_or_else(|| words.iter().map(|s| s.to_string()).collect())
    };
    Ok(match ctx.name {
        "FROM" => {
            let name = match words.as_slice() {
                [_] => None,
                [_, as_, n] if as_.eq_ignore_ascii_case("as") => Some(n.to_string()),
                _ => {
                    return Err(ctx.err(
                        "FROM requires either one or three arguments: FROM <image> [AS <name>]",
                    ))
                }
            };
            if let Some(n) = &name {
                let ok = n.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                    && n.chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
                if !ok {
                    return Err(ctx.err(format!(
                        "invalid name for build stage: \"{n}\", name can't start with a number or contain symbols"
                    )));
                }
            }
            Cmd::From {
                image: words[0].to_string(),
                name: name.map(|n| n.to_ascii_lowercase()),
                platform: flag(flags, "platform"),
            }
        }
        "RUN" => Cmd::Run(form(ctx, args)?),
        "CMD" => Cmd::Cmd(form(ctx, args)?),
        "ENTRYPOINT" => Cmd::Entrypoint(form(ctx, args)?),
        "WORKDIR" => Cmd::Workdir(need_one("WORKDIR")?),
        "COPY" | "ADD" => {
            let l = list();
            if l.len() < 2 {
                return Err(ctx.err(format!(
                    "{} requires at least two arguments, but only {} provided",
                    ctx.name,
                    l.len()
                )));
            }
            let spec = CopySpec {
                srcs: l[..l.len() - 1].to_vec(),
                dest: l[l.len() - 1].clone(),
                from: flag(flags, "from"),
                chown: flag(flags, "chown"),
            };
            if ctx.name == "COPY" {
                Cmd::Copy(spec)
            } else {
                Cmd::Add(spec)
            }
        }
        "ENV" => Cmd::Env(pairs(ctx, args, escape, true)?),
        "LABEL" => Cmd::Label(pairs(ctx, args, escape, true)?),
        "ARG" => {
            if words.len() != 1 {
                return Err(ctx.err("ARG requires exactly one argument"));
            }
            let (k, v) = match words[0].split_once('=') {
                Some((k, v)) => (k.to_string(), Some(v.to_string())),
                None => (words[0].to_string(), None),
            };
            if k.is_empty() {
                return Err(ctx.err("ARG names can not be blank"));
            }
            Cmd::Arg(vec![(k, v)])
        }
        "EXPOSE" => {
            if words.is_empty() {
                return Err(ctx.err("EXPOSE requires at least one argument"));
            }
            Cmd::Expose(words.iter().map(|s| s.to_string()).collect())
        }
        "USER" => Cmd::User(need_one("USER")?),
        "VOLUME" => {
            let l = list();
            if l.is_empty() || l.iter().any(|v| v.trim().is_empty()) {
                return Err(ctx.err("VOLUME specified can not be an empty string"));
            }
            Cmd::Volume(l)
        }
        "STOPSIGNAL" => {
            if words.len() != 1 {
                return Err(ctx.err("STOPSIGNAL requires exactly one argument"));
            }
            Cmd::StopSignal(words[0].to_string())
        }
        "SHELL" => {
            match json_array(args) {
                Some(v) if !v.is_empty() => Cmd::Shell(v),
                _ => return Err(ctx.err(
                    "SHELL requires the arguments to be in JSON form: SHELL [\"/bin/sh\", \"-c\"]",
                )),
            }
        }
        "MAINTAINER" => Cmd::Maintainer(need_one("MAINTAINER")?),
        "HEALTHCHECK" => {
            let (kind, rest) = args
                .trim()
                .split_once(char::is_whitespace)
                .unwrap_or((args.trim(), ""));
            let test = match kind.to_ascii_uppercase().as_str() {
                "NONE" => {
                    if !rest.trim().is_empty() || !flags.is_empty() {
                        return Err(ctx.err("HEALTHCHECK NONE takes no arguments"));
                    }
                    None
                }
                "CMD" => Some(form(ctx, rest)?),
                _ => {
                    return Err(ctx.err(format!("Unknown type \"{kind}\" in HEALTHCHECK (try CMD)")))
                }
            };
            let retries = match flag(flags, "retries") {
                None => None,
                Some(r) => Some(r.parse::<u32>().map_err(|_| {
                    ctx.err(format!("--retries must be a positive integer, not {r:?}"))
                })?),
            };
            for k in ["interval", "timeout", "start-period"] {
                if let Some(d) = flag(flags, k) {
                    parse_duration(&d)
                        .ok_or_else(|| ctx.err(format!("--{k}: invalid duration {d:?}")))?;
                }
            }
            Cmd::Healthcheck(Health {
                test,
                interval: flag(flags, "interval"),
                timeout: flag(flags, "timeout"),
                start_period: flag(flags, "start-period"),
                retries,
            })
        }
        "ONBUILD" => return Err(ctx.err("ONBUILD is not supported by mini-docker's builder")),
        other => return Err(ctx.err(format!("unknown instruction: {other}"))),
    })
}

/// A Go duration (`30s`, `1m30s`, `500ms`) in nanoseconds.
pub use mini_docker_api::units::go_duration_nanos as parse_duration;

impl Instruction {
    /// The instruction with its variables substituted from `vars` (the ENV
    /// and ARG values in effect), for the instructions Docker expands.
    pub fn expand(&self, df: &Dockerfile, vars: &dyn Vars) -> Result<Cmd, ParseError> {
        let ctx = Ctx {
            file: &df.file,
            line: self.line,
            name: &self.name,
        };
        let esc = df.escape;
        let one = |s: &str| shellword::expand(s, esc, vars).map_err(|m| ctx.err(m));
        let many = |v: &[String]| -> Result<Vec<String>, ParseError> {
            v.iter().map(|s| one(s)).collect()
        };
        let split = |v: &[String]| -> Result<Vec<String>, ParseError> {
            let mut out = Vec::new();
            for s in v {
                out.extend(shellword::words(s, esc, vars).map_err(|m| ctx.err(m))?);
            }
            Ok(out)
        };
        let kv = |v: &[(String, String)]| -> Result<Vec<(String, String)>, ParseError> {
            v.iter().map(|(k, x)| Ok((one(k)?, one(x)?))).collect()
        };
        Ok(match &self.cmd {
            Cmd::From {
                image,
                name,
                platform,
            } => Cmd::From {
                image: one(image)?,
                name: name.clone(),
                platform: platform.as_deref().map(one).transpose()?,
            },
            Cmd::Workdir(w) => Cmd::Workdir(one(w)?),
            Cmd::Copy(c) | Cmd::Add(c) => {
                let c = CopySpec {
                    srcs: many(&c.srcs)?,
                    dest: one(&c.dest)?,
                    from: c.from.as_deref().map(one).transpose()?,
                    chown: c.chown.as_deref().map(one).transpose()?,
                };
                if matches!(self.cmd, Cmd::Copy(_)) {
                    Cmd::Copy(c)
                } else {
                    Cmd::Add(c)
                }
            }
            Cmd::Env(p) => Cmd::Env(kv(p)?),
            Cmd::Label(p) => Cmd::Label(kv(p)?),
            Cmd::Arg(a) => Cmd::Arg(
                a.iter()
                    .map(|(k, v)| Ok((k.clone(), v.as_deref().map(one).transpose()?)))
                    .collect::<Result<_, ParseError>>()?,
            ),
            Cmd::Expose(p) => Cmd::Expose(split(p)?),
            Cmd::Volume(v) => Cmd::Volume(split(v)?),
            Cmd::User(u) => Cmd::User(one(u)?),
            Cmd::StopSignal(s) => Cmd::StopSignal(one(s)?),
            other => other.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The parse, one instruction per line, as a person reads it.
    fn show(text: &str) -> String {
        match parse("Dockerfile", text) {
            Ok(df) => {
                let mut s = format!("escape {:?}\n", df.escape);
                for i in &df.instructions {
                    s.push_str(&format!("{:>3} {:<11} {:?}\n", i.line, i.name, i.cmd));
                }
                s
            }
            Err(e) => format!("error: {e}\n"),
        }
    }

    #[test]
    fn every_instruction() {
        let text = r#"# syntax=docker/dockerfile:1
# a comment after the directive
ARG BASE=busybox
FROM $BASE AS build
RUN echo one \
    two \
# a comment inside a continuation

    three
RUN ["/bin/sh", "-c", "echo exec"]
CMD ["sh"]
ENTRYPOINT /bin/echo hi
WORKDIR /app
COPY a.txt b.txt /app/
COPY ["with space.txt", "/dst dir/"]
ADD --chown=1:2 archive.tar /opt/
COPY --from=build /app/a.txt /copied
ENV A=1 B="two words" C=\$lit
ENV OLD legacy value here
ARG VERSION
EXPOSE 80 443/udp
LABEL org.example.name="mini docker" version=1
USER nobody:nogroup
VOLUME /data /logs
VOLUME ["/json"]
STOPSIGNAL SIGQUIT
HEALTHCHECK --interval=5s --retries=3 CMD wget -q localhost || exit 1
HEALTHCHECK NONE
SHELL ["/bin/sh", "-xc"]
MAINTAINER someone
from scratch
"#;
        insta::assert_snapshot!(show(text));
    }

    #[test]
    fn escape_directive_changes_the_continuation() {
        let text = "# escape=`\nFROM busybox\nRUN echo a `\n  b\nCOPY c:\\dir\\ /x\n";
        insta::assert_snapshot!(show(text));
    }

    #[test]
    fn malformed_inputs_name_file_line_and_instruction() {
        let cases = [
            "FROM busybox\nRUN\n",
            "FROM busybox\nFOO bar\n",
            "RUN echo\n",
            "# just a comment\n",
            "ARG A\n",
            "FROM a b\n",
            "FROM busybox AS 1bad\n",
            "FROM busybox\nCOPY onlyone\n",
            "FROM busybox\nCOPY --chmod=755 a b\n",
            "FROM busybox\nADD --from=x a b\n",
            "FROM busybox\nCOPY --from a b\n",
            "FROM busybox\nENV\n",
            "FROM busybox\nENV ONLYKEY\n",
            "FROM busybox\nENV =x\n",
            "FROM busybox\nENV A=\"unterminated\n",
            "FROM busybox\nLABEL a=1 b\n",
            "FROM busybox\nARG a b\n",
            "FROM busybox\nEXPOSE\n",
            "FROM busybox\nSHELL /bin/sh -c\n",
            "FROM busybox\nSTOPSIGNAL\n",
            "FROM busybox\nHEALTHCHECK --retries=x CMD true\n",
            "FROM busybox\nHEALTHCHECK --interval=5 CMD true\n",
            "FROM busybox\nHEALTHCHECK NONE extra\n",
            "FROM busybox\nHEALTHCHECK PING x\n",
            "FROM busybox\nWORKDIR\n",
            "FROM busybox\nVOLUME [\"\"]\n",
            "# escape=x\nFROM busybox\n",
            "# escape=`\n# escape=\\\nFROM busybox\n",
            "FROM busybox\nONBUILD RUN true\n",
            "FROM busybox\n\n\nRUN a \\\n  b \\\n  c\nBAD\n",
        ];
        let mut out = String::new();
        for c in cases {
            out.push_str(&format!("{c:?}\n  {}", show(c)));
        }
        insta::assert_snapshot!(out);
    }

    #[test]
    fn expansion_uses_the_variables_in_effect() {
        let df = parse(
            "Dockerfile",
            "FROM busybox\nENV DIR=/srv PORTS=\"80 443\"\nWORKDIR ${DIR}/app\nEXPOSE $PORTS\nCOPY ${SRC:-src}/ $DIR/\nRUN echo $DIR\nLABEL \"k $DIR\"=\"v ${DIR}\"\nUSER ${U:?set U}\n",
        )
        .unwrap();
        let vars: Vec<(String, String)> = vec![
            ("DIR".into(), "/srv".into()),
            ("PORTS".into(), "80 443".into()),
        ];
        let mut out = String::new();
        for i in &df.instructions {
            let r = match i.expand(&df, &vars) {
                Ok(c) => format!("{c:?}"),
                Err(e) => format!("error: {e}"),
            };
            out.push_str(&format!("{i}\n  => {r}\n"));
        }
        insta::assert_snapshot!(out);
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("5s"), Some(5_000_000_000));
        assert_eq!(parse_duration("1m30s"), Some(90_000_000_000));
        assert_eq!(parse_duration("500ms"), Some(500_000_000));
        assert_eq!(parse_duration("5"), None);
        assert_eq!(parse_duration(""), None);
    }
}
