//! Per-blob progress bars, as `docker pull` draws them.
//!
//! ```text
//! 4b2c9f1a8e7d: Downloading [=========>          ]  1.2MiB/2.5MiB
//! 0f6e3b2a1c9d: Already exists
//! ```
//!
//! The same progress can also be observed as [`Event`]s (a daemon turns
//! them into the Engine API's JSON progress messages for its clients).

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// A change of one blob's progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// The blob's short digest.
    pub id: String,
    /// `Waiting`, `Downloading`, `Verifying`, `Pull complete`, `Pushing`, …
    pub status: String,
    /// Bytes done.
    pub current: u64,
    /// Bytes in all (0: not a transfer, a status line only).
    pub total: u64,
}

/// Receives [`Event`]s.
pub type Sink = Arc<dyn Fn(Event) + Send + Sync>;

/// A set of bars, one per blob; hidden when progress is off.
#[derive(Clone)]
pub struct Progress {
    multi: MultiProgress,
    visible: bool,
    sink: Option<Sink>,
}

/// One blob's bar.
#[derive(Clone)]
pub struct Bar {
    pb: ProgressBar,
    sink: Option<Sink>,
    /// Position at the last event sent (events are thinned to ~1% steps).
    sent: Arc<AtomicU64>,
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
            sink: None,
        }
    }

    /// No bars drawn; every change goes to `sink` instead.
    pub fn events(sink: Sink) -> Progress {
        Progress {
            sink: Some(sink),
            ..Progress::new(false)
        }
    }

    /// A bar for a blob of `size` bytes labelled with its short digest.
    pub fn bar(&self, id: &str, size: u64, verb: &str) -> Bar {
        let style = ProgressStyle::with_template(
            "{prefix}: {msg:<12} [{bar:30.cyan/blue}] {bytes:>9}/{total_bytes:<9}",
        )
        .expect("a valid template")
        .progress_chars("=> ");
        let pb = self.multi.add(ProgressBar::new(size));
        pb.set_style(style);
        pb.set_prefix(id.to_string());
        let bar = Bar {
            pb,
            sink: self.sink.clone(),
            sent: Arc::new(AtomicU64::new(0)),
        };
        bar.set_message(verb);
        bar
    }

    /// A bar that is only a status line (`Already exists`).
    pub fn line(&self, id: &str, msg: &str) -> Bar {
        let pb = self.multi.add(ProgressBar::new(0));
        pb.set_style(ProgressStyle::with_template("{prefix}: {msg}").expect("a valid template"));
        pb.set_prefix(id.to_string());
        pb.finish_with_message(msg.to_string());
        self.plain(&format!("{id}: {msg}"));
        let bar = Bar {
            pb,
            sink: self.sink.clone(),
            sent: Arc::new(AtomicU64::new(0)),
        };
        bar.emit(msg, true);
        bar
    }

    /// Finish a bar with a status line in place of the bar.
    pub fn done(&self, bar: &Bar, msg: &str) {
        bar.pb
            .set_style(ProgressStyle::with_template("{prefix}: {msg}").expect("a valid template"));
        bar.pb.finish_with_message(msg.to_string());
        self.plain(&format!("{}: {msg}", bar.pb.prefix()));
        bar.emit(msg, true);
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

impl Bar {
    fn emit(&self, status: &str, status_only: bool) {
        if let Some(sink) = &self.sink {
            let current = self.pb.position();
            self.sent.store(current, Ordering::Relaxed);
            sink(Event {
                id: self.pb.prefix(),
                status: status.to_string(),
                current,
                total: if status_only {
                    0
                } else {
                    self.pb.length().unwrap_or(0)
                },
            });
        }
    }

    /// The verb shown before the bar.
    pub fn set_message(&self, verb: &str) {
        self.pb.set_message(verb.to_string());
        self.emit(verb, false);
    }

    /// `n` more bytes moved.
    pub fn inc(&self, n: u64) {
        self.pb.inc(n);
        self.maybe_emit();
    }

    /// Restart from `pos` bytes (a retried upload).
    pub fn set_position(&self, pos: u64) {
        self.pb.set_position(pos);
        self.maybe_emit();
    }

    /// Sends an event when the bar moved by at least 1% (or reached the end).
    fn maybe_emit(&self) {
        if self.sink.is_none() {
            return;
        }
        let (pos, len) = (self.pb.position(), self.pb.length().unwrap_or(0));
        let last = self.sent.load(Ordering::Relaxed);
        if pos == len || pos < last || pos - last >= (len / 100).max(64 * 1024) {
            self.emit(&self.pb.message(), false);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[test]
    fn events_follow_the_bar_in_about_one_percent_steps() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s2 = seen.clone();
        let p = Progress::events(Arc::new(move |e| s2.lock().unwrap().push(e)));
        let bar = p.bar("abc", 10 << 20, "Waiting");
        bar.set_message("Downloading");
        for _ in 0..1024 {
            bar.inc(10 << 10);
        }
        p.done(&bar, "Pull complete");
        let seen = seen.lock().unwrap();
        assert_eq!(seen[0].status, "Waiting");
        assert_eq!(seen[1].status, "Downloading");
        let moves = seen.iter().filter(|e| e.status == "Downloading").count();
        assert!(
            (50..=110).contains(&moves),
            "{moves} events for 1024 increments"
        );
        let last = seen.last().unwrap();
        assert_eq!((last.status.as_str(), last.total), ("Pull complete", 0));
        assert!(seen
            .iter()
            .any(|e| e.current == 10 << 20 && e.total == 10 << 20));
    }
}
