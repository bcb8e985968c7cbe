//! A small blocking HTTP/1.1 client over a unix socket (or tcp), enough for
//! the Docker API: one request per connection, chunked or sized bodies.

use std::io::{BufRead, BufReader, Read, Write};

/// Where the daemon is: `unix:///path` or `tcp://host:port`.
#[derive(Debug, Clone)]
pub struct Client {
    /// As given.
    pub host: String,
    /// TLS for `tcp://` hosts (`--tlsverify`); `None` speaks plain HTTP.
    pub tls: Option<std::sync::Arc<rustls::ClientConfig>>,
}

/// A client error: the daemon is not there, or it said no.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// No daemon at the address.
    #[error("Cannot connect to the mini-docker daemon at {0}. Is the daemon running? Start it with `mini-dockerd` (as root).")]
    Connect(String),
    /// The daemon answered with an error.
    #[error("Error response from daemon: {message}")]
    Api {
        /// HTTP status.
        status: u16,
        /// Its message.
        message: String,
    },
    /// The daemon closed the connection before answering (it died
    /// mid-request, or was stopped).
    #[error("the daemon closed the connection: is it running? see its log")]
    Closed,
    /// A broken connection or a bad answer.
    #[error("{0}")]
    Io(String),
}

trait Stream: Read + Write + Send {}
impl<T: Read + Write + Send> Stream for T {}

/// A response whose body is read as it arrives.
pub struct Response {
    /// Status code.
    pub status: u16,
    /// The body.
    pub body: Box<dyn Read + Send>,
    /// The response headers (names lower-cased).
    pub headers: Vec<(String, String)>,
}

impl Response {
    /// The whole body.
    pub fn bytes(mut self) -> Result<Vec<u8>, ClientError> {
        let mut v = Vec::new();
        self.body
            .read_to_end(&mut v)
            .map_err(|e| ClientError::Io(e.to_string()))?;
        Ok(v)
    }

    /// The whole body as JSON.
    pub fn json(self) -> Result<serde_json::Value, ClientError> {
        let v = self.bytes()?;
        if v.is_empty() {
            return Ok(serde_json::Value::Null);
        }
        serde_json::from_slice(&v)
            .map_err(|e| ClientError::Io(format!("bad JSON from the daemon: {e}")))
    }
}

struct Chunked<R> {
    inner: R,
    left: usize,
    done: bool,
}

impl<R: BufRead> Read for Chunked<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.done || buf.is_empty() {
            return Ok(0);
        }
        if self.left == 0 {
            let mut line = String::new();
            self.inner.read_line(&mut line)?;
            if line.trim().is_empty() {
                line.clear();
                self.inner.read_line(&mut line)?;
            }
            let size = usize::from_str_radix(line.trim().split(';').next().unwrap_or("0"), 16)
                .unwrap_or(0);
            if size == 0 {
                self.done = true;
                return Ok(0);
            }
            self.left = size;
        }
        let n = buf.len().min(self.left);
        let got = self.inner.read(&mut buf[..n])?;
        if got == 0 {
            self.done = true;
        }
        self.left -= got;
        Ok(got)
    }
}

/// A request body.
pub enum Body {
    /// None.
    Empty,
    /// JSON.
    Json(serde_json::Value),
    /// A file or stdin, with its length.
    Reader(Box<dyn Read + Send>, u64, &'static str),
}

impl Client {
    /// From `-H`, `DOCKER_HOST`, or the default socket.
    pub fn new(host: Option<String>) -> Client {
        let host = host
            .or_else(|| std::env::var("DOCKER_HOST").ok())
            .unwrap_or_else(|| "unix:///run/mini-docker.sock".into());
        Client { host, tls: None }
    }

    /// With TLS (`--tlsverify`): what the daemon's certificate must be
    /// signed by, and our own certificate.
    pub fn with_tls(mut self, tls: Option<std::sync::Arc<rustls::ClientConfig>>) -> Client {
        self.tls = tls;
        self
    }

