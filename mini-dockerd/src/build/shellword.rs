//! Variable substitution in Dockerfile words, as Docker's builder does it.
//!
//! Instructions that take file names, ports, users, labels and so on (ADD,
//! COPY, ENV, EXPOSE, FROM, LABEL, STOPSIGNAL, USER, VOLUME, WORKDIR) have
//! their words expanded by the *builder*, with the variables that ENV and ARG
//! defined so far. RUN, CMD and ENTRYPOINT are not expanded here: in shell
//! form the shell in the container does it, in JSON form nobody does.
//!
//! | syntax | value |
//! | --- | --- |
//! | `$VAR`, `${VAR}` | the value, or empty when unset |
//! | `${VAR:-word}` | `word` when VAR is unset or empty |
//! | `${VAR-word}` | `word` when VAR is unset |
//! | `${VAR:+word}` | `word` when VAR is set and not empty, else empty |
//! | `${VAR+word}` | `word` when VAR is set, else empty |
//! | `${VAR:?msg}` | an error `VAR: msg` when VAR is unset or empty |
//! | `'text'` | literal, quotes removed |
//! | `"text"` | expanded, quotes removed |
//! | `\$`, `\"` | a literal `$`, `"` (the escape character may be `` ` ``) |
//!
//! [`words`] also splits on whitespace that is not quoted, *after*
//! substitution, so `EXPOSE $PORTS` with `PORTS="80 443"` exposes two ports.

/// Looks a variable up.
pub trait Vars {
    /// The value of `name`, `None` when unset.
    fn get(&self, name: &str) -> Option<String>;
}

impl Vars for [(String, String)] {
    fn get(&self, name: &str) -> Option<String> {
        // The last definition wins.
        self.iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    }
}

impl Vars for Vec<(String, String)> {
    fn get(&self, name: &str) -> Option<String> {
        Vars::get(self.as_slice(), name)
    }
}

/// One output character, and whether quotes protect it from splitting.
type Out = Vec<(char, bool)>;

struct Lexer<'a> {
    chars: Vec<char>,
    pos: usize,
    escape: char,
    vars: &'a dyn Vars,
}

impl Lexer<'_> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek();
        self.pos += 1;
        c
    }

    /// Reads until one of `stop` (not consumed) or the end.
    fn run(&mut self, stop: &[char], out: &mut Out) -> Result<(), String> {
        while let Some(c) = self.peek() {
            if stop.contains(&c) {
                return Ok(());
            }
            self.pos += 1;
            if c == '\'' {
                self.single_quote(out)?;
            } else if c == '"' {
                self.double_quote(out)?;
            } else if c == self.escape {
                match self.next() {
                    Some(n) => out.push((n, true)),
                    None => out.push((c, false)),
                }
            } else if c == '$' {
                let v = self.dollar()?;
                out.extend(v.chars().map(|c| (c, false)));
            } else {
                out.push((c, false));
            }
        }
        Ok(())
    }

    fn single_quote(&mut self, out: &mut Out) -> Result<(), String> {
        loop {
            match self.next() {
                None => {
                    return Err(
                        "unexpected end of statement while looking for matching single-quote"
                            .into(),
                    )
                }
                Some('\'') => return Ok(()),
                Some(c) => out.push((c, true)),
            }
        }
    }

    fn double_quote(&mut self, out: &mut Out) -> Result<(), String> {
        loop {
            match self.next() {
                None => {
                    return Err(
                        "unexpected end of statement while looking for matching double-quote"
                            .into(),
                    )
                }
                Some('"') => return Ok(()),
                Some('$') => {
                    let v = self.dollar()?;
                    out.extend(v.chars().map(|c| (c, true)));
                }
                Some(c) if c == self.escape => match self.peek() {
                    Some(n) if n == '"' || n == '$' || n == self.escape => {
                        self.pos += 1;
                        out.push((n, true));
                    }
                    _ => out.push((c, true)),
                },
                Some(c) => out.push((c, true)),
            }
        }
    }

    fn name(&mut self) -> String {
        let mut s = String::new();
        while let Some(c) = self.peek() {
            if c.is_ascii_alphanumeric() || c == '_' {
                s.push(c);
                self.pos += 1;
            } else {
                break;
            }
        }
        s
    }

    /// After a `$`: the value it stands for.
    fn dollar(&mut self) -> Result<String, String> {
        match self.peek() {
            Some('{') => {
                self.pos += 1;
                self.braced()
            }
            Some(c) if c.is_ascii_alphanumeric() || c == '_' => {
                let n = self.name();
                Ok(self.vars.get(&n).unwrap_or_default())
            }
            _ => Ok("$".into()),
        }
    }

    /// After `${`.
    fn braced(&mut self) -> Result<String, String> {
        let name = self.name();
        if name.is_empty() {
            return Err(format!(
                "bad substitution: a variable name must follow `${{` (at {:?})",
                self.peek().map(String::from).unwrap_or_default()
            ));
        }
        let value = self.vars.get(&name);
        let c = self.next();
        match c {
            Some('}') => return Ok(value.unwrap_or_default()),
            None => return Err(format!("missing '}}' in ${{{name}")),
            _ => {}
        }
        let c = c.expect("checked above");
        let (colon, op) = if c == ':' {
            (true, self.next())
        } else {
            (false, Some(c))
        };
        let op = match op {
            Some(op @ ('-' | '+' | '?')) => op,
            Some(other) => {
                return Err(format!(
                    "unsupported modifier ({}{other}) in substitution ${{{name}…}}",
                    if colon { ":" } else { "" }
                ))
            }
            None => return Err(format!("missing '}}' in ${{{name}")),
        };
        // The word runs to the matching `}` (it may hold `${…}` itself).
        let mut word = Out::new();
        self.run(&['}'], &mut word)?;
        if self.next() != Some('}') {
            return Err(format!("missing '}}' in ${{{name}"));
        }
        let word: String = word.into_iter().map(|(c, _)| c).collect();
        let set = value.is_some();
        let nonempty = value.as_deref().is_some_and(|v| !v.is_empty());
        let present = if colon { nonempty } else { set };
        Ok(match op {
            '-' if present => value.unwrap_or_default(),
            '-' => word,
            '+' if present => word,
            '+' => String::new(),
            _ if present => value.unwrap_or_default(),
            _ => {
                let msg = if word.is_empty() {
                    "is not allowed to be unset".to_string()
                } else {
                    word
                };
                return Err(format!("{name}: {msg}"));
            }
        })
    }
}

