//! `chapter05 proxy`: the userland proxy as a process of its own.

use chapter05::proxy::{block_stop_signals, run_until_terminated, Bound, ProxyArgs};

/// Bind, print the address, proxy until SIGINT or SIGTERM.
pub fn run(a: ProxyArgs) -> anyhow::Result<()> {
    // Before the "proxying" line: whoever reads it may send SIGTERM at once.
    block_stop_signals()?;
    let bound = Bound::bind(a.spec())?;
    let spec = bound.spec();
    println!(
        "proxying {}:{}/{} -> {}:{}",
        spec.host_ip, spec.host_port, spec.proto, spec.container_ip, spec.container_port
    );
    run_until_terminated(bound)?;
    Ok(())
}
