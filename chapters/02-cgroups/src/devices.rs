//! The device controller: which device nodes a group's processes may use.
//!
//! A process with `CAP_MKNOD` (a container's root has it by default) can make
//! any device node: `mknod /tmp/sda b 8 0` is a few bytes in a tmpfs. What
//! stops it reading the host's disk through that node is the device cgroup,
//! asked by the kernel on every `mknod` and every `open` of a device node
//! (with the access wanted: `m`, `r`, `w`). A rule names a type (`c`
//! character, `b` block, `a` all), a major and a minor number (`*` = any) and
//! the accesses it covers, e.g. `c 1:3 rwm` for /dev/null.
//!
//! ## cgroup v1: two files
//!
//! The v1 `devices` controller keeps an exception list per group, written
//! through two files. A new group copies its parent's list (the root allows
//! everything):
//!
//! ```text
//! $ mkdir /sys/fs/cgroup/devices/demo
//! $ echo a > /sys/fs/cgroup/devices/demo/devices.deny            # nothing at all
//! $ echo 'c 1:3 rwm' > /sys/fs/cgroup/devices/demo/devices.allow # then /dev/null
//! $ cat /sys/fs/cgroup/devices/demo/devices.list
//! c 1:3 rwm
//! $ echo $$ > /sys/fs/cgroup/devices/demo/cgroup.procs
//! $ head -c1 /dev/sda
//! head: cannot open '/dev/sda' for reading: Operation not permitted
//! ```
//!
//! ## cgroup v2: an eBPF program
//!
//! cgroup v2 has no `devices.*` files. Instead the kernel runs a small eBPF
//! program of type `BPF_PROG_TYPE_CGROUP_DEVICE` attached to the group (and
//! those of its ancestors): it gets a `struct bpf_cgroup_dev_ctx` of three
//! 32-bit words, `access_type` (type in the low 16 bits, accesses in the
//! high 16), `major` and `minor`, and returns 1 to allow or 0 to refuse (the
//! syscall then fails with EPERM). The runtime writes that program itself:
//! [`Program::build`] turns the rule list into instructions, as data you can
//! print ([`Program::listing`]); [`attach`] loads it and hooks it to the
//! group's directory. The order of system calls:
//!
//! ```text
//! bpf(BPF_PROG_LOAD, {prog_type=CGROUP_DEVICE, insns, license="Apache-2.0"}) = 4   # the verifier checks it
//! open("/sys/fs/cgroup/<group>", O_RDONLY|O_DIRECTORY|O_CLOEXEC)          = 5
//! bpf(BPF_PROG_QUERY,  {target_fd=5, attach_type=CGROUP_DEVICE})             # the old program, if any
//! bpf(BPF_PROG_ATTACH, {target_fd=5, attach_bpf_fd=4, flags=BPF_F_ALLOW_MULTI})
//! bpf(BPF_PROG_DETACH, {target_fd=5, attach_bpf_fd=<old>})                   # on an update
//! close(4); close(5)     # the attachment keeps the program alive until the group is removed
//! ```
//!
//! The new program is attached before the old one is detached: with
//! `BPF_F_ALLOW_MULTI` every attached program must allow an access, so in
//! between both apply and nothing is ever less restricted than either list.
//! `bpftool cgroup show /sys/fs/cgroup/<group>` lists what is attached.
//!
//! The rules are read the way the v1 controller reads its list: the *last*
//! rule that matches an access decides, so the program checks them from last
//! to first and returns at the first match. An access no rule matches is
//! allowed (a v1 group starts with its parent's allow-all), which is why
//! Docker's list starts with `a *:* rwm` denied. An allow rule matches when it
//! covers every access asked for; a deny rule when it covers any of them.
//!
//! On a *hybrid* host (v1 controllers and a cgroup2 tree without them) the
//! cgroup2 tree still runs device programs: a runtime may attach the filter
//! there too, on top of v1's `devices.*` files. Both must allow an access.

use std::ffi::CStr;
use std::fmt;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use crate::bpf;
use crate::error::{Error, Result};

/// A device type, as in a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceType {
    /// `a`: every device.
    All,
    /// `c`: character devices.
    Char,
    /// `b`: block devices.
    Block,
}

