//! The sync channel between the parent and the container's init.
//!
//! Building a container is a conversation: the init cannot write its own id
//! maps, and the parent must not let the program start before the parent has
//! done its part (joined a cgroup, wired a network). runc, crun and youki all
//! have such a channel; here it is a `socketpair(AF_UNIX, SOCK_SEQPACKET)`,
//! which keeps message boundaries, so every message is one JSON packet.
//!
//! ```text
//! parent                                  init / PID 1
//!   ── Spec ──────────────────────────────▶
//!   ◀───────────────────────── Did{0..k} ──   (each step done, for the narration)
//!   ◀─────────────────────── NeedIdMaps ──   after unshare(CLONE_NEWUSER)
//!   ── IdMapsWritten ─────────────────────▶
//!   ◀────────────────────── Forked{pid} ──   init's view of PID 1's pid
//!   ◀──────────────────────────── Ready ──   PID 1, just before execve
//!   ── Start ─────────────────────────────▶
//!   ◀─────────────────────────────── EOF ──   execve closed PID 1's end (close-on-exec):
//!                                            the program runs. Or Failed{step, errno}.
//! ```

use crate::plan::Spec;
use nix::sys::socket::{recv, send, socketpair, AddressFamily, MsgFlags, SockFlag, SockType};
use serde::{Deserialize, Serialize};
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};

/// Messages from the parent to the init.
#[derive(Debug, Serialize, Deserialize)]
pub enum ToInit {
    /// What to build.
    Spec(Box<Spec>),
    /// The id maps are written; go on.
    IdMapsWritten,
    /// Exec the program now.
    Start,
}

/// Messages from the init (and PID 1) to the parent.
#[derive(Debug, Serialize, Deserialize)]
pub enum FromInit {
    /// Step `n` of the plan is done.
    Did(usize),
    /// The user namespace exists; please write the maps of this pid.
    NeedIdMaps {
        /// The init's pid (in the parent's PID namespace).
        pid: i32,
    },
    /// PID 1 was forked; this is its pid as the parent sees it.
    Forked {
        /// The pid in the parent's PID namespace.
        pid: i32,
    },
    /// PID 1 is set up and waits for `Start`.
    Ready,
    /// Step `step` failed.
    Failed {
        /// Index into the plan.
        step: usize,
        /// The errno, when the failure was a system call.
        errno: i32,
        /// What happened.
        detail: String,
    },
}

/// One end of the channel.
#[derive(Debug)]
pub struct Channel {
    fd: OwnedFd,
}

const MAX_PACKET: usize = 1 << 20;

impl Channel {
    /// A connected pair: (parent end, child end). Both are close-on-exec.
    pub fn pair() -> io::Result<(Channel, Channel)> {
        let (a, b) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )?;
        Ok((Channel { fd: a }, Channel { fd: b }))
    }

    /// Wraps a descriptor inherited from the parent.
    pub fn from_fd(fd: OwnedFd) -> Channel {
        Channel { fd }
    }

    /// The descriptor (for handing it to a child).
    pub fn fd(&self) -> &OwnedFd {
        &self.fd
    }

    /// Sends one message as one packet.
    pub fn send<T: Serialize>(&self, msg: &T) -> io::Result<()> {
        let data = serde_json::to_vec(msg).map_err(io::Error::other)?;
        let n = send(self.fd.as_raw_fd(), &data, MsgFlags::MSG_NOSIGNAL)?;
        if n != data.len() {
            return Err(io::Error::other("short send on the sync socket"));
        }
        Ok(())
    }

    /// Receives one message; `Ok(None)` when the other side closed its end.
    pub fn recv<T: for<'de> Deserialize<'de>>(&self) -> io::Result<Option<T>> {
        // Peek first: MSG_TRUNC makes recv return the packet's real length,
        // so the buffer is exactly that big. (A fixed 1 MiB buffer, zeroed
        // on every message, cost a container start about half a millisecond.)
        let fd = self.fd.as_raw_fd();
        let retry = |buf: &mut [u8], flags: MsgFlags| loop {
            match recv(fd, buf, flags) {
                Err(nix::errno::Errno::EINTR) => continue,
                other => break other,
            }
        };
        let len = retry(&mut [0u8; 1], MsgFlags::MSG_PEEK | MsgFlags::MSG_TRUNC)?;
        if len > MAX_PACKET {
            return Err(io::Error::other(format!(
                "a message of {len} bytes: more than the {MAX_PACKET} a channel carries"
            )));
        }
        let mut buf = vec![0u8; len.max(1)];
        let n = retry(&mut buf, MsgFlags::MSG_CMSG_CLOEXEC)?;
        if n == 0 {
            return Ok(None);
        }
        serde_json::from_slice(&buf[..n])
            .map(Some)
            .map_err(io::Error::other)
    }
}
