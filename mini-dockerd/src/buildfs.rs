//! The filesystem side of a build: the layers a step writes into, and
//! the files COPY and ADD take, never from outside where they may come from.
//!
//! ```text
//! MountedLayer::new   create_rw <id> on the parent's top layer   (chapter 03 driver)
//!                     mount it at builds/<build>/<id>            (overlay, or a bind of a full copy)
//! CopyPlan::apply     copy the sources in (resolve_in: symlinks stay inside the root)
//! MountedLayer::finish unmount; diff the layer into a tar         (chapter 03 diff)
//!                     -> a gzip blob in the store, its diff id   (chapter 04 add_layer)
//! drop                remove the driver layer
//! ```
//!
//! Sources are resolved with [`resolve_in`]: in the build context strictly
//! (`../x`, an absolute symlink or one that climbs out is an error, like
//! Docker's "forbidden path outside the build context"), in another stage's
//! files like the kernel would inside a chroot. Archives that ADD extracts
//! go through chapter 03's safe apply (every entry resolved inside the
//! target with `openat2(RESOLVE_IN_ROOT)`).

use super::builder::{Current, Layer};
use super::{util, ApiError, Engine, Result};
use crate::build::ignore;
use ::images::digest::{self, Algorithm, Hasher};
use ::images::media::Compression;
use std::collections::VecDeque;
use std::io::{Read, Seek};
use std::path::{Path, PathBuf};

