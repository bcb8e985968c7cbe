//! Storage drivers: where layers live and how a container root is assembled.
//!
//! Both drivers keep one directory per layer under a root of their own (a
//! parameter), with a `parent` file naming the layer below:
//!
//! ```text
//! overlay (Docker's overlay2)            copy (Docker's vfs)
//! <root>/<id>/diff/   this layer only    <root>/<id>/fs/    the full tree
//! <root>/<id>/work/   overlay scratch    <root>/<id>/parent
//! <root>/<id>/parent
//! ```
//!
//! | step | overlay | copy |
//! | --- | --- | --- |
//! | apply a layer tar | untar into an empty `diff/`, whiteouts as 0/0 devices | copy the parent's `fs/`, untar over it, whiteouts delete |
//! | container root | one overlay mount: lowers = parents' `diff/`, upper = own `diff/` | a bind mount of `fs/` |
//! | diff | the upper dir, translated | compare `fs/` with the parent's `fs/` |
//! | cost | nothing copied | every layer is a full copy (disk and time) |
//! | a layer before its parent | yes ([`Driver::fill_detached`]): a `diff/` needs nothing below it | no: it starts as the parent's copy |
//!
//! The copy driver works on any filesystem; overlay needs an upper dir on a
//! filesystem that supports it (not overlayfs itself, for example). Like
//! containerd's snapshotters, [`Driver::mounts`] returns mounts as data.
//! [`select_driver`] probes overlay with a real test mount and says why it
//! falls back.

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::apply::{apply, ApplyOptions, ApplyStats, WhiteoutMode};
use crate::diff::{self, DiffItem, DiffStats};
use crate::mount::Mount;
use crate::whiteout::{self, Change, ChangeKind};
use crate::Error;

/// The default place where the kernel shows overlay module parameters.
pub const OVERLAY_PARAMS: &str = "/sys/module/overlay/parameters";

/// A storage driver: layers in, mounts and diffs out.
pub trait Driver {
    /// `overlay` or `copy`.
    fn name(&self) -> &'static str;
    /// The directory holding the layers.
    fn root(&self) -> &Path;
    /// Create layer `id` on top of `parent` from an OCI layer tar.
    fn apply_layer(
        &self,
        id: &str,
        parent: Option<&str>,
        layer: &mut dyn Read,
    ) -> Result<ApplyStats, Error>;
    /// Create an empty writable layer `id` on top of `parent` (a container).
    fn create_rw(&self, id: &str, parent: Option<&str>) -> Result<(), Error>;
    /// The mounts that show layer `id` and its parents at `target`.
    fn mounts(&self, id: &str, target: &Path) -> Result<Vec<Mount>, Error>;
    /// The directory where writes to layer `id` land (to look at).
    fn upper_dir(&self, id: &str) -> PathBuf;
    /// Write what layer `id` changed relative to its parent as a layer tar.
    fn diff(&self, id: &str, out: &mut dyn Write) -> Result<DiffStats, Error>;
    /// What layer `id` changed, like `docker diff`.
    fn changes(&self, id: &str) -> Result<Vec<Change>, Error>;
    /// Delete layer `id` (it must not be mounted).
    fn remove(&self, id: &str) -> Result<(), Error>;
    /// Can a layer be filled before its parent exists ([`Driver::fill_detached`])?
    fn detached_layers(&self) -> bool {
        false
    }
    /// Fill layer `id` from a layer tar **without** its parent being there
    /// yet, and without publishing it: the result waits under a temporary
    /// name until [`publish_layers`] moves it under `id`. This is what lets
    /// a pull unpack every layer of an image at once, as each downloads.
    ///
    /// Only overlay can: each of its layers is a self-contained `diff/`
    /// (whiteouts are stored as 0/0 devices, not applied to the parent), and
    /// the parent chain matters only when [`Driver::mounts`] stacks them.
    /// The copy driver starts every layer from a copy of its parent, so it
    /// refuses; apply its layers in order with [`Driver::apply_layer`].
    fn fill_detached(
        &self,
        id: &str,
        parent: Option<&str>,
        layer: &mut dyn Read,
    ) -> Result<(ApplyStats, FilledLayer), Error> {
        let _ = (id, parent, layer);
        Err(Error::Layer {
            step: "fill a layer apart from its parent (the driver builds each layer on a copy of its parent) in",
            path: self.root().to_path_buf(),
            source: std::io::ErrorKind::Unsupported.into(),
        })
    }
    /// The layer `id` sits on, if any (both drivers record it in
    /// `<root>/<id>/parent`).
    fn parent_of(&self, id: &str) -> Option<String> {
        Layers::check_id(id).ok()?;
        let text = fs::read_to_string(self.root().join(id).join("parent")).ok()?;
        Some(text.trim().to_string()).filter(|p| !p.is_empty())
    }
}

