//! IPAM (IP address management): hand out the addresses of a subnet.
//!
//! The rules are Docker's:
//! - the network address (`.0`), the gateway (`.1`, on the bridge) and the
//!   broadcast address are never handed out;
//! - an address is never handed out twice, also across restarts: the
//!   allocations are persisted in a JSON file;
//! - addresses are handed out *after* the last one given, wrapping around,
//!   so an address just released is not reused at once (peers may still have
//!   it in their ARP cache);
//! - `release` gives it back.
//!
//! Several threads or processes may allocate at the same time. Each
//! operation therefore takes an exclusive `flock(2)` on a lock file beside the
//! state (`<state>.lock`; the state file itself is replaced on every write,
//! so it cannot carry the lock), reads the state, changes it, and writes it
//! atomically: a temp file, `fsync`, `rename(2)` over the old one, `fsync`
//! of the directory. A crash leaves either the old or the new state, never
//! half of one.
//!
//! Read: flock(2), rename(2), fsync(2).

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::subnet::Subnet;

/// What is persisted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IpamState {
    /// The subnet addresses come from.
    pub subnet: Subnet,
    /// The bridge's address (never handed out).
    pub gateway: Ipv4Addr,
    /// The last address handed out (the next search starts after it).
    pub last: Option<Ipv4Addr>,
    /// Address -> who holds it (a container or endpoint id).
    pub allocated: BTreeMap<Ipv4Addr, String>,
}

impl IpamState {
    /// A fresh state: nothing allocated.
    pub fn new(subnet: Subnet) -> Self {
        IpamState {
            subnet,
            gateway: subnet.gateway(),
            last: None,
            allocated: BTreeMap::new(),
        }
    }

    fn reserved(&self, ip: Ipv4Addr) -> bool {
        ip == self.subnet.network() || ip == self.subnet.broadcast() || ip == self.gateway
    }

    /// Pick and record the next free address for `owner`.
    pub fn allocate(&mut self, owner: &str) -> Result<Ipv4Addr> {
        let size = self.subnet.size();
        let start = self
            .last
            .and_then(|l| self.subnet.offset_of(l))
            .map_or(0, |o| o + 1);
        for i in 0..size {
            let ip = self
                .subnet
                .nth((start + i) % size)
                .expect("offset is inside the subnet");
            if !self.reserved(ip) && !self.allocated.contains_key(&ip) {
                self.allocated.insert(ip, owner.to_string());
                self.last = Some(ip);
                return Ok(ip);
            }
        }
        Err(Error::SubnetExhausted {
            subnet: self.subnet,
        })
    }

    /// Give an address back.
    pub fn release(&mut self, ip: Ipv4Addr) -> Result<()> {
        self.allocated
            .remove(&ip)
            .map(|_| ())
            .ok_or(Error::NotAllocated {
                ip,
                subnet: self.subnet,
            })
    }
}

/// The allocator of one subnet, persisted at `path`.
#[derive(Debug, Clone)]
pub struct Ipam {
    path: PathBuf,
    subnet: Subnet,
}

impl Ipam {
    /// Open (or create) the state at `path` for `subnet`.
    pub fn open(path: &Path, subnet: Subnet) -> Result<Ipam> {
        let ipam = Ipam {
            path: path.to_path_buf(),
            subnet,
        };
        ipam.with_state(|_| Ok(()))?;
        Ok(ipam)
    }

    /// The subnet.
    pub fn subnet(&self) -> Subnet {
        self.subnet
    }

    /// The state file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Hand out a free address to `owner`.
    pub fn allocate(&self, owner: &str) -> Result<Ipv4Addr> {
        self.with_state(|s| s.allocate(owner))
    }

    /// Give `ip` back.
    pub fn release(&self, ip: Ipv4Addr) -> Result<()> {
        self.with_state(|s| s.release(ip))
    }

    /// Who holds what.
    pub fn allocations(&self) -> Result<BTreeMap<Ipv4Addr, String>> {
        self.with_state(|s| Ok(s.allocated.clone()))
    }

    fn lock_path(&self) -> PathBuf {
        let mut p = self.path.clone().into_os_string();
        p.push(".lock");
        p.into()
    }