    /// Opens a connection: a unix socket, TCP, or TLS over TCP.
    fn open(&self) -> Result<Conn, ClientError> {
        let fail = |_| ClientError::Connect(self.host.clone());
        if let Some(p) = self.host.strip_prefix("unix://") {
            Ok(Conn::Unix(
                std::os::unix::net::UnixStream::connect(p).map_err(fail)?,
            ))
        } else if let Some(a) = self.host.strip_prefix("tcp://") {
            let a = a.trim_end_matches('/');
            // Docker's default ports: 2376 with TLS, 2375 without.
            let default_port = if self.tls.is_some() { 2376 } else { 2375 };
            let a = if a
                .rsplit_once(':')
                .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
            {
                a.to_string()
            } else {
                format!("{a}:{default_port}")
            };
            let tcp = std::net::TcpStream::connect(&a).map_err(fail)?;
            match &self.tls {
                None => Ok(Conn::Tcp(tcp)),
                Some(config) => {
                    let name = a.rsplit_once(':').map_or(&*a, |(h, _)| h);
                    let name = name.trim_start_matches('[').trim_end_matches(']');
                    super::tls::TlsStream::connect(config.clone(), name, tcp)
                        .map(Conn::Tls)
                        .map_err(|e| ClientError::Io(format!("{}: {e}", self.host)))
                }
            }
        } else if let Some(rest) = self.host.strip_prefix("ssh://") {
            ssh_dial(rest).map(Conn::Unix)
        } else {
            Err(ClientError::Io(format!(
                "unsupported host {}: use unix:///path, tcp://host:port or ssh://user@host",
                self.host
            )))
        }
    }

    /// A raw connection to the daemon, for `system dial-stdio`.
    pub fn dial(&self) -> Result<Conn, ClientError> {
        self.open()
    }

    fn connect(&self) -> Result<Box<dyn Stream>, ClientError> {
        Ok(Box::new(self.open()?))
    }

    /// Sends a request; error statuses become [`ClientError::Api`].
    pub fn call(&self, method: &str, path: &str, body: Body) -> Result<Response, ClientError> {
        self.call_with(method, path, body, &[])
    }

    /// [`Client::call`] with extra request headers (`X-Registry-Auth`).
    pub fn call_with(
        &self,
        method: &str,
        path: &str,
        body: Body,
        headers: &[(&str, &str)],
    ) -> Result<Response, ClientError> {
        let r = self.raw_with(method, path, body, headers)?;
        if r.status >= 400 {
            let status = r.status;
            let v = r.json().unwrap_or_default();
            let message = v["message"].as_str().unwrap_or("unknown error").to_string();
            return Err(ClientError::Api { status, message });
        }
        Ok(r)
    }

    /// Sends a request and returns whatever came back.
    pub fn raw(&self, method: &str, path: &str, body: Body) -> Result<Response, ClientError> {
        self.raw_with(method, path, body, &[])
    }

