//! Per-blob progress bars, as `docker pull` draws them.
//!
//! ```text
//! 4b2c9f1a8e7d: Downloading [=========>          ]  1.2MiB/2.5MiB
//! 0f6e3b2a1c9d: Already exists
//! ```

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A set of bars, one per blob; hidden when progress is off.
#[derive(Clone)]
pub struct Progress {
    multi: MultiProgress,
    visible: bool,
}

impl Progress {
    /// Bars on stderr, or none.
    pub fn new(visible: bool) -> Progress {
        let target = if visible {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        Progress {
            multi: MultiProgress::with_draw_target(target),
            visible,
        }
    }

    /// A bar for a blob of `size` bytes labelled with its short digest.
    pub fn bar(&self, id: &str, size: u64, verb: &str) -> ProgressBar {
        let style = ProgressStyle::with_template(
            "{prefix}: {msg:<12} [{bar:30.cyan/blue}] {bytes:>9}/{total_bytes:<9}",
        )
        .expect("a valid template")
        .progress_chars("=> ");
        let pb = self.multi.add(ProgressBar::new(size));
        pb.set_style(style);
        pb.set_prefix(id.to_string());
        pb.set_message(verb.to_string());
        pb
    }

    /// A bar that is only a status line (`Already exists`).
    pub fn line(&self, id: &str, msg: &str) -> ProgressBar {
        let pb = self.multi.add(ProgressBar::new(0));
        pb.set_style(ProgressStyle::with_template("{prefix}: {msg}").expect("a valid template"));
        pb.set_prefix(id.to_string());
        pb.finish_with_message(msg.to_string());
        self.plain(&format!("{id}: {msg}"));
        pb
    }

    /// Finish a bar with a status line in place of the bar.
    pub fn done(&self, pb: &ProgressBar, msg: &str) {
        pb.set_style(ProgressStyle::with_template("{prefix}: {msg}").expect("a valid template"));
        pb.finish_with_message(msg.to_string());
        self.plain(&format!("{}: {msg}", pb.prefix()));
    }

    /// When bars are wanted but stderr is not a terminal (a pipe, CI),
    /// status lines are printed plainly instead.
    fn plain(&self, s: &str) {
        if self.visible && self.multi.is_hidden() {
            eprintln!("{s}");
        }
    }

    /// Print a line above the bars (or plainly without a terminal).
    pub fn println(&self, s: &str) {
        if !self.visible {
            return;
        }
        if self.multi.is_hidden() {
            println!("{s}");
        } else {
            let _ = self.multi.println(s);
        }
    }
}
