//! Helpers shared by the integration tests: root check, tree snapshots,
//! hand-made tars (including malformed ones), a seeded tree generator.
#![allow(dead_code, missing_docs)]

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

/// Privileged tests fail (never skip) without root.
pub fn require_root() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "this test mounts filesystems and sets owners: run it as root (sudo -E cargo test -p chapter03)"
    );
}

/// Everything we promise to preserve about one name in a tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub kind: char,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub mtime: (i64, i64),
    pub content: Option<Vec<u8>>,
    pub target: Option<PathBuf>,
    pub rdev: (u64, u64),
    pub xattrs: Vec<(String, Vec<u8>)>,
    /// For hard-linked non-directories: the first name of the inode.
    pub link_group: Option<String>,
}

pub struct SnapOpts {
    pub owners: bool,
    pub dir_mtimes: bool,
}

pub const FULL: SnapOpts = SnapOpts {
    owners: true,
    dir_mtimes: true,
};

/// A map from relative path to [`Node`], for comparing trees.
pub fn snapshot(root: &Path, opts: &SnapOpts) -> BTreeMap<String, Node> {
    let mut out = BTreeMap::new();
    let mut inodes = HashMap::new();
    walk(root, Path::new(""), opts, &mut out, &mut inodes);
    out
}

fn walk(
    root: &Path,
    rel: &Path,
    opts: &SnapOpts,
    out: &mut BTreeMap<String, Node>,
    inodes: &mut HashMap<(u64, u64), String>,
) {
    let mut names: Vec<_> = fs::read_dir(root.join(rel))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    names.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    for n in names {
        let r = rel.join(&n);
        let p = root.join(&r);
        let m = fs::symlink_metadata(&p).unwrap();
        let ft = m.file_type();
        let kind = if ft.is_dir() {
            'd'
        } else if ft.is_symlink() {
            'l'
        } else if ft.is_file() {
            'f'
        } else if ft.is_char_device() {
            'c'
        } else if ft.is_block_device() {
            'b'
        } else if ft.is_fifo() {
            'p'
        } else {
            's'
        };
        let whiteout = kind == 'c' && m.rdev() == 0;
        let key = r.to_string_lossy().into_owned();
        let link_group = if kind != 'd' && !whiteout && m.nlink() > 1 {
            Some(
                inodes
                    .entry((m.dev(), m.ino()))
                    .or_insert_with(|| key.clone())
                    .clone(),
            )
        } else {
            None
        };
        let mut xattrs: Vec<(String, Vec<u8>)> = xattr::list(&p)
            .map(|l| l.collect::<Vec<_>>())
            .unwrap_or_default()
            .into_iter()
            .map(|k| k.to_string_lossy().into_owned())
            .filter(|k| !k.starts_with("trusted.overlay.") || k == "trusted.overlay.opaque")
            .map(|k| {
                let v = xattr::get(&p, &k).unwrap().unwrap_or_default();
                (k, v)
            })
            .collect();
        xattrs.sort();
        let node = Node {
            kind,
            mode: m.mode() & 0o7777,
            uid: if opts.owners { m.uid() } else { 0 },
            gid: if opts.owners { m.gid() } else { 0 },
            mtime: if kind == 'd' && !opts.dir_mtimes {
                (0, 0)
            } else {
                (m.mtime(), m.mtime_nsec())
            },
            content: (kind == 'f').then(|| fs::read(&p).unwrap()),
            target: (kind == 'l').then(|| fs::read_link(&p).unwrap()),
            rdev: (
                nix::sys::stat::major(m.rdev()),
                nix::sys::stat::minor(m.rdev()),
            ),
            xattrs,
            link_group,
        };
        out.insert(key, node);
        if kind == 'd' {
            walk(root, &r, opts, out, inodes);
        }
    }
}

/// Assert two snapshots are equal, printing the first differences.
pub fn assert_same(a: &BTreeMap<String, Node>, b: &BTreeMap<String, Node>, what: &str) {
    if a == b {
        return;
    }
    let mut msg = String::new();
    for (k, v) in a {
        match b.get(k) {
            None => msg += &format!("only in first: {k} {v:?}\n"),
            Some(w) if w != v => {
                msg += &format!("differs: {k}\n  first:  {v:?}\n  second: {w:?}\n")
            }
            _ => {}
        }
    }
    for k in b.keys().filter(|k| !a.contains_key(*k)) {
        msg += &format!("only in second: {k} {:?}\n", b[k]);
    }
    panic!("{what}: trees differ\n{}", &msg[..msg.len().min(6000)]);
}

