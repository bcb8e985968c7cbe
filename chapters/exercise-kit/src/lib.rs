//! # The exercise kit
//!
//! Every chapter has a package of exercises (`chapters/0N-*/exercises/`).
//! Each exercise is one function whose body the learner writes in
//! `src/exN.rs`; the chapter's checker calls it, observes what the kernel or
//! the files really did, and prints one line per fact:
//!
//! ```text
//! chapter 03, exercise 2: a whiteout hides a lower file
//!   PASS  merged/motd is gone (saw: stat: No such file or directory)
//!   FAIL  lower/motd is untouched (saw: lower/motd is missing)
//!         hint: write the whiteout into upper, never into lower
//! ```
//!
//! This crate is what the checkers share: [`attempt`] runs a function and
//! turns its `todo!()` (or any panic) into a failed check instead of a
//! crash, [`Report`] prints the lines and counts the failures, and [`main`]
//! reads the command line (`[--solutions] [N]`) and runs the exercises in
//! order. A check runs the learner's code ([`Variant::Learner`]) or the
//! reference answers in the package's `solutions/` folder
//! ([`Variant::Solution`]); the package's tests run both, so CI proves
//! that every checker can fail.

use std::fmt::Display;

/// `println!` that ignores a closed stdout: `scripts/check.sh 03 | head`
/// ends the report early instead of panicking with "Broken pipe".
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}
use std::panic::{self, AssertUnwindSafe};
use std::process::ExitCode;

/// Whose code a check runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    /// The learner's `src/exN.rs`.
    Learner,
    /// The teacher's `solutions/exN.rs`.
    Solution,
}

impl Variant {
    /// The word used on a child process's command line.
    pub fn arg(self) -> &'static str {
        match self {
            Variant::Learner => "learner",
            Variant::Solution => "solution",
        }
    }

    /// Parses [`Variant::arg`].
    pub fn parse(s: &str) -> Option<Variant> {
        match s {
            "learner" => Some(Variant::Learner),
            "solution" => Some(Variant::Solution),
            _ => None,
        }
    }
}

/// Runs `f`; a panic (a `todo!()` not yet replaced, an `unwrap` that failed)
/// becomes `Err(message)` instead of ending the checker.
pub fn attempt<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    let previous = panic::take_hook();
    panic::set_hook(Box::new(|_| {}));
    let result = panic::catch_unwind(AssertUnwindSafe(f));
    panic::set_hook(previous);
    result.map_err(|payload| {
        let text = if let Some(s) = payload.downcast_ref::<&str>() {
            (*s).to_string()
        } else if let Some(s) = payload.downcast_ref::<String>() {
            s.clone()
        } else {
            "a panic without a message".to_string()
        };
        match text.strip_prefix("not yet implemented: ") {
            Some(hint) => format!("not written yet (todo!: {hint})"),
            None if text == "not yet implemented" => "not written yet (todo!)".to_string(),
            None => format!("panicked: {text}"),
        }
    })
}

/// The lines of one exercise's checks, and whether all passed.
#[derive(Debug, Default)]
pub struct Report {
    failed: usize,
    passed: usize,
}

impl Report {
    /// Starts the report of one exercise with its title.
    pub fn start(chapter: &str, number: usize, title: &str) -> Report {
        say!("{}, exercise {number}: {title}", part_name(chapter));
        Report::default()
    }

    /// One observed fact: `ok` says whether it holds, `saw` what was seen,
    /// `hint` what to look at when it does not hold.
    pub fn check(&mut self, fact: &str, ok: bool, saw: impl Display, hint: &str) -> bool {
        if ok {
            self.passed += 1;
            say!("  PASS  {fact} (saw: {saw})");
        } else {
            self.failed += 1;
            say!("  FAIL  {fact}");
            say!("        saw: {saw}");
            say!("        hint: {hint}");
        }
        ok
    }

