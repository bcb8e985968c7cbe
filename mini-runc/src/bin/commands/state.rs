use mini_runc::container;
use std::path::Path;

pub fn run(root: &Path, id: &str) -> anyhow::Result<u8> {
    let s = container::load(root, id)?;
    println!("{}", serde_json::to_string_pretty(&s.to_oci_json())?);
    Ok(0)
}
