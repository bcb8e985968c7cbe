//! `.dockerignore`: which files of the build context never leave the client.
//!
//! The client tars the context directory and sends it to the daemon; the
//! `.dockerignore` file at the context root names what to leave out, one
//! pattern per line, with Docker's rules:
//!
//! - `#` starts a comment line; blank lines are ignored;
//! - patterns are relative to the context root (a leading `/` is dropped)
//!   and cleaned (`./a//b/` is `a/b`);
//! - `*` matches any run of characters except `/`, `?` one character except
//!   `/`, `[a-c]`/`[^a]` a class, `\` escapes the next character;
//! - `**` matches any number of directories, zero included (`**/*.go`
//!   matches `a.go` and `x/y/a.go`);
//! - a pattern that matches a directory also matches everything under it;
//! - `!pattern` is an exception: it brings back what an earlier pattern
//!   left out. The **last** matching line decides.
//!
//! The Dockerfile and `.dockerignore` themselves are always sent (the
//! daemon needs them), whatever the patterns say.

use std::path::Path;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Lit(char),
    /// `?`
    One,
    /// `*`
    Star,
    /// `**` (crosses `/`)
    Any,
    /// `**/` (empty, or anything ending in `/`)
    AnyDirs,
    /// `[…]`: ranges, negated.
    Class(Vec<(char, char)>, bool),
}

/// One line of `.dockerignore`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    /// As written (cleaned), without `!`.
    pub text: String,
    /// `!pattern`.
    pub exception: bool,
    toks: Vec<Tok>,
}

/// The patterns of a `.dockerignore`, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Matcher {
    /// In file order.
    pub patterns: Vec<Pattern>,
}

/// `a/./b//c/` -> `a/b/c`; `..` pops (never above the root).
pub fn clean(p: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for part in p.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            x => out.push(x),
        }
    }
    out.join("/")
}

fn compile(p: &str) -> Result<Vec<Tok>, String> {
    let chars: Vec<char> = p.chars().collect();
    let mut toks = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '*' if chars.get(i + 1) == Some(&'*') => {
                if chars.get(i + 2) == Some(&'/') {
                    toks.push(Tok::AnyDirs);
                    i += 3;
                } else {
                    toks.push(Tok::Any);
                    i += 2;
                }
                continue;
            }
            '*' => toks.push(Tok::Star),
            '?' => toks.push(Tok::One),
            '\\' => {
                i += 1;
                match chars.get(i) {
                    Some(n) => toks.push(Tok::Lit(*n)),
                    None => return Err(format!("syntax error in pattern {p:?}: trailing \\")),
                }
            }
            '[' => {
                let mut j = i + 1;
                let neg = matches!(chars.get(j), Some('^') | Some('!'));
                if neg {
                    j += 1;
                }
                let mut ranges = Vec::new();
                let mut first = true;
                loop {
                    let Some(&a) = chars.get(j) else {
                        return Err(format!("syntax error in pattern {p:?}: missing ]"));
                    };
                    if a == ']' && !first {
                        break;
                    }
                    first = false;
                    let a = if a == '\\' {
                        j += 1;
                        *chars
                            .get(j)
                            .ok_or(format!("syntax error in pattern {p:?}"))?
                    } else {
                        a
                    };
                    if chars.get(j + 1) == Some(&'-') && chars.get(j + 2).is_some_and(|c| *c != ']')
                    {
                        let b = chars[j + 2];
                        ranges.push((a, b));
                        j += 3;
                    } else {
                        ranges.push((a, a));
                        j += 1;
                    }
                }
                toks.push(Tok::Class(ranges, neg));
                i = j;
            }
            c => toks.push(Tok::Lit(c)),
        }
        i += 1;
    }
    Ok(toks)
}