    /// A step the checks depend on failed (the learner's function returned
    /// an error or panicked): one FAIL, and the remaining checks are skipped.
    pub fn fail(&mut self, fact: &str, saw: impl Display, hint: &str) {
        self.check(fact, false, saw, hint);
    }

    /// True if every check passed (and there was at least one).
    pub fn passed(&self) -> bool {
        self.failed == 0 && self.passed > 0
    }
}

/// How a part is named on screen: `03` is "chapter 03"; the two parts
/// after the chapters keep their names (`mini-runc`, `mini-dockerd`).
pub fn part_name(part: &str) -> String {
    if part.chars().all(|c| c.is_ascii_digit()) {
        format!("chapter {part}")
    } else {
        part.to_string()
    }
}

/// The package that holds a part's exercises: `chapter03-exercises`,
/// `mini-runc-exercises`.
pub fn package_name(part: &str) -> String {
    if part.chars().all(|c| c.is_ascii_digit()) {
        format!("chapter{part}-exercises")
    } else {
        format!("{part}-exercises")
    }
}

/// One exercise of a chapter: its title and its checker.
pub struct Exercise {
    /// What the learner builds, in a few words.
    pub title: &'static str,
    /// Runs the checks against `Variant`'s code and prints them.
    pub check: fn(&mut Report, Variant),
}

/// The checker's `main`: `[--solutions] [N]` runs exercise N (or all, in
/// order) against the learner's code or the reference answers. `child` is
/// called instead when the checker re-executed itself as
/// `__child VARIANT ARGS...` to run the learner's code in a fresh process
/// (a new namespace, a cgroup): it returns the process's exit code.
pub fn main(
    chapter: &str,
    exercises: &[Exercise],
    child: fn(Variant, &[String]) -> ExitCode,
) -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("__child") {
        let Some(variant) = args.get(1).and_then(|v| Variant::parse(v)) else {
            eprintln!("__child needs learner or solution");
            return ExitCode::from(2);
        };
        return child(variant, &args[2..]);
    }
    let mut variant = Variant::Learner;
    let mut only = None;
    for arg in &args {
        match arg.as_str() {
            "--solutions" => variant = Variant::Solution,
            "-h" | "--help" => {
                let short = chapter.strip_prefix("mini-").unwrap_or(chapter);
                say!(
                    "usage: scripts/check.sh {short} [N]   (or: cargo run -p {} -- [--solutions] [N])",
                    package_name(chapter)
                );
                for (i, ex) in exercises.iter().enumerate() {
                    say!("  {}  {}", i + 1, ex.title);
                }
                return ExitCode::SUCCESS;
            }
            n => match n.parse::<usize>() {
                Ok(n) if (1..=exercises.len()).contains(&n) => only = Some(n),
                _ => {
                    eprintln!(
                        "{} has exercises 1 to {}; `{n}` is not one of them",
                        part_name(chapter),
                        exercises.len()
                    );
                    return ExitCode::from(2);
                }
            },
        }
    }
    let mut all_passed = true;
    for (i, ex) in exercises.iter().enumerate() {
        let number = i + 1;
        if only.is_some_and(|n| n != number) {
            continue;
        }
        let mut report = Report::start(chapter, number, ex.title);
        if let Err(message) = attempt(|| (ex.check)(&mut report, variant)) {
            report.fail(
                "the checker ran to the end",
                message,
                "read the message above; your function may have panicked",
            );
        }
        let verdict = if report.passed() { "PASS" } else { "FAIL" };
        say!("  => exercise {number}: {verdict}\n");
        all_passed &= report.passed();
    }
    if all_passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// The exit code a `__child` uses after a failed step; its stderr says which.
pub const CHILD_FAILED: u8 = 3;

