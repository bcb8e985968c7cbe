//! What every demo shares: the host's layout, a busybox rootfs, making a
//! group with narration, and running a workload inside it with chapter 01.

use std::cell::{Cell, OnceCell};
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
///
/// Every demo makes, joins and deletes a group the same way; the tour prints
/// each of those steps in full once (`shown_*`), then only what differs:
/// the limits and the verdict.
pub struct Lab {
    pub layout: Layout,
    rootfs: OnceCell<(tempfile::TempDir, PathBuf)>,
    shown_create: Cell<bool>,
    shown_join: Cell<bool>,
    shown_delete: Cell<bool>,
}

impl Lab {
    pub fn new() -> Result<Lab> {
        let layout =
            Layout::detect().context("detect the cgroup layout from /proc/self/mountinfo")?;
        Ok(Lab {
            layout,
            rootfs: OnceCell::new(),
            shown_create: Cell::new(false),
            shown_join: Cell::new(false),
            shown_delete: Cell::new(false),
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

    /// The plan demo printed the mkdirs and the joins of a group: later
    /// demos refer to it instead of repeating them.
    pub fn mark_setup_shown(&self) {
        self.shown_create.set(true);
        self.shown_join.set(true);
    }

    /// Creates a group for `purpose` and applies `resources`, printing each
    /// limit written (and, the first time, each step of the creation).
    pub fn group(&self, purpose: &str, resources: &Resources, docker: &str) -> Result<Cgroup> {
        let name = chapter02::unique_name(purpose);
        let first = !self.shown_create.replace(true);
        if first {
            println!("Create the group {name} ({}):", self.layout.kind);
        }
        let mut group = Cgroup::create_narrated(&self.layout, &name, first)
            .with_context(|| format!("create cgroup {name}"))?;
        if !first {
            println!(
                "Create the group {name}: the same mkdir as above in each of its {} trees",
                group.dirs().len()
            );
        }
        if resources != &Resources::default() {
            println!("Set the limits (Docker: {docker}):");
            group.set_narrate(true);
            group.set(resources).context("set the limits")?;
        }
        group.set_narrate(false);
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
        if !self.shown_join.replace(true) {
            println!("Run in a container (chapter 01), its init joining the group first:");
            for file in &cfg.cgroup_procs {
                println!("    $ echo <init pid> > {}", file.display());
            }
        } else {
            println!(
                "Run in a container (chapter 01), its init joining the group first (echo <init pid> > cgroup.procs, in each of the {} directories):",
                cfg.cgroup_procs.len()
            );
        }
        println!("    $ sh -c '{script}'");
        chapter01::spawn(cfg).context("start the container (chapter 01)")
    }

    /// Deletes the group, printing the steps (in full the first time).
    pub fn delete(&self, mut group: Cgroup) -> Result<()> {
        if !self.shown_delete.replace(true) {
            println!("Delete the group (kill what is left, then rmdir):");
            group.set_narrate(true);
        } else {
            println!(
                "Delete the group (kill what is left, then rmdir each of its {} directories)",
                group.dirs().len()
            );
        }
        group.delete().context("delete the group")?;
        println!();
        Ok(())
    }
}

/// Bytes as MiB with one decimal.
pub fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1 << 20) as f64)
}

/// A heading for one demo.
pub fn heading(title: &str) {
    println!("== {title} ==");
}
