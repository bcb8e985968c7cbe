use mini_runc::container;
use std::path::Path;

pub fn run(root: &Path, id: &str, opts: &crate::cli::CreateOpts) -> anyhow::Result<u8> {
    container::create(root, id, &super::create_args(opts))?;
    Ok(0)
}