impl DeviceType {
    /// `BPF_DEVCG_DEV_BLOCK` = 1, `BPF_DEVCG_DEV_CHAR` = 2.
    fn bpf(self) -> Option<i32> {
        match self {
            DeviceType::All => None,
            DeviceType::Block => Some(1),
            DeviceType::Char => Some(2),
        }
    }

    /// The letter used in rules.
    pub fn letter(self) -> char {
        match self {
            DeviceType::All => 'a',
            DeviceType::Char => 'c',
            DeviceType::Block => 'b',
        }
    }
}

/// One rule of the list: `allow`/`deny`, type, major:minor and accesses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// Allow (true) or deny.
    pub allow: bool,
    /// `a`, `c` or `b`.
    pub kind: DeviceType,
    /// Major number, `None` for any.
    pub major: Option<i64>,
    /// Minor number, `None` for any.
    pub minor: Option<i64>,
    /// Some of `rwm` (empty means all three).
    pub access: String,
}

/// `BPF_DEVCG_ACC_MKNOD` = 1, `_READ` = 2, `_WRITE` = 4.
fn access_bits(access: &str) -> i32 {
    if access.is_empty() {
        return 7;
    }
    access.chars().fold(0, |bits, c| match c {
        'm' => bits | 1,
        'r' => bits | 2,
        'w' => bits | 4,
        _ => bits,
    })
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = |v: Option<i64>| v.map(|v| v.to_string()).unwrap_or_else(|| "*".into());
        let access = if self.access.is_empty() {
            "rwm"
        } else {
            &self.access
        };
        write!(
            f,
            "{} {} {}:{} {access}",
            if self.allow { "allow" } else { "deny" },
            self.kind.letter(),
            n(self.major),
            n(self.minor)
        )
    }
}

/// An eBPF register: r0 (the return value), r1 (the context pointer on
/// entry, then scratch), r2 to r5 (here: type, access, major, minor).
pub type Reg = u8;

/// The few eBPF instructions a device filter needs (see
/// Documentation/bpf/standardization/instruction-set.rst). Jumps count the
/// instructions to skip.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Insn {
    /// `dst = *(u32 *)(r1 + off)`: read a word of the context.
    LoadCtx {
        /// Destination.
        dst: Reg,
        /// Byte offset in `struct bpf_cgroup_dev_ctx`.
        off: i16,
    },
    /// `dst &= imm` (32-bit).
    And {
        /// Register.
        dst: Reg,
        /// Mask.
        imm: i32,
    },
    /// `dst >>= imm` (32-bit).
    Rsh {
        /// Register.
        dst: Reg,
        /// Shift.
        imm: i32,
    },
    /// `dst = src`.
    Mov {
        /// Destination.
        dst: Reg,
        /// Source.
        src: Reg,
    },
    /// `dst = imm`.
    MovImm {
        /// Destination.
        dst: Reg,
        /// Value.
        imm: i32,
    },
    /// `if dst != imm goto +off`.
    JneImm {
        /// Register.
        dst: Reg,
        /// Value.
        imm: i32,
        /// Instructions to skip.
        off: i16,
    },
    /// `if dst == imm goto +off`.
    JeqImm {
        /// Register.
        dst: Reg,
        /// Value.
        imm: i32,
        /// Instructions to skip.
        off: i16,
    },
    /// `exit`: return r0.
    Exit,
}

impl Insn {
    /// The 8 bytes the kernel reads: opcode, dst|src<<4, off (le16), imm (le32).
    pub fn encode(self) -> [u8; 8] {
        let (code, dst, src, off, imm): (u8, u8, u8, i16, i32) = match self {
            // BPF_LDX | BPF_MEM | BPF_W
            Insn::LoadCtx { dst, off } => (0x61, dst, 1, off, 0),
            // BPF_ALU | BPF_AND | BPF_K
            Insn::And { dst, imm } => (0x54, dst, 0, 0, imm),
            // BPF_ALU | BPF_RSH | BPF_K
            Insn::Rsh { dst, imm } => (0x74, dst, 0, 0, imm),
            // BPF_ALU64 | BPF_MOV | BPF_X
            Insn::Mov { dst, src } => (0xbf, dst, src, 0, 0),
            // BPF_ALU64 | BPF_MOV | BPF_K
            Insn::MovImm { dst, imm } => (0xb7, dst, 0, 0, imm),
            // BPF_JMP | BPF_JNE | BPF_K
            Insn::JneImm { dst, imm, off } => (0x55, dst, 0, off, imm),
            // BPF_JMP | BPF_JEQ | BPF_K
            Insn::JeqImm { dst, imm, off } => (0x15, dst, 0, off, imm),
            // BPF_JMP | BPF_EXIT
            Insn::Exit => (0x95, 0, 0, 0, 0),
        };
        let mut b = [0u8; 8];
        b[0] = code;
        b[1] = (dst & 0x0f) | (src << 4);
        b[2..4].copy_from_slice(&off.to_le_bytes());
        b[4..8].copy_from_slice(&imm.to_le_bytes());
        b
    }
}

