//! YAML in, JSON values out, with the line of every key.
//!
//! yaml-rust2's push parser hands us one event at a time (mapping start, a
//! scalar, sequence end…), each with its position in the file. We build a
//! [`serde_json::Value`] from them (the typed Compose structs deserialize
//! from it) and remember, for each key path (`services.web.ports[0]`), the
//! line it was written on: when the typed model refuses a key, the error
//! names the file, that line and that path.
//!
//! Scalars follow YAML 1.2's core schema, as compose-go reads them: plain
//! `true`/`false`, integers, floats and `null`/`~`/empty are typed; quoted
//! scalars are always strings. Anchors, aliases and the `<<` merge key work.

use serde_json::{Map, Value};
use std::collections::HashMap;
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// Line numbers (1-based) by key path.
pub type Lines = HashMap<String, usize>;

/// A parse error: the line and what is wrong.
#[derive(Debug)]
pub struct YamlError {
    /// 1-based.
    pub line: usize,
    /// What the parser said.
    pub message: String,
}

enum Frame {
    Map {
        map: Map<String, Value>,
        key: Option<String>,
        path: String,
        anchor: usize,
        merges: Vec<Value>,
    },
    Seq {
        seq: Vec<Value>,
        path: String,
        anchor: usize,
    },
}

struct Builder {
    stack: Vec<Frame>,
    done: Option<Value>,
    anchors: HashMap<usize, Value>,
    lines: Lines,
    error: Option<YamlError>,
}