fn internal(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> ApiError {
    super::errors::system(e)
}

/// Paths a container gets from the engine, not from its command: mount
/// points of /dev, /proc, /sys and the bind-mounted /etc files. Docker keeps
/// them in an "init layer" below the container's; here they are left out
/// of the diff of a RUN step.
fn engine_made(path: &str) -> bool {
    let p = path.trim_start_matches("./").trim_end_matches('/');
    matches!(p, "etc/hosts" | "etc/hostname" | "etc/resolv.conf")
        || ["dev", "proc", "sys"]
            .iter()
            .any(|d| p == *d || p.starts_with(&format!("{d}/")))
}

/// The diff of driver layer `id` as a layer in the store; `None` when it
/// changed nothing. With `drop_engine_made`, the engine's mount points go.
pub fn diff_to_layer(
    engine: &Engine,
    driver: &dyn unionfs::Driver,
    id: &str,
    drop_engine_made: bool,
) -> Result<Option<Layer>> {
    let mut raw = tempfile::tempfile_in(&engine.opts.root).map_err(internal)?;
    driver.diff(id, &mut raw).map_err(internal)?;
    raw.rewind().map_err(internal)?;
    // Pass 1: which names stay.
    let mut names = Vec::new();
    {
        let mut a = tar::Archive::new(&mut raw);
        for e in a.entries().map_err(internal)? {
            let e = e.map_err(internal)?;
            names.push(e.path().map_err(internal)?.to_string_lossy().into_owned());
        }
    }
    let clean = |n: &str| n.trim_start_matches("./").trim_end_matches('/').to_string();
    let keep: Vec<bool> = names
        .iter()
        .map(|n| {
            if !drop_engine_made {
                return true;
            }
            let c = clean(n);
            if engine_made(&c) {
                return false;
            }
            // `etc/` is in the diff only because the engine put a file in it.
            if c == "etc" {
                return names.iter().any(|o| {
                    let o = clean(o);
                    o.starts_with("etc/") && !engine_made(&o)
                });
            }
            true
        })
        .collect();
    if !keep.iter().any(|k| *k) {
        return Ok(None);
    }
    // Pass 2: copy the entries that stay.
    raw.rewind().map_err(internal)?;
    let mut filtered = tempfile::tempfile_in(&engine.opts.root).map_err(internal)?;
    let mut content = 0u64;
    {
        let mut b = tar::Builder::new(&mut filtered);
        let mut a = tar::Archive::new(&mut raw);
        for (e, k) in a.entries().map_err(internal)?.zip(keep) {
            let mut e = e.map_err(internal)?;
            if !k {
                continue;
            }
            let path = e.path().map_err(internal)?.into_owned();
            let mut h = e.header().clone();
            let kind = h.entry_type();
            if kind.is_symlink() || kind.is_hard_link() {
                let target = e
                    .link_name()
                    .map_err(internal)?
                    .map(|t| t.into_owned())
                    .unwrap_or_default();
                b.append_link(&mut h, &path, &target).map_err(internal)?;
            } else {
                if kind.is_file() {
                    content += h.size().unwrap_or(0);
                }
                b.append_data(&mut h, &path, &mut e).map_err(internal)?;
            }
        }
        b.finish().map_err(internal)?;
    }
    filtered.rewind().map_err(internal)?;
    ::images::import::add_layer(&engine.images.store, filtered, Compression::Gzip)
        .map(|l| Some((l, content)))
        .map_err(internal)
}

/// The driver layer holding `cur`'s files (unpacked on first use).
fn top_layer(
    engine: &Engine,
    driver: &dyn unionfs::Driver,
    cur: &Current,
) -> Result<Option<String>> {
    if cur.layers.is_empty() {
        return Ok(None);
    }
    let img = engine.images.resolve(&cur.id)?;
    let (_, top) = ::images::layer::unpack_into_driver_limited(
        driver,
        &engine.images.store.blobs,
        &img,
        &engine.opts.layer_limits(),
    )
    .map_err(|e| match e {
        ::images::Error::LayerTooLarge { .. } => ApiError::bad(crate::errors::chain(&e)),
        e => internal(e),
    })?;
    Ok(top)
}

/// A writable driver layer on an image, mounted; unmounted and removed
/// when dropped.
pub struct MountedLayer {
    driver: Box<dyn unionfs::Driver>,
    id: String,
    path: PathBuf,
    mounted: Option<unionfs::Mounted>,
}

impl MountedLayer {
    /// A new layer `md-build-<hex>` on `cur`'s layers, mounted under `scratch`.
    pub fn new(engine: &Engine, scratch: &Path, cur: &Current) -> Result<MountedLayer> {
        let driver = engine.images.driver();
        let top = top_layer(engine, driver.as_ref(), cur)?;
        let id = format!("md-build-{}", &util::new_id()[..16]);
        driver.create_rw(&id, top.as_deref()).map_err(internal)?;
        let mut m = MountedLayer {
            driver,
            path: scratch.join(&id),
            id,
            mounted: None,
        };
        std::fs::create_dir_all(&m.path).map_err(internal)?;
        let mounts = m.driver.mounts(&m.id, &m.path).map_err(internal)?;
        m.mounted = Some(unionfs::Mounted::apply_all(&mounts).map_err(internal)?);
        Ok(m)
    }

    /// Where the files are.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Unmounts, and stores what changed as a layer (`None`: nothing changed).
    pub fn finish(mut self, engine: &Engine) -> Result<Option<Layer>> {
        self.mounted.take();
        diff_to_layer(engine, self.driver.as_ref(), &self.id, false)
    }
}

impl Drop for MountedLayer {
    fn drop(&mut self) {
        self.mounted.take();
        let _ = self.driver.remove(&self.id);
        let _ = std::fs::remove_dir(&self.path);
    }
}

/// What a COPY or ADD does, once its sources are known.
#[derive(Debug, Clone)]
pub struct CopyPlan {
    /// The sources, resolved (files, directories, symlinks).
    pub paths: Vec<PathBuf>,
    /// The destination, absolute (a relative one was joined to WORKDIR).
    pub dest: String,
    /// The destination was written as a directory (`/dst/`).
    pub dest_is_dir: bool,
    /// `--chown=user[:group]`, resolved in the image's /etc/passwd and /etc/group.
    pub chown: Option<String>,
    /// ADD: local tar archives are extracted into the destination.
    pub extract_archives: bool,
}

impl CopyPlan {
    /// Copies the sources into the root filesystem at `rootfs`.
    pub fn apply(&self, rootfs: &Path) -> Result<()> {
        let read = |p: &str| {
            resolve_in(rootfs, p, false)
                .ok()
                .and_then(|p| std::fs::read_to_string(p).ok())
                .unwrap_or_default()
        };
        let owner = match &self.chown {
            None => (0, 0),
            Some(c) => {
                ::images::runtime::resolve_user(c, &read("/etc/passwd"), &read("/etc/group"))
                    .map_err(|e| {
                        ApiError::bad(format!("--chown={c}: {}", crate::errors::chain(&e)))
                    })?
            }
        };
        let dest_dir = self.dest_is_dir
            || self.paths.len() > 1
            || resolve_in(rootfs, &self.dest, false).is_ok_and(|d| d.is_dir());
        for p in &self.paths {
            let archive = self.extract_archives && p.is_file() && is_archive(p);
            // A directory's *contents* go to dest; so does an archive's.
            let target = if p.is_dir() || archive || !dest_dir {
                self.dest.clone()
            } else {
                let name = p.file_name().unwrap_or_default().to_string_lossy();
                format!("{}/{name}", self.dest.trim_end_matches('/'))
            };
            if archive {
                // The archive's own owners stay, even with `--chown`: Docker
                // 20.10's builder does the same (the comparison test pins it).
                let t = resolve_in(rootfs, &target, false).map_err(ApiError::bad)?;
                mkdir_p(&t).map_err(internal)?;
                extract(p, &t)?;
            } else if p.is_dir() {
                let t = resolve_in(rootfs, &target, false).map_err(ApiError::bad)?;
                mkdir_p(&t).map_err(internal)?;
                for e in std::fs::read_dir(p).map_err(internal)?.flatten() {
                    let name = e.file_name().to_string_lossy().into_owned();
                    let inside = format!("{}/{name}", target.trim_end_matches('/'));
                    copy_tree(&e.path(), rootfs, &inside, owner)?;
                }
            } else {
                copy_tree(p, rootfs, &target, owner)?;
            }
        }
        Ok(())
    }
}

/// Extracts a (plain, gzip or zstd) tar into `dir`, through chapter 03's safe apply.
fn extract(archive: &Path, dir: &Path) -> Result<()> {
    let f = std::fs::File::open(archive).map_err(internal)?;
    let mut br = std::io::BufReader::new(f);
    let c = ::images::media::sniff(std::io::BufRead::fill_buf(&mut br).map_err(internal)?);
    let r = ::images::layer::decompress(br, c).map_err(internal)?;
    let opts = unionfs::ApplyOptions {
        whiteouts: unionfs::WhiteoutMode::Plain,
        ..Default::default()
    };
    unionfs::apply(r, dir, &opts)
        .map(|_| ())
        .map_err(|e| ApiError::bad(format!("ADD {}: {e}", archive.display())))
}

/// The sources of a COPY/ADD under `root` (wildcards expanded), resolved;
/// with `strict`, nothing may lead out of `root`.
pub fn sources(
    root: &Path,
    strict: bool,
    srcs: &[String],
) -> std::result::Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    for s in srcs {
        if s.starts_with("http://") || s.starts_with("https://") {
            return Err(format!(
                "ADD from a URL ({s}) is not supported: the daemon does not fetch from the network during a build; download it into the context"
            ));
        }
        if s.contains(['*', '?', '[']) {
            let pat = ignore::Pattern::new(s)?;
            let mut hits = Vec::new();
            walk(root, "", &mut |rel| {
                if pat.matches_path(rel) {
                    hits.push(rel.to_string());
                }
            });
            if hits.is_empty() {
                return Err(format!(
                    "COPY failed: no source files were specified (nothing matches {s})"
                ));
            }
            hits.sort();
            for h in hits {
                out.push(resolve_in(root, &h, strict)?);
            }
            continue;
        }
        let p = resolve_in(root, s, strict)?;
        if std::fs::symlink_metadata(&p).is_err() {
            return Err(format!(
                "COPY failed: file not found in build context or excluded by .dockerignore: stat {s}: file does not exist"
            ));
        }
        out.push(p);
    }
    Ok(out)
}