/// One entry of a hand-made tar. Names are written raw (no checks), so
/// malformed archives can be built.
pub enum E<'a> {
    Dir(&'a str),
    File(&'a str, &'a [u8]),
    Symlink(&'a str, &'a str),
    Hardlink(&'a str, &'a str),
    Char(&'a str, u32, u32),
}

pub fn raw_tar(entries: &[E<'_>]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for e in entries {
        let mut h = tar::Header::new_gnu();
        h.set_mode(0o644);
        h.set_mtime(1_600_000_000);
        h.set_uid(0);
        h.set_gid(0);
        h.set_size(0);
        let (name, data): (&str, &[u8]) = match e {
            E::Dir(n) => {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_mode(0o755);
                (n, &[])
            }
            E::File(n, d) => {
                h.set_entry_type(tar::EntryType::Regular);
                h.set_size(d.len() as u64);
                (n, d)
            }
            E::Symlink(n, t) | E::Hardlink(n, t) => {
                h.set_entry_type(if matches!(e, E::Symlink(..)) {
                    tar::EntryType::Symlink
                } else {
                    tar::EntryType::Link
                });
                let ln = &mut h.as_old_mut().linkname;
                ln[..t.len()].copy_from_slice(t.as_bytes());
                (n, &[])
            }
            E::Char(n, ma, mi) => {
                h.set_entry_type(tar::EntryType::Char);
                h.set_device_major(*ma).unwrap();
                h.set_device_minor(*mi).unwrap();
                (n, &[])
            }
        };
        h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
        h.set_cksum();
        b.append(&h, data).unwrap();
    }
    b.into_inner().unwrap()
}

/// A small deterministic random generator (xorshift64*), so property-style
/// tests are reproducible from the seed printed on failure.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// What the generator may put in a tree.
pub struct GenOpts {
    /// Owners, devices, whiteouts, trusted xattrs, setuid bits (needs root).
    pub privileged: bool,
}

fn gen_name(rng: &mut Rng, taken: &mut Vec<String>) -> String {
    loop {
        let n = match rng.below(8) {
            0 => format!("file {}", rng.below(1000)),
            1 => format!(".hidden{}", rng.below(100)),
            2 => format!("é-ü-{}", rng.below(100)),
            3 => "n".repeat(100 + rng.below(60) as usize),
            _ => format!("n{}", rng.below(10_000)),
        };
        if !taken.contains(&n) {
            taken.push(n.clone());
            return n;
        }
    }
}

fn set_meta(p: &Path, rng: &mut Rng, o: &GenOpts, kind: char) {
    use nix::sys::stat::{utimensat, UtimensatFlags};
    use nix::sys::time::TimeSpec;
    if o.privileged {
        let id = |rng: &mut Rng| {
            if rng.chance(10) {
                3_000_000 + rng.below(1000) as u32
            } else {
                rng.below(70_000) as u32
            }
        };
        std::os::unix::fs::lchown(p, Some(id(rng)), Some(id(rng))).unwrap();
    }
    let can_user_xattr = kind == 'f' || kind == 'd';
    if can_user_xattr && rng.chance(30) {
        xattr::set(
            p,
            format!("user.k{}", rng.below(5)),
            &[0u8, 1, 2, 255][..rng.below(4) as usize],
        )
        .unwrap();
    }
    if o.privileged && kind != 'c' && rng.chance(15) {
        xattr::set(p, "trusted.note", b"t").unwrap();
    }
    if kind != 'l' {
        let mut mode = rng.below(0o1000) as u32 | 0o400;
        if kind == 'd' {
            mode |= 0o700;
        }
        if rng.chance(20) {
            mode |= 0o1000;
        }
        if o.privileged && rng.chance(20) && kind != 'd' {
            mode |= 0o6000;
        }
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(p, fs::Permissions::from_mode(mode)).unwrap();
    }
    let t = TimeSpec::new(
        rng.below(1 << 33) as i64,
        if rng.chance(50) {
            rng.below(1_000_000_000) as i64
        } else {
            0
        },
    );
    utimensat(None, p, &t, &t, UtimensatFlags::NoFollowSymlink).unwrap();
}

/// Fill `dir` with a random tree for `seed`.
pub fn gen_tree(dir: &Path, seed: u64, o: &GenOpts) {
    let mut rng = Rng::new(seed);
    let mut files = Vec::new();
    gen_dir(dir, 0, &mut rng, o, &mut files);
}

fn gen_dir(dir: &Path, depth: u32, rng: &mut Rng, o: &GenOpts, files: &mut Vec<PathBuf>) {
    let mut taken = Vec::new();
    let n = rng.below(if depth == 0 { 9 } else { 6 });
    for _ in 0..n {
        let p = dir.join(gen_name(rng, &mut taken));
        let pick = rng.below(100);
        if pick < 30 {
            let len = if rng.chance(10) {
                70_000
            } else {
                rng.below(3000)
            } as usize;
            let data: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            fs::write(&p, data).unwrap();
            set_meta(&p, rng, o, 'f');
            files.push(p);
        } else if pick < 50 && depth < 3 {
            fs::create_dir(&p).unwrap();
            gen_dir(&p, depth + 1, rng, o, files);
            if o.privileged && rng.chance(25) {
                xattr::set(&p, "trusted.overlay.opaque", b"y").unwrap();
            }
            set_meta(&p, rng, o, 'd');
        } else if pick < 65 {
            let targets = ["../x", "/etc/passwd", "a/b/c", "."];
            let t = if rng.chance(20) {
                "t/".repeat(80)
            } else {
                targets[rng.below(4) as usize].to_string()
            };
            std::os::unix::fs::symlink(&t, &p).unwrap();
            set_meta(&p, rng, o, 'l');
        } else if pick < 75 && !files.is_empty() {
            let src = files[rng.below(files.len() as u64) as usize].clone();
            fs::hard_link(&src, &p).unwrap();
        } else if pick < 82 {
            nix::unistd::mkfifo(&p, nix::sys::stat::Mode::from_bits_truncate(0o644)).unwrap();
            set_meta(&p, rng, o, 'p');
        } else if pick < 92 && o.privileged {
            // A whiteout, as overlayfs writes it.
            nix::sys::stat::mknod(
                &p,
                nix::sys::stat::SFlag::S_IFCHR,
                nix::sys::stat::Mode::empty(),
                0,
            )
            .unwrap();
            set_meta(&p, rng, o, 'c');
        } else if o.privileged {
            let dev = nix::sys::stat::makedev(rng.below(4095) + 1, rng.below(1 << 20));
            nix::sys::stat::mknod(
                &p,
                nix::sys::stat::SFlag::S_IFBLK,
                nix::sys::stat::Mode::empty(),
                dev,
            )
            .unwrap();
            set_meta(&p, rng, o, 'b');
        }
    }
}
