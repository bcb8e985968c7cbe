//! Plan, then apply: every change this library makes to a cgroup tree is
//! first computed as a list of [`Step`]s. Each step prints as the shell
//! command that does the same thing, so the tour can show them, unit tests can
//! snapshot them without root, and [`apply`] executes exactly them.
//!
//! A cgroup filesystem has no special syscalls: `mkdir` creates a group,
//! `write` sets a limit or moves a process, `rmdir` deletes an empty group.

use std::fmt;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Writing `value` into the cgroup file `path`: `echo value > path`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Write {
    /// The cgroup file.
    pub path: PathBuf,
    /// What is written (without a newline).
    pub value: String,
}

impl Write {
    /// A write of `value` into `dir/file`.
    pub fn new(dir: &Path, file: &str, value: impl Into<String>) -> Write {
        Write {
            path: dir.join(file),
            value: value.into(),
        }
    }

    /// Performs the write: one `write(2)` of the whole value, as `echo` does.
    ///
    /// The file is opened with `O_CREAT` only so that the same code runs on a
    /// fixture tree in a temp dir; on a real cgroup filesystem the kernel made
    /// every file at `mkdir` time and an `O_CREAT` open just opens it.
    pub fn apply(&self) -> Result<()> {
        let err = |source| Error::Write {
            path: self.path.clone(),
            value: self.value.clone(),
            source,
        };
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&self.path)
            .map_err(err)?;
        file.write_all(self.value.as_bytes()).map_err(err)
    }
}

impl fmt::Display for Write {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "echo {} > {}",
            shell_word(&self.value),
            self.path.display()
        )
    }
}

/// One step of a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Create a cgroup directory: the kernel fills it with the control files
    /// of the controllers that are active in it.
    Mkdir(PathBuf),
    /// Write a value into a control file.
    Write(Write),
    /// A comment explaining a decision (printed as `# ...`, does nothing).
    Note(String),
}

impl Step {
    /// Executes the step.
    pub fn apply(&self) -> Result<()> {
        match self {
            Step::Mkdir(path) => match fs::create_dir(path) {
                Ok(()) => Ok(()),
                Err(source) => Err(Error::Mkdir {
                    path: path.clone(),
                    source,
                }),
            },
            Step::Write(write) => write.apply(),
            Step::Note(_) => Ok(()),
        }
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::Mkdir(path) => write!(f, "mkdir {}", path.display()),
            Step::Write(write) => write.fmt(f),
            Step::Note(note) => write!(f, "# {note}"),
        }
    }
}

impl From<Write> for Step {
    fn from(write: Write) -> Step {
        Step::Write(write)
    }
}

/// Executes steps in order, calling `narrate` with each one first.
pub fn apply(steps: &[Step], mut narrate: impl FnMut(&Step)) -> Result<()> {
    for step in steps {
        narrate(step);
        step.apply()?;
    }
    Ok(())
}

/// Renders a plan one command per line.
pub fn render(steps: &[Step]) -> String {
    steps.iter().map(|s| format!("{s}\n")).collect()
}

fn shell_word(value: &str) -> String {
    let plain = !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-_.,:/=".contains(c));
    if plain {
        value.to_string()
    } else {
        format!("'{}'", value.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_print_as_echo_with_quoting_when_needed() {
        let w = Write::new(Path::new("/cg/x"), "cpu.max", "50000 100000");
        assert_eq!(w.to_string(), "echo '50000 100000' > /cg/x/cpu.max");
        let w = Write::new(Path::new("/cg/x"), "cgroup.subtree_control", "+memory");
        assert_eq!(w.to_string(), "echo +memory > /cg/x/cgroup.subtree_control");
    }
}