/// Docker's name for the copied content in the history and the cache key:
/// `file:<sha256>`, `dir:<sha256>` or `multi:<sha256>` over names, modes,
/// contents and link targets (not times: touching a file keeps the cache).
pub fn content_digest(root: &Path, paths: &[PathBuf]) -> std::io::Result<String> {
    let mut h = Hasher::new(Algorithm::Sha256);
    for p in paths {
        let rel = p.strip_prefix(root).unwrap_or(p);
        hash_tree(&mut h, root, &rel.to_string_lossy())?;
    }
    let kind = match paths {
        [one] if one.is_dir() => "dir",
        [_] => "file",
        _ => "multi",
    };
    Ok(format!("{kind}:{}", digest::hex_of(&h.finish())))
}

/// Resolves `path` inside `root` the way the kernel would if `root` were
/// `/`: symlinks are followed, but never out of `root` (`..` stops at it,
/// absolute targets start at it). With `strict`, a path or a symlink that
/// *tries* to leave `root` is an error instead (the build context).
pub fn resolve_in(root: &Path, path: &str, strict: bool) -> std::result::Result<PathBuf, String> {
    let mut parts: VecDeque<String> = path
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .map(String::from)
        .collect();
    let mut cur: Vec<String> = Vec::new();
    let mut links = 0;
    while let Some(p) = parts.pop_front() {
        if p == ".." {
            if cur.pop().is_none() && strict {
                return Err(format!("forbidden path outside the build context: {path}"));
            }
            continue;
        }
        let full = cur
            .iter()
            .fold(root.to_path_buf(), |a, c| a.join(c))
            .join(&p);
        match std::fs::symlink_metadata(&full) {
            Ok(m) if m.file_type().is_symlink() => {
                links += 1;
                if links > 40 {
                    return Err(format!("too many levels of symbolic links: {path}"));
                }
                let target = std::fs::read_link(&full).map_err(|e| e.to_string())?;
                let t = target.to_string_lossy().into_owned();
                if t.starts_with('/') {
                    if strict {
                        return Err(format!(
                            "forbidden path outside the build context: {path} (a symlink to {t})"
                        ));
                    }
                    cur.clear();
                }
                let mut next: VecDeque<String> = t
                    .split('/')
                    .filter(|p| !p.is_empty() && *p != ".")
                    .map(String::from)
                    .collect();
                next.extend(parts.drain(..));
                parts = next;
            }
            _ => cur.push(p),
        }
    }
    Ok(cur.iter().fold(root.to_path_buf(), |a, c| a.join(c)))
}

