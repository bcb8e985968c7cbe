//! Exercise 3, a reference answer.

use std::path::{Component, Path, PathBuf};

/// Where the tar entry `name` goes below `root`; `..` is refused.
pub fn destination(root: &Path, name: &Path) -> Result<PathBuf, String> {
    let mut dest = root.to_path_buf();
    for c in name.components() {
        match c {
            Component::Normal(part) => dest.push(part),
            Component::RootDir | Component::CurDir => {}
            Component::ParentDir | Component::Prefix(_) => {
                return Err(format!(
                    "{}: a `..` component would leave the root",
                    name.display()
                ))
            }
        }
    }
    if dest == root {
        return Err(format!("{:?} names the root itself", name.display()));
    }
    Ok(dest)
}