    /// [`Client::raw`] with extra request headers.
    pub fn raw_with(
        &self,
        method: &str,
        path: &str,
        body: Body,
        headers: &[(&str, &str)],
    ) -> Result<Response, ClientError> {
        let io = |e: std::io::Error| ClientError::Io(e.to_string());
        let mut s = self.connect()?;
        let mut head = format!("{method} /v1.41{path} HTTP/1.1\r\nHost: docker\r\nUser-Agent: mini-docker\r\nConnection: close\r\n");
        let (ctype, len, mut reader): (&str, u64, Option<Box<dyn Read + Send>>) = match body {
            Body::Empty => ("", 0, None),
            Body::Json(v) => {
                let b = serde_json::to_vec(&v).unwrap_or_default();
                (
                    "application/json",
                    b.len() as u64,
                    Some(Box::new(std::io::Cursor::new(b))),
                )
            }
            Body::Reader(r, n, t) => (t, n, Some(r)),
        };
        for (k, v) in headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        if !ctype.is_empty() {
            head.push_str(&format!("Content-Type: {ctype}\r\n"));
        }
        head.push_str(&format!("Content-Length: {len}\r\n\r\n"));
        s.write_all(head.as_bytes()).map_err(io)?;
        let sent = match reader.as_mut() {
            Some(r) => std::io::copy(r, &mut s).map(|_| ()),
            None => Ok(()),
        }
        .and_then(|()| s.flush());
        let mut r = BufReader::new(s);
        // The daemon may refuse before reading the whole body (a full disk,
        // a bad archive): its answer, when there is one, says why better
        // than our broken pipe.
        let Head {
            status,
            chunked,
            length,
            headers,
        } = match (read_head(&mut r), sent) {
            (Ok(h), _) => h,
            (Err(e), Ok(())) => return Err(e),
            (Err(_), Err(w)) => return Err(io(w)),
        };
        let body: Box<dyn Read + Send> = if chunked {
            Box::new(Chunked {
                inner: r,
                left: 0,
                done: false,
            })
        } else if let Some(n) = length {
            Box::new(r.take(n))
        } else {
            Box::new(r)
        };
        Ok(Response {
            status,
            body,
            headers,
        })
    }
}

/// `ssh://[user@]host[:port]`, as the docker CLI does it: runs
/// `ssh … host mini-docker system dial-stdio`, which joins its stdin and
/// stdout to the daemon socket over there, and speaks HTTP through the
/// channel. The ssh process's stdin and stdout are one end of a socket pair,
/// so the other end is an ordinary unix stream here (half-close included);
/// ssh's own complaints (host key, password) go to our stderr.
fn ssh_dial(rest: &str) -> Result<std::os::unix::net::UnixStream, ClientError> {
    let target = rest.split('/').next().unwrap_or_default();
    let (user, hostport) = match target.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, target),
    };
    let (host, port) = match hostport.strip_prefix('[') {
        // [::1]:22
        Some(r) => match r.split_once(']') {
            Some((h, rest)) => (h, rest.strip_prefix(':')),
            None => (r, None),
        },
        None => match hostport.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (hostport, None),
        },
    };
    if host.is_empty() || host.starts_with('-') {
        return Err(ClientError::Io(format!(
            "ssh://{rest}: no host: use ssh://user@host[:port]"
        )));
    }
    let io = |e: std::io::Error| ClientError::Io(format!("ssh to {host}: {e}"));
    let (ours, theirs) = std::os::unix::net::UnixStream::pair().map_err(io)?;
    let mut cmd = std::process::Command::new("ssh");
    cmd.args(["-o", "ConnectTimeout=30", "-T"]);
    if let Some(u) = user {
        cmd.args(["-l", u]);
    }
    if let Some(p) = port {
        cmd.args(["-p", p]);
    }
    let child_in = std::os::fd::OwnedFd::from(theirs.try_clone().map_err(io)?);
    let mut child = cmd
        .args(["--", host, "mini-docker", "system", "dial-stdio"])
        .stdin(child_in)
        .stdout(std::os::fd::OwnedFd::from(theirs))
        .spawn()
        .map_err(io)?;
    // Reaped when it ends (our end closed, or ssh failed).
    std::thread::spawn(move || child.wait());
    Ok(ours)
}

/// The status line and the headers we use.
struct Head {
    status: u16,
    chunked: bool,
    length: Option<u64>,
    /// Every header, names lowercased.
    headers: Vec<(String, String)>,
}

fn read_head(r: &mut impl BufRead) -> Result<Head, ClientError> {
    let io = |e: std::io::Error| ClientError::Io(e.to_string());
    let mut line = String::new();
    // No status line at all: the daemon went away while we waited.
    match r.read_line(&mut line) {
        Ok(0) => return Err(ClientError::Closed),
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::UnexpectedEof
            ) =>
        {
            return Err(ClientError::Closed)
        }
        Err(e) => return Err(io(e)),
        Ok(_) => {}
    }
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|x| x.parse().ok())
        .ok_or_else(|| {
            // 0x15 0x03: a TLS alert record, a daemon that wants TLS.
            let hint = if line.as_bytes().starts_with(&[0x15, 0x03]) {
                " (a TLS alert: this daemon wants TLS; add --tlsverify, or set DOCKER_TLS_VERIFY=1 and DOCKER_CERT_PATH)"
            } else {
                ""
            };
            ClientError::Io(format!("bad answer from the daemon: {line:?}{hint}"))
        })?;
    let mut head = Head {
        status,
        chunked: false,
        length: None,
        headers: Vec::new(),
    };
    loop {
        line.clear();
        r.read_line(&mut line).map_err(io)?;
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((k, v)) = l.split_once(':') {
            let (k, v) = (k.trim().to_ascii_lowercase(), v.trim());
            head.headers.push((k.clone(), v.to_string()));
            if k == "transfer-encoding" && v.eq_ignore_ascii_case("chunked") {
                head.chunked = true;
            } else if k == "content-length" {
                head.length = v.parse().ok();
            }
        }
    }
    Ok(head)
}

