use mini_runc::container;
use std::path::Path;

pub fn run(root: &Path, id: &str, pause: bool) -> anyhow::Result<u8> {
    container::pause(root, id, pause)?;
    Ok(0)
}
