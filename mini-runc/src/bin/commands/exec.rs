use anyhow::{bail, Context};
use mini_runc::{config, container};
use std::path::{Path, PathBuf};

pub struct Opts {
    pub process: Option<PathBuf>,
    pub tty: bool,
    pub console_socket: Option<PathBuf>,
    pub cwd: Option<PathBuf>,
    pub env: Vec<String>,
    pub user: Option<String>,
    pub cap: Vec<String>,
    pub no_new_privs: bool,
    pub detach: bool,
    pub pid_file: Option<PathBuf>,
    pub preserve_fds: u32,
    pub command: Vec<String>,
}

/// `exec`: the process comes from --process, or from the container's own
/// spec with the arguments and flags given here, as runc does.
pub fn run(root: &Path, id: &str, o: Opts) -> anyhow::Result<u8> {
    let state = container::load(root, id)?;
    let mut process = match &o.process {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("read {}", path.display()))?;
            let p: oci_spec::runtime::Process = serde_json::from_str(&text)
                .with_context(|| format!("{} is not an OCI process", path.display()))?;
            config::process_config(&p)?
        }
        None => {
            if o.command.is_empty() {
                bail!("give a command to run, or --process FILE");
            }
            let mut p = container::spec_process(&state)?;
            p.args = o.command.clone();
            p.terminal = o.tty;
            p
        }
    };
    let base = container::spec_process(&state).ok();
    if process.seccomp.is_none() {
        process.seccomp = base.as_ref().and_then(|b| b.seccomp.clone());
    }
    if let Some(cwd) = &o.cwd {
        process.cwd = cwd.clone();
    }
    process.env.extend(o.env.iter().cloned());
    if let Some(u) = &o.user {
        let (uid, gid) = u.split_once(':').unwrap_or((u.as_str(), "0"));
        process.uid = uid.parse().context("--user uid")?;
        process.gid = gid.parse().context("--user gid")?;
    }
    for c in &o.cap {
        for set in [
            &mut process.caps.bounding,
            &mut process.caps.effective,
            &mut process.caps.permitted,
        ] {
            if !set.contains(c) {
                set.push(c.clone());
            }
        }
    }
    if o.no_new_privs {
        process.no_new_privileges = true;
    }
    if o.process.is_some() && o.tty {
        process.terminal = true;
    }
    let code = container::exec(
        root,
        id,
        &container::ExecArgs {
            process,
            console_socket: o.console_socket,
            pid_file: o.pid_file,
            detach: o.detach,
            preserve_fds: o.preserve_fds,
            stdio: None,
        },
    )?;
    Ok(code.clamp(0, 255) as u8)
}
