//! # Chapter 02: exercises
//!
//! Each exercise is one function in `src/exN.rs` whose body is a `todo!()`
//! with a hint. Write it, then check it (as root):
//!
//! ```text
//! scripts/check.sh 02 2        # or: cargo run -p chapter02-exercises -- 2
//! ```
//!
//! The checker makes a group with chapter 02's library (`Cgroup::create`,
//! named `chapter02-exN-<pid>-<n>` so `find /sys/fs/cgroup -name
//! 'chapter02-ex*'` finds it), calls your function, runs a process in the
//! group and reads what the kernel counted; the group is deleted at the end,
//! also when a check fails. The reference answers are in `solutions/`
//! (`scripts/check.sh --solutions 02`). The exercises work on cgroup v1,
//! v2 and hybrid hosts: see which one yours is with `stat -fc %T
//! /sys/fs/cgroup` (`cgroup2fs` is v2).
//!
//! 1. [`ex1`]: a process joins a group;
//! 2. [`ex2`]: a memory limit, and the OOM kill;
//! 3. [`ex3`]: a pids limit stops a fork bomb.

pub mod check;
pub mod ex1;
pub mod ex2;
pub mod ex3;
#[path = "../solutions/mod.rs"]
pub mod solutions;