/// In a `__child`: runs `f`; prints `ERR <message>` for an error or a panic
/// (a `todo!()`), `OK <value>` otherwise, and returns the exit code.
pub fn child_report<T: Display, E: Display>(f: impl FnOnce() -> Result<T, E>) -> ExitCode {
    match attempt(f) {
        Ok(Ok(value)) => {
            println!("OK {value}");
            ExitCode::SUCCESS
        }
        Ok(Err(e)) => {
            println!("ERR {e}");
            ExitCode::from(CHILD_FAILED)
        }
        Err(message) => {
            println!("ERR {message}");
            ExitCode::from(CHILD_FAILED)
        }
    }
}

/// Runs this checker again as `__child VARIANT ARGS...` and returns what it
/// printed on stdout (the lines of [`child_report`]) or why it did not run.
pub fn run_child(variant: Variant, args: &[&str]) -> Result<std::process::Output, String> {
    std::process::Command::new("/proc/self/exe")
        .arg("__child")
        .arg(variant.arg())
        .args(args)
        .output()
        .map_err(|e| format!("re-executing the checker: {e}"))
}

/// The `OK` value or the `ERR` message of a child's [`child_report`].
pub fn child_value(output: &std::process::Output) -> Result<String, String> {
    let stdout = String::from_utf8_lossy(&output.stdout);
    for line in stdout.lines() {
        if let Some(v) = line.strip_prefix("OK ") {
            return Ok(v.to_string());
        }
        if line == "OK" {
            return Ok(String::new());
        }
        if let Some(e) = line.strip_prefix("ERR ") {
            return Err(e.to_string());
        }
    }
    Err(format!(
        "the child printed no result ({}); stderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr).trim()
    ))
}

/// A package's tests, one `#[test]` per exercise, each running
/// [`assert_checker_can_fail`] on the checker binary:
///
/// ```ignore
/// exercise_kit::checker_tests!(env!("CARGO_BIN_EXE_chapter02-exercises");
///     ex1_join = 1, ex2_memory_oom = 2, ex3_pids = 3);
/// ```
#[macro_export]
macro_rules! checker_tests {
    ($exe:expr; $($name:ident = $number:expr),+ $(,)?) => {
        $(
            #[test]
            fn $name() {
                $crate::assert_checker_can_fail($exe, $number);
            }
        )+
    };
}

/// For a package's tests: runs the checker binary `exe` on exercise
/// `number`, with the reference answers (`--solutions`: it must pass) and
/// with the untouched starting point (it must fail, saying why, without a
/// crash). Panics with the checker's output when either is not so.
pub fn assert_checker_can_fail(exe: &str, number: usize) {
    let run = |solutions: bool| {
        let mut cmd = std::process::Command::new(exe);
        if solutions {
            cmd.arg("--solutions");
        }
        let out = cmd
            .arg(number.to_string())
            .output()
            .expect("run the checker");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status, text)
    };
    let (status, text) = run(true);
    assert!(
        status.success() && text.contains("PASS") && !text.contains("FAIL"),
        "exercise {number}: the reference answer must pass:\n{text}"
    );
    let (status, text) = run(false);
    assert_eq!(
        status.code(),
        Some(1),
        "exercise {number}: the starting point must fail (exit 1), not crash:\n{text}"
    );
    assert!(
        text.contains("FAIL") && text.contains("hint:") && text.contains("not written yet"),
        "exercise {number}: the starting point's failure must say it is not written yet and give a hint:\n{text}"
    );
}

/// A scratch directory `/tmp/<name>-<pid>` (name like `ch03-ex2`), removed
/// on drop, also when a check fails half-way.
pub struct Scratch(pub std::path::PathBuf);

impl Scratch {
    /// Makes the directory, empty.
    pub fn new(name: &str) -> Scratch {
        let path = std::env::temp_dir().join(format!("{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create a scratch directory in /tmp");
        Scratch(path)
    }

    /// `self/rel`, as a string for a child's command line.
    pub fn arg(&self) -> String {
        self.0.display().to_string()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