impl fmt::Display for Insn {
    /// The notation of the kernel's verifier log and `bpftool prog dump`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Insn::LoadCtx { dst, off } => write!(f, "r{dst} = *(u32 *)(r1 + {off})"),
            Insn::And { dst, imm } => write!(f, "w{dst} &= {imm:#x}"),
            Insn::Rsh { dst, imm } => write!(f, "w{dst} >>= {imm}"),
            Insn::Mov { dst, src } => write!(f, "r{dst} = r{src}"),
            Insn::MovImm { dst, imm } => write!(f, "r{dst} = {imm}"),
            Insn::JneImm { dst, imm, off } => write!(f, "if r{dst} != {imm} goto +{off}"),
            Insn::JeqImm { dst, imm, off } => write!(f, "if r{dst} == {imm} goto +{off}"),
            Insn::Exit => write!(f, "exit"),
        }
    }
}

/// A device filter program: the instructions, each with a comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Program {
    /// The instructions with what each is for.
    pub insns: Vec<(Insn, String)>,
}

/// The license string given to the kernel (device programs call no GPL-only helper).
pub const LICENSE: &CStr = c"Apache-2.0";

impl Program {
    /// Builds the filter for `rules` (in the order they were given; the last
    /// match wins, an access no rule matches is allowed).
    pub fn build(rules: &[Rule]) -> Program {
        let mut insns: Vec<(Insn, String)> = vec![
            (
                Insn::LoadCtx { dst: 2, off: 0 },
                "r2 = ctx->access_type".into(),
            ),
            (
                Insn::And {
                    dst: 2,
                    imm: 0xffff,
                },
                "r2: the device type (1 block, 2 char)".into(),
            ),
            (
                Insn::LoadCtx { dst: 3, off: 0 },
                "r3 = ctx->access_type".into(),
            ),
            (
                Insn::Rsh { dst: 3, imm: 16 },
                "r3: the accesses asked (1 mknod, 2 read, 4 write)".into(),
            ),
            (Insn::LoadCtx { dst: 4, off: 4 }, "r4 = ctx->major".into()),
            (Insn::LoadCtx { dst: 5, off: 8 }, "r5 = ctx->minor".into()),
        ];
        for rule in rules.iter().rev() {
            let bits = access_bits(&rule.access);
            // Each check jumps over the rest of this rule's block when it fails.
            let mut block: Vec<(Insn, String)> = Vec::new();
            let skip = i16::MAX; // patched below
            if let Some(t) = rule.kind.bpf() {
                block.push((
                    Insn::JneImm {
                        dst: 2,
                        imm: t,
                        off: skip,
                    },
                    format!("{rule}: type"),
                ));
            }
            if bits != 7 {
                block.push((Insn::Mov { dst: 1, src: 3 }, String::new()));
                if rule.allow {
                    block.push((
                        Insn::And {
                            dst: 1,
                            imm: !bits & 7,
                        },
                        String::new(),
                    ));
                    block.push((
                        Insn::JneImm {
                            dst: 1,
                            imm: 0,
                            off: skip,
                        },
                        format!("{rule}: asks for more than it allows"),
                    ));
                } else {
                    block.push((Insn::And { dst: 1, imm: bits }, String::new()));
                    block.push((
                        Insn::JeqImm {
                            dst: 1,
                            imm: 0,
                            off: skip,
                        },
                        format!("{rule}: asks for nothing it denies"),
                    ));
                }
            }
            if let Some(major) = rule.major {
                block.push((
                    Insn::JneImm {
                        dst: 4,
                        imm: major as i32,
                        off: skip,
                    },
                    format!("{rule}: major"),
                ));
            }
            if let Some(minor) = rule.minor {
                block.push((
                    Insn::JneImm {
                        dst: 5,
                        imm: minor as i32,
                        off: skip,
                    },
                    format!("{rule}: minor"),
                ));
            }
            let always = block.is_empty();
            block.push((
                Insn::MovImm {
                    dst: 0,
                    imm: i32::from(rule.allow),
                },
                format!(
                    "{rule}: matches, {}",
                    if rule.allow { "allow" } else { "refuse" }
                ),
            ));
            block.push((Insn::Exit, String::new()));
            let len = block.len();
            for (i, (insn, _)) in block.iter_mut().enumerate() {
                if let Insn::JneImm { off, .. } | Insn::JeqImm { off, .. } = insn {
                    *off = (len - i - 1) as i16;
                }
            }
            insns.extend(block);
            if always {
                // Nothing after a rule that matches everything is reachable,
                // and the verifier refuses unreachable instructions.
                return Program { insns };
            }
        }
        insns.push((
            Insn::MovImm { dst: 0, imm: 1 },
            "no rule matched: allow".into(),
        ));
        insns.push((Insn::Exit, String::new()));
        Program { insns }
    }

