//! `mini-docker system dial-stdio`: joins stdin and stdout to the daemon's
//! socket, byte for byte, as `docker system dial-stdio` does.
//!
//! It is the far end of `-H ssh://user@host`: the client runs
//! `ssh user@host mini-docker system dial-stdio` and speaks HTTP into the
//! ssh channel; here the bytes go to the local daemon (`-H`, `DOCKER_HOST`,
//! or the default socket) and its answers come back. One thread copies
//! stdin to the daemon and half-closes the connection at EOF (the daemon's
//! answer, or a hijacked stream's output, keeps coming); the main thread
//! copies the daemon to stdout until the daemon closes.

use super::http::Client;
use super::Failure;
use std::io::{Read, Write};

/// Copies `from` into `to`, flushing each piece (stdout is line-buffered,
/// and a prompt may have no newline).
fn pump(mut from: impl Read, mut to: impl Write) -> std::io::Result<()> {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        to.write_all(&buf[..n])?;
        to.flush()?;
    }
}

/// Runs until the daemon closes the connection.
pub fn dial_stdio(c: &Client) -> Result<u8, Failure> {
    let conn = c.dial()?;
    let mut to_daemon = conn.try_clone()?;
    std::thread::spawn(move || {
        let _ = pump(std::io::stdin().lock(), &mut to_daemon);
        to_daemon.close_write();
    });
    pump(conn, std::io::stdout().lock())?;
    Ok(0)
}
