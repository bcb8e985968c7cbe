use mini_runc::container;
use std::path::Path;

pub fn run(root: &Path, id: &str, force: bool) -> anyhow::Result<u8> {
    container::delete(root, id, force)?;
    Ok(0)
}