    /// The program as the kernel reads it.
    pub fn bytecode(&self) -> Vec<[u8; 8]> {
        self.insns.iter().map(|(i, _)| i.encode()).collect()
    }

    /// One numbered line per instruction, with its comment: what `--debug`
    /// and the tour print.
    pub fn listing(&self) -> String {
        let mut out = String::new();
        for (n, (insn, comment)) in self.insns.iter().enumerate() {
            let text = insn.to_string();
            if comment.is_empty() {
                out.push_str(&format!("{n:3}: {text}\n"));
            } else {
                out.push_str(&format!("{n:3}: {text:<32} ; {comment}\n"));
            }
        }
        out
    }

    /// `bpf(BPF_PROG_LOAD)`: the kernel verifies the program and returns a
    /// descriptor for it.
    pub fn load(&self) -> Result<OwnedFd> {
        bpf::load_cgroup_device(&self.bytecode(), LICENSE, "mini_devices")
            .map_err(|(source, log)| Error::BpfLoad { log, source })
    }
}

fn open_dir(dir: &Path) -> Result<OwnedFd> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY)
        .open(dir)
        .map(OwnedFd::from)
        .map_err(|source| Error::Bpf {
            step: "open",
            path: dir.to_path_buf(),
            source,
        })
}

/// Loads the filter for `rules` and attaches it to the cgroup2 directory
/// `dir`, replacing the device programs attached there before. Returns
/// the program's listing.
pub fn attach(dir: &Path, rules: &[Rule]) -> Result<Program> {
    let program = Program::build(rules);
    let prog = program.load()?;
    let cgroup = open_dir(dir)?;
    let err = |step, source| Error::Bpf {
        step,
        path: dir.to_path_buf(),
        source,
    };
    let old = bpf::query(cgroup.as_fd()).map_err(|e| err("bpf BPF_PROG_QUERY", e))?;
    bpf::attach(cgroup.as_fd(), prog.as_fd(), bpf::F_ALLOW_MULTI)
        .map_err(|e| err("bpf BPF_PROG_ATTACH", e))?;
    for id in old {
        let fd = bpf::prog_fd_by_id(id).map_err(|e| err("bpf BPF_PROG_GET_FD_BY_ID", e))?;
        bpf::detach(cgroup.as_fd(), fd.as_fd()).map_err(|e| err("bpf BPF_PROG_DETACH", e))?;
    }
    Ok(program)
}

/// The ids of the device programs attached to the cgroup2 directory `dir`
/// (`bpftool cgroup show DIR`).
pub fn attached(dir: &Path) -> Result<Vec<u32>> {
    let cgroup = open_dir(dir)?;
    bpf::query(cgroup.as_fd()).map_err(|source| Error::Bpf {
        step: "bpf BPF_PROG_QUERY",
        path: dir.to_path_buf(),
        source,
    })
}