/// Whether `toks` match all of `s`.
///
/// Dynamic programming over (token, position), from the end of both: each
/// pair is decided once, so the time is tokens × characters. (Trying each
/// split of `*` and `**` recursively is exponential: a hostile line of
/// `**********+` took the fuzzer's five-second limit on one path.)
fn matches(toks: &[Tok], s: &[char]) -> bool {
    let n = s.len();
    // `next[i]`: do the tokens after the current one match `s[i..]`?
    let mut next: Vec<bool> = (0..=n).map(|i| i == n).collect();
    let mut cur = vec![false; n + 1];
    for tok in toks.iter().rev() {
        for i in (0..=n).rev() {
            let c = s.get(i).copied();
            cur[i] = match tok {
                Tok::Lit(l) => c == Some(*l) && next[i + 1],
                Tok::One => c.is_some_and(|c| c != '/') && next[i + 1],
                Tok::Class(ranges, neg) => {
                    c.is_some_and(|c| {
                        c != '/' && ranges.iter().any(|(a, b)| *a <= c && c <= *b) != *neg
                    }) && next[i + 1]
                }
                // Stop here, or take one more character that is not `/`.
                Tok::Star => next[i] || (c.is_some_and(|c| c != '/') && cur[i + 1]),
                // Stop here, or take one more character of any kind.
                Tok::Any => next[i] || (c.is_some() && cur[i + 1]),
                // Nothing, or a run of characters that ends with `/`.
                Tok::AnyDirs => next[i] || ends_in_slash_then(s, &next, i),
            };
        }
        std::mem::swap(&mut next, &mut cur);
    }
    next[0]
}

/// Whether some `j > i` has `s[j-1] == '/'` and `next[j]` (`**/` taking `s[i..j]`).
fn ends_in_slash_then(s: &[char], next: &[bool], i: usize) -> bool {
    (i + 1..=s.len()).any(|j| s[j - 1] == '/' && next[j])
}

impl Pattern {
    /// Parses one line (already trimmed, not a comment).
    pub fn new(line: &str) -> Result<Pattern, String> {
        let (exception, body) = match line.strip_prefix('!') {
            Some(b) => (true, b.trim()),
            None => (false, line),
        };
        let text = clean(body);
        Ok(Pattern {
            toks: compile(&text)?,
            text,
            exception,
        })
    }

    /// Whether the pattern matches exactly `path` (COPY's wildcards).
    pub fn matches_path(&self, path: &str) -> bool {
        let chars: Vec<char> = path.chars().collect();
        matches(&self.toks, &chars)
    }

    /// Whether the pattern matches `path` or one of its parent directories.
    pub fn matches(&self, path: &str) -> bool {
        let chars: Vec<char> = path.chars().collect();
        if matches(&self.toks, &chars) {
            return true;
        }
        // A match on a parent directory covers what is inside.
        chars
            .iter()
            .enumerate()
            .filter(|(_, c)| **c == '/')
            .any(|(i, _)| matches(&self.toks, &chars[..i]))
    }
}

impl Matcher {
    /// Parses the text of a `.dockerignore`.
    pub fn parse(text: &str) -> Result<Matcher, String> {
        let mut patterns = Vec::new();
        for line in text.lines() {
            let l = line.trim();
            if l.is_empty() || l.starts_with('#') {
                continue;
            }
            let p = Pattern::new(l)?;
            if p.text.is_empty() && !p.exception {
                // `/` or `.` would exclude everything; Docker drops it too.
                continue;
            }
            patterns.push(p);
        }
        Ok(Matcher { patterns })
    }