/// Layer bookkeeping shared by both drivers.
#[derive(Debug, Clone)]
struct Layers {
    root: PathBuf,
}

impl Layers {
    fn dir(&self, id: &str) -> PathBuf {
        self.root.join(id)
    }

    fn check_id(id: &str) -> Result<(), Error> {
        let ok = !id.is_empty()
            && id != "."
            && id != ".."
            && id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if ok {
            Ok(())
        } else {
            Err(Error::InvalidLayerId { id: id.into() })
        }
    }

    fn exists(&self, id: &str) -> Result<(), Error> {
        Self::check_id(id)?;
        if self.dir(id).is_dir() {
            Ok(())
        } else {
            Err(Error::UnknownLayer {
                id: id.into(),
                root: self.root.clone(),
            })
        }
    }

    /// mkdir `<root>/<id>` and the given subdirectories, record the parent.
    fn create(&self, id: &str, parent: Option<&str>, subdirs: &[&str]) -> Result<PathBuf, Error> {
        if let Some(p) = parent {
            self.exists(p)?;
        }
        self.create_detached(id, parent, subdirs)
    }

    /// [`Layers::create`] without requiring the parent to exist yet (its
    /// id is checked and recorded; the mount will need it).
    fn create_detached(
        &self,
        id: &str,
        parent: Option<&str>,
        subdirs: &[&str],
    ) -> Result<PathBuf, Error> {
        Self::check_id(id)?;
        if let Some(p) = parent {
            Self::check_id(p)?;
        }
        let dir = self.dir(id);
        let mk = |p: &Path| {
            fs::create_dir_all(p).map_err(|source| Error::Layer {
                step: "create the layer directory",
                path: p.to_path_buf(),
                source,
            })
        };
        fs::create_dir(&dir).map_err(|source| Error::Layer {
            step: "create the layer directory",
            path: dir.clone(),
            source,
        })?;
        for s in subdirs {
            mk(&dir.join(s))?;
        }
        if let Some(p) = parent {
            let f = dir.join("parent");
            fs::write(&f, p).map_err(|source| Error::Layer {
                step: "record the parent layer in",
                path: f,
                source,
            })?;
        }
        Ok(dir)
    }