    /// Lock, read, change, write atomically, unlock.
    fn with_state<T>(&self, change: impl FnOnce(&mut IpamState) -> Result<T>) -> Result<T> {
        let lock_path = self.lock_path();
        let lock_err = |source| Error::IpamLock {
            path: lock_path.clone(),
            source,
        };
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir).map_err(lock_err)?;
        }
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(lock_err)?;
        // Blocks until no other thread or process holds the lock; released
        // when `_lock` is dropped (the file is closed).
        let _lock =
            Flock::lock(file, FlockArg::LockExclusive).map_err(|(_, e)| lock_err(e.into()))?;

        let mut state = match std::fs::read(&self.path) {
            Ok(bytes) => {
                serde_json::from_slice::<IpamState>(&bytes).map_err(|e| Error::IpamRead {
                    path: self.path.clone(),
                    detail: e.to_string(),
                })?
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => IpamState::new(self.subnet),
            Err(e) => {
                return Err(Error::IpamRead {
                    path: self.path.clone(),
                    detail: e.to_string(),
                })
            }
        };
        if state.subnet != self.subnet {
            return Err(Error::IpamSubnetMismatch {
                path: self.path.clone(),
                found: state.subnet,
                wanted: self.subnet,
            });
        }
        let before = state.clone();
        let out = change(&mut state)?;
        if state != before || !self.path.exists() {
            write_atomic(
                &self.path,
                serde_json::to_string_pretty(&state)
                    .expect("state serialises")
                    .as_bytes(),
            )
            .map_err(|source| Error::IpamWrite {
                path: self.path.clone(),
                source,
            })?;
        }
        Ok(out)
    }
}

/// Write a file so that a crash leaves the old or the new content: temp file
/// in the same directory, fsync, rename over, fsync the directory.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp_name = path.file_name().unwrap_or_default().to_os_string();
    tmp_name.push(format!(".tmp-{}", std::process::id()));
    let tmp = dir.join(tmp_name);
    let mut f = File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, path)?;
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skips_reserved_and_does_not_reuse_at_once() {
        let mut s = IpamState::new("10.201.3.0/30".parse().unwrap());
        // /30: .0 network, .1 gateway, .2 the only host, .3 broadcast.
        assert_eq!(s.allocate("a").unwrap(), Ipv4Addr::new(10, 201, 3, 2));
        assert!(matches!(
            s.allocate("b"),
            Err(Error::SubnetExhausted { .. })
        ));
        s.release(Ipv4Addr::new(10, 201, 3, 2)).unwrap();
        assert!(s.release(Ipv4Addr::new(10, 201, 3, 2)).is_err());

        let mut s = IpamState::new("10.201.3.0/24".parse().unwrap());
        let a = s.allocate("a").unwrap();
        let b = s.allocate("b").unwrap();
        s.release(a).unwrap();
        let c = s.allocate("c").unwrap();
        assert_eq!((a.octets()[3], b.octets()[3], c.octets()[3]), (2, 3, 4));
    }

    #[test]
    fn persists_across_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ipam/net.json");
        let subnet: Subnet = "10.201.4.0/24".parse().unwrap();
        let a = Ipam::open(&path, subnet).unwrap().allocate("a").unwrap();
        let b = Ipam::open(&path, subnet).unwrap().allocate("b").unwrap();
        assert_ne!(a, b);
        assert_eq!(
            Ipam::open(&path, subnet)
                .unwrap()
                .allocations()
                .unwrap()
                .len(),
            2
        );
        assert!(matches!(
            Ipam::open(&path, "10.201.5.0/24".parse().unwrap()),
            Err(Error::IpamSubnetMismatch { .. })
        ));
    }

    #[test]
    fn parallel_threads_never_collide() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("net.json");
        let subnet: Subnet = "10.201.6.0/24".parse().unwrap();
        let ips: Vec<Ipv4Addr> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|t| {
                    let path = &path;
                    s.spawn(move || {
                        (0..20)
                            .map(|i| {
                                Ipam::open(path, subnet)
                                    .unwrap()
                                    .allocate(&format!("t{t}-{i}"))
                                    .unwrap()
                            })
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().unwrap())
                .collect()
        });
        let unique: std::collections::BTreeSet<_> = ips.iter().collect();
        assert_eq!(unique.len(), 160);
        assert_eq!(
            Ipam::open(&path, subnet)
                .unwrap()
                .allocations()
                .unwrap()
                .len(),
            160
        );
    }
}