    /// Reads `<context>/.dockerignore` (none: an empty matcher).
    pub fn load(context: &Path) -> Result<Matcher, String> {
        match std::fs::read_to_string(context.join(".dockerignore")) {
            Ok(t) => Matcher::parse(&t),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Matcher::default()),
            Err(e) => Err(format!("read .dockerignore: {e}")),
        }
    }

    /// Whether `path` (relative to the context, `/`-separated) is left out.
    pub fn excluded(&self, path: &str) -> bool {
        let path = clean(path);
        let mut out = false;
        for p in &self.patterns {
            if p.matches(&path) {
                out = !p.exception;
            }
        }
        out
    }

    /// Whether any exception exists (then an excluded directory must still
    /// be walked: something inside may come back).
    pub fn has_exceptions(&self) -> bool {
        self.patterns.iter().any(|p| p.exception)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_rules_table() {
        let m = Matcher::parse(
            "# comment\n\n*.log\n!keep.log\n/build/\n**/*.tmp\ndocs/**\n!docs/README.md\nsecret?.txt\n[ab]x\n./node_modules\n",
        )
        .unwrap();
        let paths = [
            "a.log",
            "keep.log",
            "sub/a.log",
            "build",
            "build/out/x",
            "x.tmp",
            "a/b/c.tmp",
            "docs",
            "docs/guide.md",
            "docs/README.md",
            "secret1.txt",
            "secret12.txt",
            "ax",
            "cx",
            "node_modules/pkg/index.js",
            "src/main.rs",
        ];
        let mut out = String::new();
        for p in paths {
            out.push_str(&format!(
                "{p:<26} {}\n",
                if m.excluded(p) { "excluded" } else { "sent" }
            ));
        }
        insta::assert_snapshot!(out);
    }

    #[test]
    fn last_match_wins_and_parents_cover_children() {
        let m = Matcher::parse("dir\n!dir/keep\n").unwrap();
        assert!(m.excluded("dir/a"));
        assert!(!m.excluded("dir/keep"));
        assert!(!m.excluded("dir/keep/inner"));
        assert!(m.has_exceptions());
        let m = Matcher::parse("!dir/keep\ndir\n").unwrap();
        assert!(m.excluded("dir/keep"));
    }

    #[test]
    fn double_star_matches_zero_or_more_dirs() {
        let m = Matcher::parse("**/x\na/**/b\n").unwrap();
        assert!(m.excluded("x"));
        assert!(m.excluded("p/q/x"));
        assert!(m.excluded("a/b"));
        assert!(m.excluded("a/1/2/b"));
        assert!(!m.excluded("ab"));
    }

    #[test]
    fn clean_paths() {
        assert_eq!(clean("./a//b/"), "a/b");
        assert_eq!(clean("/a/../b"), "b");
        assert_eq!(clean("../../x"), "x");
    }

    /// Found by the dockerfile fuzz target: stars in a row once took
    /// exponential time; now a long line of them is decided at once.
    #[test]
    fn many_stars_are_matched_in_linear_time() {
        let line = format!("{}+", "*".repeat(4000));
        let m = Matcher::parse(&line).unwrap();
        assert!(!m.excluded("a/b/c"));
        assert!(m.excluded("x+"));
        let p = Pattern::new(&format!("{}b", "a*".repeat(500))).unwrap();
        assert!(!p.matches_path(&"a".repeat(600)));
        assert!(p.matches_path(&format!("{}b", "a".repeat(600))));
    }

    #[test]
    fn stars_classes_and_dirs() {
        let p = |pat: &str, path: &str| Pattern::new(pat).unwrap().matches_path(path);
        assert!(p("*", "abc"));
        assert!(!p("*", "a/b"));
        assert!(p("a*c", "abbc"));
        assert!(p("a*c", "ac"));
        assert!(!p("a*c", "ab/c"));
        assert!(p("a/*/c", "a/b/c"));
        assert!(p("?x", "ax"));
        assert!(!p("?x", "/x"));
        assert!(p("[a-c]x", "bx"));
        assert!(!p("[^a-c]x", "bx"));
        assert!(p("a**", "a/b/c"));
        assert!(p("**/c", "c"));
        assert!(p("**/c", "a/b/c"));
        assert!(!p("**/c", "a/bc"));
        assert!(p("a/**/c", "a/c"));
        assert!(p("\\*x", "*x"));
        assert!(!p("\\*x", "ax"));
        assert!(!p("", "a"));
        assert!(p("", ""));
    }

    #[test]
    fn bad_patterns_are_errors() {
        assert!(Matcher::parse("[abc\n").is_err());
    }
}
