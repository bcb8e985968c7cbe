//! # The engine's errors: a kind and Docker's message
//!
//! The engine says *what kind* of failure happened (the thing is missing, it
//! is in the way, the request is wrong…), never which HTTP status that is:
//! the kinds are moby's `errdefs` (`errdefs.NotFound`, `errdefs.Conflict`,
//! `errdefs.InvalidParameter`, …), and only the HTTP layer
//! ([`super::api`]) maps them to statuses, as moby's
//! `api/server/httpstatus` does. A service can then be called from a test,
//! the CLI or another router without knowing about HTTP.
//!
//! The message is the text Docker's clients show (`{"message": …}`), so it
//! is already the whole sentence: causes are folded into it when the error
//! is made, and [`Error`] has no `source()`.

use std::fmt;

/// What kind of failure an [`Error`] is (moby's `errdefs` classes we use).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The request is wrong: a bad parameter, body or reference.
    InvalidParameter,
    /// The thing named does not exist.
    NotFound,
    /// The thing is in a state or in use that forbids this.
    Conflict,
    /// The registry refused our credentials.
    Unauthorized,
    /// Allowed by nobody (a predefined network, for example).
    Forbidden,
    /// Nothing to do: it is already so (start of a running container).
    NotModified,
    /// An endpoint or option this engine does not implement.
    NotImplemented,
    /// Not available here (swarm endpoints on a node that is not a manager).
    Unavailable,
    /// Anything else: the engine or the host failed.
    System,
}

/// An engine error: its [`Kind`] and Docker's message.
#[derive(Debug, Clone)]
pub struct Error {
    /// What kind of failure.
    pub kind: Kind,
    /// The message a client shows (`{"message": …}`).
    pub message: String,
}

impl Error {
    /// An error of `kind`.
    pub fn new(kind: Kind, m: impl Into<String>) -> Self {
        Error {
            kind,
            message: m.into(),
        }
    }
    /// [`Kind::NotFound`].
    pub fn not_found(m: impl Into<String>) -> Self {
        Self::new(Kind::NotFound, m)
    }
    /// [`Kind::Conflict`].
    pub fn conflict(m: impl Into<String>) -> Self {
        Self::new(Kind::Conflict, m)
    }
    /// [`Kind::InvalidParameter`].
    pub fn bad(m: impl Into<String>) -> Self {
        Self::new(Kind::InvalidParameter, m)
    }
    /// [`Kind::System`].
    pub fn internal(m: impl Into<String>) -> Self {
        Self::new(Kind::System, m)
    }
    /// [`Kind::Unauthorized`].
    pub fn unauthorized(m: impl Into<String>) -> Self {
        Self::new(Kind::Unauthorized, m)
    }
    /// [`Kind::Forbidden`].
    pub fn forbidden(m: impl Into<String>) -> Self {
        Self::new(Kind::Forbidden, m)
    }
    /// [`Kind::NotImplemented`].
    pub fn not_implemented(m: impl Into<String>) -> Self {
        Self::new(Kind::NotImplemented, m)
    }
    /// [`Kind::Unavailable`].
    pub fn unavailable(m: impl Into<String>) -> Self {
        Self::new(Kind::Unavailable, m)
    }
    /// [`Kind::NotModified`] (start or stop of a container already so).
    pub fn not_modified() -> Self {
        Self::new(Kind::NotModified, String::new())
    }
    /// Whether this is [`Kind::NotModified`].
    pub fn is_not_modified(&self) -> bool {
        self.kind == Kind::NotModified
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

/// `e`'s message followed by each of its causes (`rm /x: Permission
/// denied`), the way `{:#}` prints an `anyhow::Error`. The chapters' errors
/// name their step and keep the cause in `source()`; an engine message is a
/// single string, so it is built with this.
pub fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let t = c.to_string();
        // A foreign error may still print its cause itself: say it once.
        if !t.is_empty() && !s.ends_with(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        cause = c.source();
    }
    s
}

/// An engine error of kind `System` from any error (or message), with its
/// causes ([`chain`]).
pub fn system(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Error {
    Error::internal(chain(&*e.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("rm {path}")]
    struct Rm {
        path: String,
        source: std::io::Error,
    }

    #[test]
    fn chain_reports_each_cause_once() {
        let e = Rm {
            path: "/x".into(),
            source: std::io::Error::from_raw_os_error(13),
        };
        assert_eq!(chain(&e), "rm /x: Permission denied (os error 13)");
        assert_eq!(system(e).message, "rm /x: Permission denied (os error 13)");
        assert_eq!(system("plain").message, "plain");
    }
}