fn child(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// A plain scalar as YAML 1.2's core schema types it.
fn plain(s: &str) -> Value {
    match s {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        _ => {}
    }
    if let Ok(i) = s.parse::<i64>() {
        return Value::from(i);
    }
    if let Some(h) = s.strip_prefix("0x") {
        if let Ok(i) = i64::from_str_radix(h, 16) {
            return Value::from(i);
        }
    }
    if let Some(o) = s.strip_prefix("0o") {
        if let Ok(i) = i64::from_str_radix(o, 8) {
            return Value::from(i);
        }
    }
    let looks_numeric = s
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-'))
        && s.chars().any(|c| c.is_ascii_digit());
    if looks_numeric {
        if let Some(n) = s.parse::<f64>().ok().and_then(serde_json::Number::from_f64) {
            return Value::Number(n);
        }
    }
    Value::String(s.to_string())
}

impl Builder {
    /// Where the next value goes: its path.
    fn next_path(&self) -> String {
        match self.stack.last() {
            Some(Frame::Map {
                key: Some(k), path, ..
            }) => child(path, k),
            Some(Frame::Seq { seq, path, .. }) => format!("{path}[{}]", seq.len()),
            _ => String::new(),
        }
    }

    fn push_value(&mut self, v: Value, mark: Marker) {
        match self.stack.last_mut() {
            None => self.done = Some(v),
            Some(Frame::Seq { seq, .. }) => seq.push(v),
            Some(Frame::Map {
                map,
                key,
                path,
                merges,
                ..
            }) => match key.take() {
                None => {
                    let k = match v {
                        Value::String(s) => s,
                        Value::Null => String::new(),
                        other => other.to_string(),
                    };
                    if k != "<<" && map.contains_key(&k) && self.error.is_none() {
                        self.error = Some(YamlError {
                            line: mark.line(),
                            message: format!("mapping key {k:?} already defined"),
                        });
                    }
                    self.lines.insert(child(path, &k), mark.line());
                    *key = Some(k);
                }
                Some(k) if k == "<<" => merges.push(v),
                Some(k) => {
                    map.insert(k, v);
                }
            },
        }
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        // A list item's line is where it starts.
        let starts_value = matches!(
            ev,
            Event::Scalar(..)
                | Event::Alias(_)
                | Event::MappingStart(..)
                | Event::SequenceStart(..)
        );
        if starts_value && matches!(self.stack.last(), Some(Frame::Seq { .. })) {
            self.lines.insert(self.next_path(), mark.line());
        }
        match ev {
            Event::Scalar(s, style, anchor, tag) => {
                let is_str_tag = tag.as_ref().is_some_and(|t| t.suffix == "str");
                let v = if style == TScalarStyle::Plain && !is_str_tag {
                    plain(&s)
                } else {
                    Value::String(s)
                };
                if anchor > 0 {
                    self.anchors.insert(anchor, v.clone());
                }
                self.push_value(v, mark);
            }
            Event::Alias(id) => {
                let v = self.anchors.get(&id).cloned().unwrap_or(Value::Null);
                self.push_value(v, mark);
            }
            Event::MappingStart(anchor, _) => {
                let path = self.next_path();
                self.stack.push(Frame::Map {
                    map: Map::new(),
                    key: None,
                    path,
                    anchor,
                    merges: Vec::new(),
                });
            }
            Event::SequenceStart(anchor, _) => {
                let path = self.next_path();
                self.stack.push(Frame::Seq {
                    seq: Vec::new(),
                    path,
                    anchor,
                });
            }
            Event::MappingEnd => {
                if let Some(Frame::Map {
                    mut map,
                    anchor,
                    merges,
                    ..
                }) = self.stack.pop()
                {
                    // `<<: *base` (or a list of them): keys written here win.
                    for m in merges {
                        let list = match m {
                            Value::Array(a) => a,
                            other => vec![other],
                        };
                        for one in list {
                            if let Value::Object(o) = one {
                                for (k, v) in o {
                                    map.entry(k).or_insert(v);
                                }
                            }
                        }
                    }
                    let v = Value::Object(map);
                    if anchor > 0 {
                        self.anchors.insert(anchor, v.clone());
                    }
                    self.push_value(v, mark);
                }
            }
            Event::SequenceEnd => {
                if let Some(Frame::Seq { seq, anchor, .. }) = self.stack.pop() {
                    let v = Value::Array(seq);
                    if anchor > 0 {
                        self.anchors.insert(anchor, v.clone());
                    }
                    self.push_value(v, mark);
                }
            }
            _ => {}
        }
    }
}

/// Parses one YAML document.
pub fn load(text: &str) -> Result<(Value, Lines), YamlError> {
    let mut b = Builder {
        stack: Vec::new(),
        done: None,
        anchors: HashMap::new(),
        lines: Lines::new(),
        error: None,
    };
    Parser::new_from_str(text)
        .load(&mut b, false)
        .map_err(|e| YamlError {
            line: e.marker().line(),
            message: e.info().to_string(),
        })?;
    if let Some(e) = b.error {
        return Err(e);
    }
    Ok((b.done.unwrap_or(Value::Null), b.lines))
}

/// A JSON value as YAML text (what `config` prints).
pub fn dump(v: &Value) -> String {
    fn conv(v: &Value) -> yaml_rust2::Yaml {
        use yaml_rust2::Yaml;
        match v {
            Value::Null => Yaml::Null,
            Value::Bool(b) => Yaml::Boolean(*b),
            Value::Number(n) => match n.as_i64() {
                Some(i) => Yaml::Integer(i),
                None => Yaml::Real(n.to_string()),
            },
            Value::String(s) => Yaml::String(s.clone()),
            Value::Array(a) => Yaml::Array(a.iter().map(conv).collect()),
            Value::Object(o) => {
                let mut h = yaml_rust2::yaml::Hash::new();
                for (k, v) in o {
                    h.insert(Yaml::String(k.clone()), conv(v));
                }
                Yaml::Hash(h)
            }
        }
    }
    let mut out = String::new();
    let mut e = yaml_rust2::YamlEmitter::new(&mut out);
    let _ = e.dump(&conv(v));
    // The emitter starts with a document marker; compose config prints none.
    let body = out.strip_prefix("---\n").unwrap_or(&out);
    format!("{body}\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_lines_and_merge_keys() {
        let (v, lines) = load(
            "x-base: &b\n  image: busybox\n  init: true\nservices:\n  web:\n    <<: *b\n    ports: [\"80\", 81]\n    cpus: 0.5\n    user: ~\n",
        )
        .unwrap();
        assert_eq!(v["services"]["web"]["image"], "busybox");
        assert_eq!(v["services"]["web"]["init"], true);
        assert_eq!(v["services"]["web"]["ports"][0], "80");
        assert_eq!(v["services"]["web"]["ports"][1], 81);
        assert_eq!(v["services"]["web"]["cpus"], 0.5);
        assert_eq!(v["services"]["web"]["user"], Value::Null);
        assert_eq!(lines["services.web.ports"], 7);
        assert_eq!(lines["services.web"], 5);
    }

    #[test]
    fn a_duplicate_key_is_an_error_with_its_line() {
        let e = load("services:\n  a: {}\n  a: {}\n").unwrap_err();
        assert_eq!(e.line, 3);
        assert!(e.message.contains("\"a\" already defined"), "{}", e.message);
    }
}