/// Hashes what a COPY would copy (names, modes, contents, link targets).
fn hash_tree(h: &mut Hasher, base: &Path, rel: &str) -> std::io::Result<()> {
    let p = base.join(rel);
    let m = std::fs::symlink_metadata(&p)?;
    use std::os::unix::fs::PermissionsExt;
    let mode = m.permissions().mode();
    if m.file_type().is_symlink() {
        let t = std::fs::read_link(&p)?;
        h.update(format!("L {rel} {}\n", t.display()).as_bytes());
    } else if m.is_dir() {
        h.update(format!("D {rel} {mode:o}\n").as_bytes());
        let mut names: Vec<String> = std::fs::read_dir(&p)?
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        for n in names {
            let child = if rel.is_empty() {
                n
            } else {
                format!("{rel}/{n}")
            };
            hash_tree(h, base, &child)?;
        }
    } else if m.is_file() {
        h.update(format!("F {rel} {mode:o} {}\n", m.len()).as_bytes());
        let mut f = std::fs::File::open(&p)?;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = f.read(&mut buf)?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
        }
    }
    Ok(())
}

/// Copies `src` (a file, symlink or directory tree) to `dst`, a path
/// *inside* `rootfs`, owned by `owner`, keeping modes and modification times.
///
/// Every destination is resolved inside `rootfs` first ([`resolve_in`]):
/// the image may hold symlinks such as `/app/conf -> /etc`, which the
/// daemon, not chrooted, would otherwise follow to the *host's* `/etc`.
/// A symlink in the sources is copied as a symlink, never followed.
fn copy_tree(src: &Path, rootfs: &Path, dst: &str, owner: (u32, u32)) -> Result<()> {
    use std::os::unix::fs::{lchown, PermissionsExt};
    let io = |e: std::io::Error| internal(format!("copy {} to {dst}: {e}", src.display()));
    let m = std::fs::symlink_metadata(src).map_err(io)?;
    let out = if m.file_type().is_symlink() {
        // The link itself replaces the name: resolve only its directory.
        let (dir, name) = dst.rsplit_once('/').unwrap_or(("", dst));
        let out = resolve_in(rootfs, dir, false)
            .map_err(ApiError::bad)?
            .join(name);
        mkdir_p(out.parent().unwrap_or(rootfs)).map_err(io)?;
        if std::fs::symlink_metadata(&out).is_ok_and(|d| d.is_dir()) {
            std::fs::remove_dir_all(&out).map_err(io)?;
        } else {
            let _ = std::fs::remove_file(&out);
        }
        std::os::unix::fs::symlink(std::fs::read_link(src).map_err(io)?, &out).map_err(io)?;
        out
    } else if m.is_dir() {
        let out = resolve_in(rootfs, dst, false).map_err(ApiError::bad)?;
        if !std::fs::symlink_metadata(&out).is_ok_and(|d| d.is_dir()) {
            let _ = std::fs::remove_file(&out);
            mkdir_p(&out).map_err(io)?;
        }
        std::fs::set_permissions(
            &out,
            std::fs::Permissions::from_mode(m.permissions().mode()),
        )
        .map_err(io)?;
        for e in std::fs::read_dir(src).map_err(io)?.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            copy_tree(
                &e.path(),
                rootfs,
                &format!("{}/{name}", dst.trim_end_matches('/')),
                owner,
            )?;
        }
        // Last: adding the children changed the directory's time.
        std::fs::File::open(&out)
            .and_then(|f| f.set_modified(m.modified()?))
            .map_err(io)?;
        out
    } else if m.is_file() {
        let out = resolve_in(rootfs, dst, false).map_err(ApiError::bad)?;
        mkdir_p(out.parent().unwrap_or(rootfs)).map_err(io)?;
        if std::fs::symlink_metadata(&out).is_ok_and(|d| d.is_dir()) {
            std::fs::remove_dir_all(&out).map_err(io)?;
        }
        std::fs::copy(src, &out).map_err(io)?;
        // The owner first: chown clears setuid and setgid on a regular
        // file, and COPY keeps them (as Docker's does).
        lchown(&out, Some(owner.0), Some(owner.1)).map_err(io)?;
        std::fs::set_permissions(
            &out,
            std::fs::Permissions::from_mode(m.permissions().mode()),
        )
        .map_err(io)?;
        // COPY keeps the modification time, as Docker's does.
        std::fs::File::options()
            .write(true)
            .open(&out)
            .and_then(|f| f.set_modified(m.modified()?))
            .map_err(io)?;
        return Ok(());
    } else {
        return Ok(()); // devices, fifos, sockets: not copied
    };
    lchown(&out, Some(owner.0), Some(owner.1)).map_err(io)
}