/// Splits a multiplexed stream into stdout and stderr as it arrives.
pub fn demux(mut r: impl Read, out: &mut impl Write, err: &mut impl Write) -> std::io::Result<()> {
    let mut head = [0u8; 8];
    loop {
        if let Err(e) = r.read_exact(&mut head) {
            return if e.kind() == std::io::ErrorKind::UnexpectedEof {
                Ok(())
            } else {
                Err(e)
            };
        }
        let n = u32::from_be_bytes([head[4], head[5], head[6], head[7]]) as usize;
        let mut buf = vec![0u8; n];
        r.read_exact(&mut buf)?;
        if head[0] == 2 {
            err.write_all(&buf)?;
            err.flush()?;
        } else {
            out.write_all(&buf)?;
            out.flush()?;
        }
    }
}

/// `%`-encodes a query value.
pub fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// A connection to the daemon that can be split and half-closed.
pub enum Conn {
    /// `unix://`.
    Unix(std::os::unix::net::UnixStream),
    /// `tcp://`.
    Tcp(std::net::TcpStream),
    /// `tcp://` with `--tlsverify`.
    Tls(super::tls::TlsStream),
}

impl Conn {
    /// A second handle on the same connection.
    pub fn try_clone(&self) -> std::io::Result<Conn> {
        Ok(match self {
            Conn::Unix(s) => Conn::Unix(s.try_clone()?),
            Conn::Tcp(s) => Conn::Tcp(s.try_clone()?),
            Conn::Tls(s) => Conn::Tls(s.clone()),
        })
    }

    /// Closes our sending side: the daemon reads EOF, the output keeps coming.
    pub fn close_write(&self) {
        let _ = match self {
            Conn::Unix(s) => s.shutdown(std::net::Shutdown::Write),
            Conn::Tcp(s) => s.shutdown(std::net::Shutdown::Write),
            Conn::Tls(s) => {
                s.close_write();
                Ok(())
            }
        };
    }
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Conn::Unix(s) => s.read(buf),
            Conn::Tcp(s) => s.read(buf),
            Conn::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Conn {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Conn::Unix(s) => s.write(buf),
            Conn::Tcp(s) => s.write(buf),
            Conn::Tls(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A hijacked connection: after `101 Switching Protocols`, a raw byte
/// stream both ways (attach, exec).
pub struct Hijacked {
    /// The container's output (raw with a terminal, framed without).
    pub output: BufReader<Conn>,
    /// Its input.
    pub input: Conn,
}

impl Client {
    /// Sends a request asking to upgrade the connection (`Upgrade: tcp`), as
    /// the docker CLI does for attach and exec.
    pub fn hijack(
        &self,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> Result<Hijacked, ClientError> {
        let io = |e: std::io::Error| ClientError::Io(e.to_string());
        let conn = self.open()?;
        let body = body.map(|b| serde_json::to_vec(&b).unwrap_or_default());
        let mut head = format!(
            "POST /v1.41{path} HTTP/1.1\r\nHost: docker\r\nUser-Agent: mini-docker\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n"
        );
        if let Some(b) = &body {
            head.push_str(&format!(
                "Content-Type: application/json\r\nContent-Length: {}\r\n",
                b.len()
            ));
        }
        head.push_str("\r\n");
        let mut input = conn.try_clone().map_err(io)?;
        input.write_all(head.as_bytes()).map_err(io)?;
        if let Some(b) = &body {
            input.write_all(b).map_err(io)?;
        }
        let mut output = BufReader::new(conn);
        let head = read_head(&mut output)?;
        if head.status >= 400 {
            let status = head.status;
            let mut v = Vec::new();
            let _ = (&mut output)
                .take(head.length.unwrap_or(0))
                .read_to_end(&mut v);
            let message = serde_json::from_slice::<serde_json::Value>(&v)
                .ok()
                .and_then(|v| v["message"].as_str().map(String::from))
                .unwrap_or_else(|| "unknown error".into());
            return Err(ClientError::Api { status, message });
        }
        Ok(Hijacked { output, input })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_connection_closed_before_the_status_line_says_so() {
        let e = read_head(&mut std::io::Cursor::new(Vec::<u8>::new()))
            .err()
            .expect("an error");
        assert_eq!(
            e.to_string(),
            "the daemon closed the connection: is it running? see its log"
        );
        let e = read_head(&mut std::io::Cursor::new(b"garbage\r\n".to_vec()))
            .err()
            .expect("an error");
        assert_eq!(
            e.to_string(),
            "bad answer from the daemon: \"garbage\\r\\n\""
        );
    }
}
