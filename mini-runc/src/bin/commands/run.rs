use mini_runc::container;
use std::path::Path;

/// create + start, then (unless detached) wait and delete, like `runc run`.
pub fn run(
    root: &Path,
    id: &str,
    opts: &crate::cli::CreateOpts,
    detach: bool,
    keep: bool,
) -> anyhow::Result<u8> {
    let state = container::create(root, id, &super::create_args(opts))?;
    if let Err(e) = container::start(root, id) {
        let _ = container::delete(root, id, true);
        return Err(e.into());
    }
    if detach {
        return Ok(0);
    }
    // We are a subreaper: the container's init is our child now.
    let waited = std::time::Instant::now();
    let code = container::wait_exit(state.pid);
    if std::env::args().any(|a| a == "--debug") {
        eprintln!(
            "mini-runc: {:>7.2} ms  the program ran",
            waited.elapsed().as_secs_f64() * 1000.0
        );
    }
    if !keep {
        container::delete(root, id, true)?;
    }
    Ok(code.clamp(0, 255) as u8)
}