    fn parent(&self, id: &str) -> Result<Option<String>, Error> {
        let f = self.dir(id).join("parent");
        match fs::read_to_string(&f) {
            Ok(s) => Ok(Some(s.trim().to_string())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(Error::Layer {
                step: "read the parent layer from",
                path: f,
                source,
            }),
        }
    }

    /// `id`, its parent, its grandparent, ... (topmost first).
    fn chain(&self, id: &str) -> Result<Vec<String>, Error> {
        self.exists(id)?;
        let mut out = vec![id.to_string()];
        while let Some(p) = self.parent(out.last().expect("not empty"))? {
            self.exists(&p)?;
            if out.contains(&p) || out.len() > 500 {
                return Err(Error::Layer {
                    step: "follow the parent chain of",
                    path: self.dir(id),
                    source: std::io::Error::other("the chain loops or is too long"),
                });
            }
            out.push(p);
        }
        Ok(out)
    }

    fn remove(&self, id: &str) -> Result<(), Error> {
        self.exists(id)?;
        let dir = self.dir(id);
        fs::remove_dir_all(&dir).map_err(|source| Error::Layer {
            step: "remove the layer directory",
            path: dir,
            source,
        })
    }

    /// Create a layer dir and undo it if `fill` fails.
    fn create_filled<T>(
        &self,
        id: &str,
        parent: Option<&str>,
        subdirs: &[&str],
        fill: impl FnOnce(&Path) -> Result<T, Error>,
    ) -> Result<T, Error> {
        // Filled under a temporary name, renamed into place when whole:
        // a crash mid-fill, or a second unpacker of the same layer, never
        // sees half a layer under its id (`mv` is atomic, like a blob's).
        Self::check_id(id)?;
        let tmp_id = temp_layer_id(id);
        let dir = self.create(&tmp_id, parent, subdirs)?;
        let out = fill(&dir).inspect_err(|_| {
            let _ = fs::remove_dir_all(&dir);
        })?;
        let target = self.dir(id);
        match fs::rename(&dir, &target) {
            Ok(()) => Ok(out),
            // Another unpacker put the same layer in place first.
            Err(_) if target.is_dir() => {
                let _ = fs::remove_dir_all(&dir);
                Ok(out)
            }
            Err(source) => {
                let _ = fs::remove_dir_all(&dir);
                Err(Error::Layer {
                    step: "move the filled layer into place at",
                    path: target,
                    source,
                })
            }
        }
    }
}

/// Prefix of a layer being filled (what a crash mid-fill leaves: remove it).
pub const FILLING_PREFIX: &str = ".ch03-filling-";

/// A layer filled under a temporary name by [`Driver::fill_detached`], not
/// yet under its id: nothing trusts it until [`publish_layers`] renames it.
/// Dropped unpublished (an error, a failed digest), it is removed.
#[derive(Debug)]
pub struct FilledLayer {
    tmp: PathBuf,
    target: PathBuf,
}

impl FilledLayer {
    /// Where it will be published.
    pub fn target(&self) -> &Path {
        &self.target
    }
}

impl Drop for FilledLayer {
    fn drop(&mut self) {
        if !self.tmp.as_os_str().is_empty() {
            let _ = fs::remove_dir_all(&self.tmp);
        }
    }
}

/// Make filled layers durable, then visible under their ids.
///
/// ```text
/// syncfs(<root>)            1. every file of every layer reaches the disk: one call,
///                              not one fsync per file (a Debian layer has 8,000)
/// rename(tmp, <root>/<id>)  2. each layer appears whole, or not at all
/// fsync(<root>)             3. the renames themselves survive a crash
/// ```
///
/// A process killed before step 2 leaves only `.ch03-filling-*` directories,
/// which no create trusts (the daemon removes them at its next start). A
/// layer another unpacker published first is kept, and ours removed.
pub fn publish_layers(root: &Path, layers: Vec<FilledLayer>) -> Result<(), Error> {
    if layers.is_empty() {
        return Ok(());
    }
    let io_err = |step: &'static str, path: &Path| {
        let path = path.to_path_buf();
        move |source| Error::Layer { step, path, source }
    };
    let dir = fs::File::open(root).map_err(io_err("open the layer root", root))?;
    crate::sys::syncfs(&dir).map_err(io_err("syncfs(2) the filesystem of", root))?;
    for mut l in layers {
        let tmp = std::mem::take(&mut l.tmp);
        match fs::rename(&tmp, &l.target) {
            Ok(()) => {}
            Err(_) if l.target.is_dir() => {
                let _ = fs::remove_dir_all(&tmp);
            }
            Err(source) => {
                let _ = fs::remove_dir_all(&tmp);
                return Err(Error::Layer {
                    step: "move the filled layer into place at",
                    path: l.target.clone(),
                    source,
                });
            }
        }
    }
    dir.sync_all().map_err(io_err("fsync the layer root", root))
}

