//! `chapter02 namespace`: /proc/self/cgroup seen from inside a container,
//! without and with a cgroup namespace (man 7 cgroup_namespaces).
//!
//! The init joins the group first and unshares after, so with
//! `CLONE_NEWCGROUP` the group becomes the namespace's root and reads as `/`.

use std::io::Read;
use std::process::Stdio;

use anyhow::Result;
use chapter02::Resources;

use super::{heading, Lab};

pub fn run(lab: &Lab) -> Result<()> {
    heading("namespace: /proc/self/cgroup from inside");
    let group = lab.group("cgroupns", &Resources::default(), "")?;
    for cgroupns in [false, true] {
        println!(
            "\n-- {} --",
            if cgroupns {
                "with a cgroup namespace (Docker's default on v2)"
            } else {
                "without a cgroup namespace"
            }
        );
        let mut child = lab.spawn(
            &group,
            "cat /proc/self/cgroup",
            Stdio::piped(),
            Stdio::inherit(),
            cgroupns,
        )?;
        let mut out = String::new();
        if let Some(mut stdout) = child.stdout.take() {
            stdout.read_to_string(&mut out)?;
        }
        child.wait()?;
        for line in out.lines() {
            println!("    {line}");
        }
    }
    println!();
    lab.delete(group)
}
