//! The detach sequence of `attach` and `run -it` (`--detach-keys`, Ctrl-P
//! Ctrl-Q by default): the client watches its input for it, and the daemon
//! does too when the client passes `detachKeys`.

/// Docker's `--detach-keys` syntax: `ctrl-p,ctrl-q`, `a`, `ctrl-@` … into bytes.
pub fn parse_detach_keys(s: &str) -> std::result::Result<Vec<u8>, String> {
    let mut out = Vec::new();
    for key in s.split(',') {
        let k = key.trim();
        if let Some(c) = k.strip_prefix("ctrl-") {
            let b = match c.as_bytes() {
                [x @ b'a'..=b'z'] => x - b'a' + 1,
                [b'@'] => 0,
                [b'['] => 27,
                [b'\\'] => 28,
                [b']'] => 29,
                [b'^'] => 30,
                [b'_'] => 31,
                _ => return Err(format!("Invalid detach keys ({s}) provided")),
            };
            out.push(b);
        } else if k.len() == 1 {
            out.push(k.as_bytes()[0]);
        } else {
            return Err(format!("Invalid detach keys ({s}) provided"));
        }
    }
    if out.is_empty() {
        return Err(format!("Invalid detach keys ({s}) provided"));
    }
    Ok(out)
}

/// Watches input for the detach sequence. Bytes that could start it are
/// held back until the sequence completes (detach) or breaks (they are sent).
#[derive(Debug, Clone)]
pub struct DetachWatch {
    keys: Vec<u8>,
    matched: usize,
}

impl DetachWatch {
    /// For these keys.
    pub fn new(keys: Vec<u8>) -> Self {
        DetachWatch { keys, matched: 0 }
    }

    /// Feeds input; returns the bytes to forward, and whether to detach now.
    pub fn feed(&mut self, input: &[u8]) -> (Vec<u8>, bool) {
        let mut out = Vec::with_capacity(input.len());
        for &b in input {
            if b == self.keys[self.matched] {
                self.matched += 1;
                if self.matched == self.keys.len() {
                    return (out, true);
                }
            } else {
                out.extend_from_slice(&self.keys[..self.matched]);
                self.matched = 0;
                if b == self.keys[0] {
                    self.matched = 1;
                } else {
                    out.push(b);
                }
            }
        }
        (out, false)
    }
}

/// The default: Ctrl-P Ctrl-Q.
pub const DEFAULT_DETACH_KEYS: &[u8] = &[0x10, 0x11];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detach_keys_parse_like_docker() {
        assert_eq!(parse_detach_keys("ctrl-p,ctrl-q").unwrap(), vec![16, 17]);
        assert_eq!(parse_detach_keys("ctrl-a,x").unwrap(), vec![1, b'x']);
        assert!(parse_detach_keys("ctrl-").is_err());
        assert!(parse_detach_keys("hello").is_err());
    }

    #[test]
    fn the_detach_sequence_is_held_back_then_released_or_acted_on() {
        let mut w = DetachWatch::new(DEFAULT_DETACH_KEYS.to_vec());
        assert_eq!(w.feed(b"ab\x10"), (b"ab".to_vec(), false));
        assert_eq!(w.feed(b"c"), (b"\x10c".to_vec(), false));
        assert_eq!(w.feed(b"x\x10"), (b"x".to_vec(), false));
        assert_eq!(w.feed(b"\x11rest"), (Vec::new(), true));
        let mut w = DetachWatch::new(DEFAULT_DETACH_KEYS.to_vec());
        assert_eq!(w.feed(b"\x10\x10\x11"), (b"\x10".to_vec(), true));
    }
}