fn lex(word: &str, escape: char, vars: &dyn Vars) -> Result<Out, String> {
    let mut l = Lexer {
        chars: word.chars().collect(),
        pos: 0,
        escape,
        vars,
    };
    let mut out = Out::new();
    l.run(&[], &mut out)?;
    Ok(out)
}

/// Expands one word: variables substituted, quotes and escapes removed.
pub fn expand(word: &str, escape: char, vars: &dyn Vars) -> Result<String, String> {
    Ok(lex(word, escape, vars)?
        .into_iter()
        .map(|(c, _)| c)
        .collect())
}

/// Expands and splits on unquoted whitespace (after substitution).
pub fn words(text: &str, escape: char, vars: &dyn Vars) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut started = false;
    for (c, quoted) in lex(text, escape, vars)? {
        if c.is_whitespace() && !quoted {
            if started {
                out.push(std::mem::take(&mut cur));
                started = false;
            }
        } else {
            cur.push(c);
            started = true;
        }
    }
    if started {
        out.push(cur);
    }
    // `""` is a word too.
    if out.is_empty() && text.contains(['"', '\'']) && !text.trim().is_empty() {
        out.push(String::new());
    }
    Ok(out)
}

/// Splits on unquoted whitespace *without* expanding: quotes and escapes stay
/// (for `ENV a="x y" b=2`, where each word is expanded later).
pub fn split_raw(text: &str, escape: char) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match quote {
            Some(q) => {
                cur.push(c);
                if c == escape && q == '"' {
                    if let Some(n) = chars.next() {
                        cur.push(n);
                    }
                } else if c == q {
                    quote = None;
                }
            }
            None if c.is_whitespace() => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            None => {
                cur.push(c);
                if c == escape {
                    if let Some(n) = chars.next() {
                        cur.push(n);
                    }
                } else if c == '"' || c == '\'' {
                    quote = Some(c);
                }
            }
        }
    }
    if let Some(q) = quote {
        return Err(format!("unterminated quote {q} in: {text}"));
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> Vec<(String, String)> {
        [("A", "1"), ("E", ""), ("P", "80 443"), ("H", "/home/x")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn substitution_table() {
        let v = vars();
        let cases = [
            "$A",
            "${A}",
            "x${A}y",
            "$UNSET",
            "${UNSET:-def}",
            "${E:-def}",
            "${E-def}",
            "${UNSET-def}",
            "${A:+alt}",
            "${E:+alt}",
            "${E+alt}",
            "${UNSET+alt}",
            "${UNSET:-${A}0}",
            "'$A'",
            "\"$A b\"",
            "\\$A",
            "\"\\$A\"",
            "$",
            "a$",
            "$H/bin",
            "${A:?}",
            "${UNSET:?needs a value}",
            "${A",
            "${A:x}",
            "${}",
            "'open",
            "\"open",
        ];
        let mut out = String::new();
        for c in cases {
            let r = match expand(c, '\\', &v) {
                Ok(s) => format!("ok  {s:?}"),
                Err(e) => format!("err {e}"),
            };
            out.push_str(&format!("{c:<26} {r}\n"));
        }
        insta::assert_snapshot!(out);
    }

    #[test]
    fn words_split_after_substitution() {
        let v = vars();
        assert_eq!(words("$P", '\\', &v).unwrap(), vec!["80", "443"]);
        assert_eq!(words("\"$P\"", '\\', &v).unwrap(), vec!["80 443"]);
        assert_eq!(
            words("a 'b c'  d", '\\', &v).unwrap(),
            vec!["a", "b c", "d"]
        );
        assert_eq!(words("a\\ b", '\\', &v).unwrap(), vec!["a b"]);
        assert_eq!(words("a` b", '`', &v).unwrap(), vec!["a b"]);
    }

    #[test]
    fn raw_split_keeps_quotes() {
        assert_eq!(
            split_raw("a=\"x y\" b='1 2' c=\\ d", '\\').unwrap(),
            vec!["a=\"x y\"", "b='1 2'", "c=\\ d"]
        );
        assert!(split_raw("a=\"x", '\\').is_err());
    }
}
