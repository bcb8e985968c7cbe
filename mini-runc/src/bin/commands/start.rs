use mini_runc::container;
use std::path::Path;

pub fn run(root: &Path, id: &str) -> anyhow::Result<u8> {
    container::start(root, id)?;
    Ok(0)
}
