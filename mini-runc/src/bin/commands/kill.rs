use mini_runc::container;
use std::path::Path;

pub fn run(root: &Path, id: &str, signal: &str, all: bool) -> anyhow::Result<u8> {
    container::kill(root, id, container::parse_signal(signal)?, all)?;
    Ok(0)
}