/// A unique temporary id next to layer `id`.
fn temp_layer_id(id: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    format!(
        "{FILLING_PREFIX}{id}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Options overlayfs must have off for an upper dir alone to describe the
/// changes: with `redirect_dir` a renamed directory is only a pointer to its
/// old lower name, with `metacopy` a chmod copies up metadata but no data,
/// and `index` ties the upper to its lowers. Each is added as `NAME=off`
/// only if the module default (read from `params`, normally
/// [`OVERLAY_PARAMS`]) turns it on.
pub fn overlay_extra_options(params: &Path) -> Vec<String> {
    ["redirect_dir", "metacopy", "index"]
        .iter()
        .filter(|name| {
            let v = fs::read_to_string(params.join(name)).unwrap_or_default();
            matches!(v.trim(), "Y" | "y" | "on" | "1" | "follow")
        })
        .map(|name| format!("{name}=off"))
        .collect()
}

/// The overlay driver (Docker's overlay2, without the short-name links).
#[derive(Debug, Clone)]
pub struct OverlayDriver {
    layers: Layers,
    extra: Vec<String>,
    /// Options used when applying layer tars.
    pub apply_options: ApplyOptions,
}

impl OverlayDriver {
    /// A driver keeping its layers in `root` (created if missing).
    pub fn new(root: &Path) -> Result<Self, Error> {
        Self::with_params(root, Path::new(OVERLAY_PARAMS))
    }

    /// Like [`OverlayDriver::new`], reading module defaults from `params`.
    pub fn with_params(root: &Path, params: &Path) -> Result<Self, Error> {
        make_root(root)?;
        Ok(OverlayDriver {
            layers: Layers {
                root: root.to_path_buf(),
            },
            extra: overlay_extra_options(params),
            apply_options: ApplyOptions {
                whiteouts: WhiteoutMode::Overlay,
                ..ApplyOptions::default()
            },
        })
    }

    fn lowers(&self, id: &str) -> Result<Vec<PathBuf>, Error> {
        Ok(self.layers.chain(id)?[1..]
            .iter()
            .map(|l| self.layers.dir(l).join("diff"))
            .collect())
    }
}

fn make_root(root: &Path) -> Result<(), Error> {
    fs::create_dir_all(root).map_err(|source| Error::Layer {
        step: "create the driver root",
        path: root.to_path_buf(),
        source,
    })
}

impl Driver for OverlayDriver {
    fn name(&self) -> &'static str {
        "overlay"
    }

    fn root(&self) -> &Path {
        &self.layers.root
    }

    fn apply_layer(
        &self,
        id: &str,
        parent: Option<&str>,
        layer: &mut dyn Read,
    ) -> Result<ApplyStats, Error> {
        let mut opts = self.apply_options.clone();
        opts.whiteouts = WhiteoutMode::Overlay;
        self.layers
            .create_filled(id, parent, &["diff", "work"], |dir| {
                apply(layer, &dir.join("diff"), &opts)
            })
    }

    fn create_rw(&self, id: &str, parent: Option<&str>) -> Result<(), Error> {
        self.layers
            .create(id, parent, &["diff", "work"])
            .map(|_| ())
    }

    fn detached_layers(&self) -> bool {
        true
    }

    fn fill_detached(
        &self,
        id: &str,
        parent: Option<&str>,
        layer: &mut dyn Read,
    ) -> Result<(ApplyStats, FilledLayer), Error> {
        let mut opts = self.apply_options.clone();
        opts.whiteouts = WhiteoutMode::Overlay;
        Layers::check_id(id)?;
        let tmp = self
            .layers
            .create_detached(&temp_layer_id(id), parent, &["diff", "work"])?;
        // From here on, an error drops `filled`, which removes `tmp`.
        let filled = FilledLayer {
            tmp,
            target: self.layers.dir(id),
        };
        let stats = apply(layer, &filled.tmp.join("diff"), &opts)?;
        Ok((stats, filled))
    }

    fn mounts(&self, id: &str, target: &Path) -> Result<Vec<Mount>, Error> {
        let lowers = self.lowers(id)?;
        let dir = self.layers.dir(id);
        if lowers.is_empty() {
            // A single layer needs no union: bind it, as overlay2 does.
            return Ok(vec![Mount::bind(&dir.join("diff"), target)]);
        }
        Ok(vec![Mount::overlay_with(
            &lowers,
            &dir.join("diff"),
            &dir.join("work"),
            target,
            &self.extra,
        )?])
    }

    fn upper_dir(&self, id: &str) -> PathBuf {
        self.layers.dir(id).join("diff")
    }

    fn diff(&self, id: &str, out: &mut dyn Write) -> Result<DiffStats, Error> {
        self.layers.exists(id)?;
        diff::diff_upper(&self.upper_dir(id), out)
    }

    fn changes(&self, id: &str) -> Result<Vec<Change>, Error> {
        whiteout::changes(&self.upper_dir(id), &self.lowers(id)?)
    }

    fn remove(&self, id: &str) -> Result<(), Error> {
        self.layers.remove(id)
    }
}

/// The copy driver (Docker's vfs): every layer is a full copy of the tree.
#[derive(Debug, Clone)]
pub struct CopyDriver {
    layers: Layers,
    /// Options used when applying layer tars.
    pub apply_options: ApplyOptions,
}

impl CopyDriver {
    /// A driver keeping its layers in `root` (created if missing).
    pub fn new(root: &Path) -> Result<Self, Error> {
        make_root(root)?;
        Ok(CopyDriver {
            layers: Layers {
                root: root.to_path_buf(),
            },
            apply_options: ApplyOptions {
                whiteouts: WhiteoutMode::Delete,
                ..ApplyOptions::default()
            },
        })
    }

    fn fs_of(&self, id: &str) -> PathBuf {
        self.layers.dir(id).join("fs")
    }

    fn parent_fs(&self, id: &str) -> Result<Option<PathBuf>, Error> {
        Ok(self.layers.parent(id)?.map(|p| self.fs_of(&p)))
    }

    /// Create the layer directory holding a full copy of the parent.
    fn create_copy<T>(
        &self,
        id: &str,
        parent: Option<&str>,
        then: impl FnOnce(&Path) -> Result<T, Error>,
    ) -> Result<T, Error> {
        self.layers.create_filled(id, parent, &["fs"], |dir| {
            let fs_dir = dir.join("fs");
            if let Some(p) = parent {
                diff::copy_tree(&self.fs_of(p), &fs_dir)?;
            }
            then(&fs_dir)
        })
    }
}

impl Driver for CopyDriver {
    fn name(&self) -> &'static str {
        "copy"
    }

    fn root(&self) -> &Path {
        &self.layers.root
    }

    fn apply_layer(
        &self,
        id: &str,
        parent: Option<&str>,
        layer: &mut dyn Read,
    ) -> Result<ApplyStats, Error> {
        let mut opts = self.apply_options.clone();
        opts.whiteouts = WhiteoutMode::Delete;
        self.create_copy(id, parent, |fs_dir| apply(layer, fs_dir, &opts))
    }

    fn create_rw(&self, id: &str, parent: Option<&str>) -> Result<(), Error> {
        self.create_copy(id, parent, |_| Ok(()))
    }

    fn mounts(&self, id: &str, target: &Path) -> Result<Vec<Mount>, Error> {
        self.layers.exists(id)?;
        Ok(vec![Mount::bind(&self.fs_of(id), target)])
    }

    fn upper_dir(&self, id: &str) -> PathBuf {
        self.fs_of(id)
    }

    fn diff(&self, id: &str, out: &mut dyn Write) -> Result<DiffStats, Error> {
        self.layers.exists(id)?;
        diff::diff_against(self.parent_fs(id)?.as_deref(), &self.fs_of(id), out)
    }

    fn changes(&self, id: &str) -> Result<Vec<Change>, Error> {
        self.layers.exists(id)?;
        let lower = self.parent_fs(id)?;
        let plan = diff::plan_against(lower.as_deref(), &self.fs_of(id))?;
        Ok(plan
            .into_iter()
            .filter_map(|item| match item {
                DiffItem::Entry(p) => {
                    let in_lower = lower
                        .as_ref()
                        .is_some_and(|l| fs::symlink_metadata(l.join(&p)).is_ok());
                    let kind = if in_lower {
                        ChangeKind::Changed
                    } else {
                        ChangeKind::Added
                    };
                    Some(Change { path: p, kind })
                }
                DiffItem::Whiteout(p) => Some(Change {
                    path: p,
                    kind: ChangeKind::Deleted,
                }),
                DiffItem::Opaque(_) => None,
            })
            .collect())
    }

    fn remove(&self, id: &str) -> Result<(), Error> {
        self.layers.remove(id)
    }
}

