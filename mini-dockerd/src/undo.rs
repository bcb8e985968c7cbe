//! # Undo steps: a start or create that fails releases what it made
//!
//! A container's start is a sequence of steps, each making something the
//! kernel or the disk keeps (a mount, a network namespace and its veth, a
//! published port, a shim). Each step that made something pushes the step
//! that unmakes it onto an [`Undo`] stack. If a later step fails, the stack
//! is dropped and runs its steps newest first, so nothing made before the
//! failure is left; when every step succeeded, [`Undo::commit`] empties it
//! and the things made now belong to the container (its exit and `rm`
//! release them).
//!
//! ```text
//! mount rootfs      push: unmount rootfs
//! attach network    push: detach network
//! connect networks  push: disconnect networks
//! spawn shim        push: kill the container
//! record running    commit
//! ```

/// One undo step: what it undoes (for the log), and how.
type Step<'a> = (&'static str, Box<dyn FnOnce() + 'a>);

/// A stack of undo steps, run newest first when dropped uncommitted.
#[derive(Default)]
pub struct Undo<'a> {
    steps: Vec<Step<'a>>,
}

impl<'a> Undo<'a> {
    /// Pushes the step that undoes what was just made (`what` names it in
    /// the daemon's log).
    pub fn push(&mut self, what: &'static str, step: impl FnOnce() + 'a) {
        self.steps.push((what, Box::new(step)));
    }

    /// Every step succeeded: keep what they made.
    pub fn commit(mut self) {
        self.steps.clear();
    }
}

impl Drop for Undo<'_> {
    fn drop(&mut self) {
        while let Some((what, step)) = self.steps.pop() {
            tracing::debug!(what, "undoing");
            step();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    #[test]
    fn undone_newest_first_unless_committed() {
        let log = RefCell::new(Vec::new());
        {
            let mut u = Undo::default();
            u.push("a", || log.borrow_mut().push("a"));
            u.push("b", || log.borrow_mut().push("b"));
        }
        assert_eq!(*log.borrow(), ["b", "a"]);
        let mut u = Undo::default();
        u.push("c", || log.borrow_mut().push("c"));
        u.commit();
        assert_eq!(*log.borrow(), ["b", "a"]);
    }
}
