//! What every demo shares: the host's layout, a busybox rootfs, making a
//! group with narration, and running a workload inside it with chapter 01.

use std::cell::OnceCell;
use std::path::PathBuf;
use std::process::Stdio;

use anyhow::{Context, Result};
use chapter02::{Cgroup, Layout, Resources};

pub mod cpu;
pub mod freeze;
pub mod memory;
pub mod namespace;
pub mod pids;
pub mod plan;

/// The host's layout and a lazily built busybox root filesystem.
pub struct Lab {
    pub layout: Layout,
    rootfs: OnceCell<(tempfile::TempDir, PathBuf)>,
}

impl Lab {
    pub fn new() -> Result<Lab> {
        let layout =
            Layout::detect().context("detect the cgroup layout from /proc/self/mountinfo")?;
        Ok(Lab {
            layout,
            rootfs: OnceCell::new(),
        })
    }

    pub fn rootfs(&self) -> Result<PathBuf> {
        if let Some((_, path)) = self.rootfs.get() {
            return Ok(path.clone());
        }
        let dir = tempfile::Builder::new()
            .prefix("chapter02-rootfs-")
            .tempdir()
            .context("make a temp dir for the busybox rootfs")?;
        let rootfs = chapter01::rootfs::build_busybox_rootfs(&dir.path().join("rootfs"))
            .context("build the busybox rootfs (chapter 01)")?;
        let path = rootfs.path.clone();
        let _ = self.rootfs.set((dir, path.clone()));
        Ok(path)
    }

    /// Creates a group for `purpose` and applies `resources`, printing each step.
    pub fn group(&self, purpose: &str, resources: &Resources, docker: &str) -> Result<Cgroup> {
        let name = chapter02::unique_name(purpose);
        println!("Create the group {name} ({}):", self.layout.kind);
        let group = Cgroup::create_narrated(&self.layout, &name, true)
            .with_context(|| format!("create cgroup {name}"))?;
        if resources != &Resources::default() {
            println!("Set the limits (Docker: {docker}):");
            group.set(resources).context("set the limits")?;
        }
        Ok(group)
    }

    /// Runs `sh -c script` in new namespaces inside `group`: chapter 01's
    /// init writes its own pid into every `cgroup.procs` of the group before
    /// it unshares anything, so everything it starts is inside.
    pub fn spawn(
        &self,
        group: &Cgroup,
        script: &str,
        stdout: Stdio,
        stderr: Stdio,
        cgroupns: bool,
    ) -> Result<chapter01::Child> {
        let mut cfg = chapter01::Config::new(vec!["/bin/sh".into(), "-c".into(), script.into()]);
        cfg.namespaces = chapter01::Namespace::all_but_user();
        if !cgroupns {
            cfg.namespaces
                .retain(|ns| *ns != chapter01::Namespace::Cgroup);
        }
        cfg.hostname = Some("ch02-demo".into());
        cfg.rootfs = Some(self.rootfs()?);
        cfg.cgroup_procs = group.procs_files();
        cfg.env = vec!["PATH=/bin:/sbin:/usr/bin:/usr/sbin".into()];
        cfg.stdout = stdout;
        cfg.stderr = stderr;
        println!("Run in a container (chapter 01), its init joining the group first:");
        for file in &cfg.cgroup_procs {
            println!("    $ echo <init pid> > {}", file.display());
        }
        println!("    $ sh -c '{script}'");
        chapter01::spawn(cfg).context("start the container (chapter 01)")
    }
}

/// Deletes the group, printing the steps.
pub fn delete(mut group: Cgroup) -> Result<()> {
    println!("Delete the group (kill what is left, then rmdir):");
    group.set_narrate(true);
    group.delete().context("delete the group")?;
    println!();
    Ok(())
}

/// Bytes as MiB with one decimal.
pub fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1 << 20) as f64)
}

/// A heading for one demo.
pub fn heading(title: &str) {
    println!("== {title} ==");
}
