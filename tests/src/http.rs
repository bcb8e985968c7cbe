//! One raw HTTP/1.1 request, written by hand over a unix socket: for what
//! no client sends (a CLI checks some input itself), headers a test must
//! set, and bodies a client would refuse to send.

use std::io::{Read, Write};
use std::path::Path;

/// An answer: its status, its head (status line and headers) and its body
/// (chunked transfer encoding undone).
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The status line and the headers.
    pub head: String,
    /// The body, dechunked.
    pub body: String,
}

impl Response {
    /// The value of header `name` (any case), or "".
    pub fn header(&self, name: &str) -> String {
        self.head
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
            })
            .unwrap_or_default()
    }
}

/// `METHOD path` over the unix socket `socket` with these extra headers and
/// body (`Content-Length` is added; `Connection: close`, so the answer ends
/// at EOF). The server may answer (413) before reading the whole body: a
/// write error is ignored and the answer read.
pub fn request(
    socket: &Path,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Response {
    let mut s = std::os::unix::net::UnixStream::connect(socket).unwrap();
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    s.write_all(head.as_bytes()).unwrap();
    let _ = s.write_all(body);
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let out = String::from_utf8_lossy(&out).into_owned();
    let (head, body) = out.split_once("\r\n\r\n").unwrap_or((&out, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|x| x.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {out:?}"));
    let mut r = Response {
        status,
        head: head.to_string(),
        body: body.to_string(),
    };
    if r.header("transfer-encoding").contains("chunked") {
        r.body = dechunk(&r.body);
    }
    r
}

/// A chunked body's data.
fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}