/// The directory of group `path` (relative to the tree's root, as an OCI
/// `cgroupsPath`) in the host's cgroup2 tree, on a unified or hybrid host.
pub fn v2_dir(layout: &crate::Layout, path: &Path) -> Option<PathBuf> {
    let rel: PathBuf = path
        .components()
        .filter(|c| matches!(c, std::path::Component::Normal(_)))
        .collect();
    layout.v2().map(|h| h.mount_point.join(rel))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(
        allow: bool,
        kind: DeviceType,
        major: Option<i64>,
        minor: Option<i64>,
        access: &str,
    ) -> Rule {
        Rule {
            allow,
            kind,
            major,
            minor,
            access: access.into(),
        }
    }

    /// Runs the program on one access, as the kernel would.
    fn run(p: &Program, kind: i32, access: i32, major: i32, minor: i32) -> i32 {
        let mut r = [0i64; 6];
        let mut pc = 0usize;
        loop {
            let (insn, _) = p.insns[pc];
            pc += 1;
            match insn {
                Insn::LoadCtx { dst, off } => {
                    r[dst as usize] = match off {
                        0 => ((access << 16) | kind) as i64,
                        4 => major as i64,
                        _ => minor as i64,
                    }
                }
                Insn::And { dst, imm } => {
                    r[dst as usize] = (r[dst as usize] as u32 & imm as u32) as i64
                }
                Insn::Rsh { dst, imm } => r[dst as usize] = (r[dst as usize] as u32 >> imm) as i64,
                Insn::Mov { dst, src } => r[dst as usize] = r[src as usize],
                Insn::MovImm { dst, imm } => r[dst as usize] = imm as i64,
                Insn::JneImm { dst, imm, off } => {
                    if r[dst as usize] != imm as i64 {
                        pc += off as usize
                    }
                }
                Insn::JeqImm { dst, imm, off } => {
                    if r[dst as usize] == imm as i64 {
                        pc += off as usize
                    }
                }
                Insn::Exit => return r[0] as i32,
            }
        }
    }

    const B: i32 = 1;
    const C: i32 = 2;
    const M: i32 = 1;
    const R: i32 = 2;
    const W: i32 = 4;

    fn docker_like() -> Vec<Rule> {
        vec![
            rule(false, DeviceType::All, None, None, "rwm"),
            rule(true, DeviceType::Char, None, None, "m"),
            rule(true, DeviceType::Block, None, None, "m"),
            rule(true, DeviceType::Char, Some(1), Some(3), "rwm"),
            rule(true, DeviceType::Char, Some(136), None, "rwm"),
            rule(false, DeviceType::Char, Some(1), Some(3), "w"),
        ]
    }

    #[test]
    fn the_last_matching_rule_decides() {
        let p = Program::build(&docker_like());
        assert_eq!(run(&p, B, M, 8, 0), 1, "mknod of any block device");
        assert_eq!(run(&p, B, R, 8, 0), 0, "reading /dev/sda");
        assert_eq!(run(&p, C, R, 1, 3), 1, "reading /dev/null");
        assert_eq!(
            run(&p, C, R | W, 1, 3),
            0,
            "the last rule denies writing it"
        );
        assert_eq!(run(&p, C, R | W, 136, 7), 1, "a pty");
        assert_eq!(run(&p, C, R, 1, 5), 0, "/dev/zero is not listed");
    }

    #[test]
    fn no_rules_allow_everything_and_allow_all_ends_the_program() {
        assert_eq!(run(&Program::build(&[]), B, R | W, 8, 0), 1);
        let p = Program::build(&[
            rule(false, DeviceType::All, None, None, ""),
            rule(true, DeviceType::All, None, None, "rwm"),
        ]);
        assert_eq!(run(&p, B, R | W, 8, 0), 1);
        assert_eq!(p.insns.last().unwrap().0, Insn::Exit);
        assert_eq!(
            p.insns.len(),
            8,
            "the deny-all before it is unreachable and left out"
        );
    }

    #[test]
    fn encoding_matches_the_kernel_layout() {
        assert_eq!(
            Insn::LoadCtx { dst: 2, off: 0 }.encode(),
            [0x61, 0x12, 0, 0, 0, 0, 0, 0]
        );
        assert_eq!(
            Insn::JneImm {
                dst: 4,
                imm: 136,
                off: 3
            }
            .encode(),
            [0x55, 0x04, 3, 0, 136, 0, 0, 0]
        );
        assert_eq!(Insn::Exit.encode(), [0x95, 0, 0, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn listing_reads_like_the_verifier_log() {
        let p = Program::build(&[
            rule(false, DeviceType::All, None, None, "rwm"),
            rule(true, DeviceType::Char, Some(1), Some(3), "rwm"),
        ]);
        insta::assert_snapshot!(p.listing());
    }
}