/// Which driver to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DriverKind {
    /// overlay if a test mount works, else copy.
    Auto,
    /// overlay, or fail.
    Overlay,
    /// copy.
    Copy,
}

/// A chosen driver and why it was chosen.
pub struct Selection {
    /// The driver.
    pub driver: Box<dyn Driver>,
    /// One sentence for the user.
    pub reason: String,
}

/// The name of the filesystem that holds `path` (from statfs(2)).
pub fn fs_type_name(path: &Path) -> String {
    match nix::sys::statfs::statfs(path) {
        Ok(s) => {
            let magic = s.filesystem_type().0 as u64;
            match magic {
                0x794c_7630 => "overlayfs".into(),
                0x0102_1994 => "tmpfs".into(),
                0xef53 => "ext4".into(),
                0x9123_683e => "btrfs".into(),
                0x5846_5342 => "xfs".into(),
                0x2fc1_2fc1 => "zfs".into(),
                0x6969 => "nfs".into(),
                0x6573_5546 => "fuse".into(),
                m => format!("filesystem 0x{m:x}"),
            }
        }
        Err(e) => format!("unknown filesystem ({e})"),
    }
}

/// Try overlay for real under `root`: mount a tiny overlay, delete a lower
/// file (a whiteout must appear), replace a lower directory (it must turn
/// opaque), unmount, clean up. `Err` says which step failed and why.
pub fn probe_overlay(root: &Path, params: &Path) -> Result<(), String> {
    static N: AtomicU64 = AtomicU64::new(0);
    let dir = root.join(format!(
        ".probe-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    struct Cleanup(PathBuf);
    impl Drop for Cleanup {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }
    fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let _cleanup = Cleanup(dir.clone());
    let io = |what: &str, e: std::io::Error| format!("{what}: {e}");
    for d in ["lower/d", "upper", "work", "merged"] {
        fs::create_dir_all(dir.join(d)).map_err(|e| io("mkdir", e))?;
    }
    fs::write(dir.join("lower/f"), "x").map_err(|e| io("write", e))?;
    fs::write(dir.join("lower/d/x"), "x").map_err(|e| io("write", e))?;
    let m = Mount::overlay_with(
        &[dir.join("lower")],
        &dir.join("upper"),
        &dir.join("work"),
        &dir.join("merged"),
        &overlay_extra_options(params),
    )
    .map_err(|e| e.to_string())?;
    let guard = m.apply().map_err(|e| match e {
        Error::Mount { errno, .. } => format!("the test mount failed with {errno}"),
        other => other.to_string(),
    })?;
    let merged = dir.join("merged");
    fs::remove_file(merged.join("f")).map_err(|e| io("delete a lower file", e))?;
    fs::remove_dir_all(merged.join("d")).map_err(|e| io("delete a lower directory", e))?;
    fs::create_dir(merged.join("d")).map_err(|e| io("recreate the directory", e))?;
    guard.unmount().map_err(|e| e.to_string())?;
    let wh =
        fs::symlink_metadata(dir.join("upper/f")).map_err(|e| io("look for the whiteout", e))?;
    if !whiteout::is_whiteout(&wh) {
        return Err("deleting a lower file left no 0/0 whiteout in upper".into());
    }
    if !whiteout::is_opaque(&dir.join("upper/d")) {
        return Err("a recreated directory was not marked opaque (no trusted.* xattrs?)".into());
    }
    Ok(())
}

/// Pick a driver for layers kept under `root`, and say why.
pub fn select_driver(kind: DriverKind, root: &Path) -> Result<Selection, Error> {
    select_driver_with(kind, root, Path::new(OVERLAY_PARAMS))
}

/// [`select_driver`] reading the overlay module defaults from `params`.
pub fn select_driver_with(
    kind: DriverKind,
    root: &Path,
    params: &Path,
) -> Result<Selection, Error> {
    make_root(root)?;
    let fstype = fs_type_name(root);
    match kind {
        DriverKind::Copy => Ok(Selection {
            driver: Box::new(CopyDriver::new(root)?),
            reason: "copy: asked for (--driver copy); every layer will be a full copy".into(),
        }),
        DriverKind::Overlay => Ok(Selection {
            driver: Box::new(OverlayDriver::with_params(root, params)?),
            reason: "overlay: asked for (--driver overlay)".into(),
        }),
        DriverKind::Auto => match probe_overlay(root, params) {
            Ok(()) => Ok(Selection {
                driver: Box::new(OverlayDriver::with_params(root, params)?),
                reason: format!(
                    "overlay: a test mount in {} (on {fstype}) showed whiteouts and opaque directories working",
                    root.display()
                ),
            }),
            Err(why) => Ok(Selection {
                driver: Box::new(CopyDriver::new(root)?),
                reason: format!(
                    "copy: overlay is not available in {} (on {fstype}): {why}; \
                     falling back to copying each layer in full, like Docker's vfs driver",
                    root.display()
                ),
            }),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extra_options_turn_off_what_breaks_naive_diffs() {
        let d = tempfile::tempdir().unwrap();
        assert!(overlay_extra_options(d.path()).is_empty());
        fs::write(d.path().join("redirect_dir"), "Y\n").unwrap();
        fs::write(d.path().join("metacopy"), "N\n").unwrap();
        fs::write(d.path().join("index"), "Y\n").unwrap();
        assert_eq!(
            overlay_extra_options(d.path()),
            vec!["redirect_dir=off", "index=off"]
        );
    }

    #[test]
    fn overlay_mounts_are_planned_from_the_parent_chain() {
        let d = tempfile::tempdir().unwrap();
        let params = tempfile::tempdir().unwrap();
        let drv = OverlayDriver::with_params(d.path(), params.path()).unwrap();
        drv.apply_layer("base", None, &mut tar_of_nothing().as_slice())
            .unwrap();
        drv.apply_layer("app", Some("base"), &mut tar_of_nothing().as_slice())
            .unwrap();
        drv.create_rw("ctr", Some("app")).unwrap();
        let root = d.path().display().to_string();
        let show = |id| {
            drv.mounts(id, Path::new("/m"))
                .unwrap()
                .iter()
                .map(|m| m.to_string().replace(&root, "<root>"))
                .collect::<Vec<_>>()
                .join("\n")
        };
        insta::assert_snapshot!(show("ctr"), @"mount -t overlay overlay -o lowerdir=<root>/app/diff:<root>/base/diff,upperdir=<root>/ctr/diff,workdir=<root>/ctr/work /m");
        insta::assert_snapshot!(show("base"), @"mount --rbind <root>/base/diff /m");
        assert!(matches!(
            drv.mounts("nope", Path::new("/m")),
            Err(Error::UnknownLayer { .. })
        ));
        assert!(matches!(
            drv.create_rw("../x", None),
            Err(Error::InvalidLayerId { .. })
        ));
    }

    fn tar_of_nothing() -> Vec<u8> {
        tar::Builder::new(Vec::new()).into_inner().unwrap()
    }
}
