//! Running a command and reading what it printed.

use std::process::{Command, Output, Stdio};

/// Runs `cmd` with stdin from /dev/null; its output goes through files,
/// not pipes: a container (or a created one, whose stdio the runtime
/// hands over) may keep the pipes open, and waiting for EOF on a pipe
/// would wait for the container.
pub fn capture(cmd: &mut Command) -> Output {
    try_capture(cmd).unwrap_or_else(|e| panic!("running {cmd:?}: {e}"))
}

/// [`capture`] that never panics, for a `Drop` (a panic there, while a
/// test is already panicking, aborts the process and orphans what the
/// drop was about to clean up).
pub fn try_capture(cmd: &mut Command) -> std::io::Result<Output> {
    let out = tempfile::tempfile()?;
    let err = tempfile::tempfile()?;
    let status = cmd
        .stdin(Stdio::null())
        .stdout(out.try_clone()?)
        .stderr(err.try_clone()?)
        .status()?;
    let read = |mut f: std::fs::File| -> std::io::Result<Vec<u8>> {
        use std::io::{Read, Seek};
        let mut v = Vec::new();
        f.seek(std::io::SeekFrom::Start(0))?;
        f.read_to_end(&mut v)?;
        Ok(v)
    };
    Ok(Output {
        status,
        stdout: read(out)?,
        stderr: read(err)?,
    })
}

/// Runs `bin pre… args…` with `env`; output through files (see [`capture`]).
pub fn run_with_host(
    bin: &str,
    pre: &[(&str, &str)],
    args: &[&str],
    env: &[(&str, &str)],
) -> Output {
    let mut cmd = Command::new(bin);
    for (k, v) in pre {
        cmd.arg(k).arg(v);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    capture(cmd.args(args))
}

/// Runs `bin args` with these environment variables, `stdin` written to it.
pub fn run_with_stdin(bin: &str, args: &[&str], env: &[(&str, &str)], stdin: &[u8]) -> Output {
    use std::io::Write;
    let mut child = Command::new(bin)
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // From a thread: a big input must not wait for us to read the output.
    let mut input = child.stdin.take().unwrap();
    let stdin = stdin.to_vec();
    let writer = std::thread::spawn(move || input.write_all(&stdin));
    let out = child.wait_with_output().unwrap();
    let _ = writer.join();
    out
}

/// What a command printed on stdout, as text.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// What a command printed on stderr, as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}