/// Creates the directories of `dir` (already resolved inside the root).
fn mkdir_p(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)
}

/// Whether `file` is a tar archive (plain, gzip or zstd): ADD extracts those.
fn is_archive(file: &Path) -> bool {
    let Ok(f) = std::fs::File::open(file) else {
        return false;
    };
    let mut br = std::io::BufReader::new(f);
    let Ok(head) = std::io::BufRead::fill_buf(&mut br) else {
        return false;
    };
    let c = ::images::media::sniff(head);
    let Ok(r) = ::images::layer::decompress(br, c) else {
        return false;
    };
    let mut a = tar::Archive::new(r);
    let ok = matches!(a.entries().map(|mut e| e.next()), Ok(Some(Ok(_))));
    ok
}

/// Every path under `root` (relative, `/`-separated), depth first.
fn walk(root: &Path, rel: &str, f: &mut dyn FnMut(&str)) {
    let dir = if rel.is_empty() {
        root.to_path_buf()
    } else {
        root.join(rel)
    };
    let Ok(rd) = std::fs::read_dir(&dir) else {
        return;
    };
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let r = if rel.is_empty() {
            name
        } else {
            format!("{rel}/{name}")
        };
        f(&r);
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            walk(root, &r, f);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    /// A root with files, a directory and symlinks of every kind.
    fn tree() -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        std::fs::create_dir_all(r.join("dir/sub")).unwrap();
        std::fs::write(r.join("dir/sub/f"), "f").unwrap();
        symlink("dir/sub", r.join("rel")).unwrap();
        symlink("/dir", r.join("abs")).unwrap();
        symlink("../../../../etc", r.join("climb")).unwrap();
        symlink("rel", r.join("chain")).unwrap();
        symlink("loop2", r.join("loop1")).unwrap();
        symlink("loop1", r.join("loop2")).unwrap();
        d
    }

    #[test]
    fn resolve_in_stays_inside_the_root() {
        let d = tree();
        let r = d.path();
        let show = |p: &str, strict: bool| match resolve_in(r, p, strict) {
            Ok(x) => format!("/{}", x.strip_prefix(r).unwrap().to_string_lossy()),
            Err(e) => format!("error: {}", e),
        };
        let mut out = String::new();
        for p in [
            "dir/sub/f",
            "./dir//sub/../sub/f",
            "rel/f",
            "chain/f",
            "abs/sub/f",
            "climb/passwd",
            "../../etc/passwd",
            "/../x",
            "loop1",
            "missing/x",
        ] {
            out.push_str(&format!(
                "{p:<22} image: {:<16} context: {}\n",
                show(p, false),
                show(p, true)
            ));
        }
        insta::assert_snapshot!(out);
    }

    #[test]
    fn sources_expand_wildcards_and_refuse_urls() {
        let d = tree();
        let r = d.path();
        std::fs::write(r.join("a.txt"), "a").unwrap();
        std::fs::write(r.join("b.txt"), "b").unwrap();
        let got = sources(r, true, &["*.txt".into()]).unwrap();
        let names: Vec<String> = got
            .iter()
            .map(|p| p.strip_prefix(r).unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, vec!["a.txt", "b.txt"]);
        assert!(sources(r, true, &["*.none".into()]).is_err());
        assert!(sources(r, true, &["http://127.0.0.1/x".into()])
            .unwrap_err()
            .contains("not supported"));
        assert!(sources(r, true, &["nothing".into()])
            .unwrap_err()
            .contains("file not found in build context"));
    }

    #[test]
    fn the_content_digest_sees_contents_not_times() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("f");
        std::fs::write(&f, "one").unwrap();
        let a = content_digest(d.path(), std::slice::from_ref(&f)).unwrap();
        std::fs::File::options()
            .write(true)
            .open(&f)
            .unwrap()
            .set_modified(std::time::UNIX_EPOCH)
            .unwrap();
        assert_eq!(
            content_digest(d.path(), std::slice::from_ref(&f)).unwrap(),
            a
        );
        std::fs::write(&f, "two").unwrap();
        let b = content_digest(d.path(), std::slice::from_ref(&f)).unwrap();
        assert_ne!(a, b);
        assert!(a.starts_with("file:") && a.len() == 5 + 64, "{a}");
        assert!(content_digest(d.path(), &[d.path().to_path_buf()])
            .unwrap()
            .starts_with("dir:"));
    }

    #[test]
    fn engine_made_paths_are_the_init_layer() {
        for p in [
            "etc/hosts",
            "./etc/resolv.conf",
            "dev/",
            "proc",
            "sys/fs",
            "dev/null",
        ] {
            assert!(engine_made(p), "{p}");
        }
        for p in ["etc/passwd", "etc", "device", "procfs/x", "srv/dev"] {
            assert!(!engine_made(p), "{p}");
        }
    }
}
