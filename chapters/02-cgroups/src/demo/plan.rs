//! `chapter02 plan`: the layout of this host and every write a group would
//! make, computed from /proc and the cgroup trees without changing anything.

use anyhow::Result;
use chapter02::plan::render;
use chapter02::{Cgroup, Cpus, Resources, Swap};

use super::{heading, Lab};

pub fn run(lab: &Lab) -> Result<()> {
    heading("plan: what this host looks like, and what a group would write");
    print!("{}", lab.layout.describe());
    let name = chapter02::unique_name("plan");
    let plan = Cgroup::plan_create(&lab.layout, &name)?;
    println!("\nCreating {name} would run:");
    for line in render(&plan.steps()).lines() {
        println!("    $ {line}");
    }
    let resources = Resources {
        memory_max: Some(50 << 20),
        memory_swap: Some(Swap::Total(50 << 20)),
        cpus: Some(Cpus::new(0.5)),
        pids_max: Some(20),
        ..Default::default()
    };
    let group = plan.preview();
    println!("\n`docker run --memory 50m --memory-swap 50m --cpus 0.5 --pids-limit 20` would then write:");
    for write in group.plan_set(&resources)? {
        println!("    $ {write}");
    }
    println!("and the container's init would join with:");
    for write in group.plan_add_pid(4242) {
        println!("    $ {}", write.to_string().replace("4242", "<pid>"));
    }
    let (freeze, confirm, wanted) = group.plan_freeze(true)?;
    println!(
        "`docker pause` would be:\n    $ {freeze}    # until {} reads {wanted:?}",
        confirm.display()
    );
    println!();
    lab.mark_setup_shown();
    Ok(())
}
