//! The tour's image: the busybox rootfs as a base layer plus an app layer,
//! and a container layer on top, mounted.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::Context;
use chapter03::{diff_against, select_driver, Driver, DriverKind, Mounted};

/// Print a section title.
pub fn section(n: u32, title: &str) {
    println!("\n== {n}. {title}");
}

/// Print the shell command equivalent to what happens next.
pub fn shell(cmd: impl AsRef<str>) {
    println!("   $ {}", cmd.as_ref());
}

/// Print an explanation or a result.
pub fn say(text: impl AsRef<str>) {
    for line in text.as_ref().lines() {
        println!("   {line}");
    }
}

/// `ls -ld`-style one-liner: type+mode, owner, size or device, name.
pub fn ls_line(path: &Path, shown_as: &str) -> String {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let Ok(m) = fs::symlink_metadata(path) else {
        return format!("(no such file) {shown_as}");
    };
    let ft = m.file_type();
    let t = if ft.is_dir() {
        'd'
    } else if ft.is_symlink() {
        'l'
    } else if ft.is_char_device() {
        'c'
    } else if ft.is_block_device() {
        'b'
    } else if ft.is_fifo() {
        'p'
    } else {
        '-'
    };
    let mut perms = String::new();
    for (i, c) in "rwxrwxrwx".chars().enumerate() {
        perms.push(if m.mode() & (1 << (8 - i)) != 0 {
            c
        } else {
            '-'
        });
    }
    let size = if t == 'c' || t == 'b' {
        format!(
            "{},{}",
            nix::sys::stat::major(m.rdev()),
            nix::sys::stat::minor(m.rdev())
        )
    } else {
        m.size().to_string()
    };
    let mut line = format!("{t}{perms} {}:{} {size:>6} {shown_as}", m.uid(), m.gid());
    if t == 'l' {
        if let Ok(target) = fs::read_link(path) {
            line += &format!(" -> {}", target.display());
        }
    }
    if t == 'd' && chapter03::whiteout::is_opaque(path) {
        line += "   (trusted.overlay.opaque=\"y\")";
    }
    line
}

/// Everything the tour made; the mounts go first when dropped, then the
/// work directory.
pub struct Image {
    pub mounted: Option<Mounted>,
    pub driver: Box<dyn Driver>,
    pub merged: PathBuf,
    pub work: PathBuf,
    _dir: Option<tempfile::TempDir>,
}

pub const BASE: &str = "base";
pub const APP: &str = "app";
pub const CONTAINER: &str = "container";

/// Make the work directory, choose the driver (saying why), build the base
/// and app layers, create the container layer and mount it.
pub fn build(kind: DriverKind, keep: bool) -> anyhow::Result<Image> {
    let dir = tempfile::Builder::new()
        .prefix("ch03-tour-")
        .tempdir()
        .context("create the work directory in /tmp")?;
    let work = dir.path().to_path_buf();
    let dir = if keep {
        let _ = dir.keep();
        None
    } else {
        Some(dir)
    };
    say(format!("work directory: {}", work.display()));

    section(1, "Choose a storage driver");
    let sel = select_driver(kind, &work.join("layers"))?;
    say(&sel.reason);
    let driver = sel.driver;

    section(2, "Base layer: the busybox root filesystem as a layer tar");
    let src = work.join("src/base");
    let rootfs =
        chapter01::rootfs::build_busybox_rootfs(&src).context("build the busybox rootfs")?;
    let base_tar = work.join("base.tar");
    shell(format!(
        "tar -C {} -cf {} .",
        rootfs.path.display(),
        base_tar.display()
    ));
    let stats = diff_against(None, &rootfs.path, fs::File::create(&base_tar)?)?;
    say(format!(
        "{} entries, {} KiB of file data ({} busybox applet links)",
        stats.entries,
        stats.bytes / 1024,
        rootfs.applets
    ));
    shell(format!(
        "# unpack it as layer `{BASE}` of the {} driver",
        driver.name()
    ));
    driver.apply_layer(BASE, None, &mut fs::File::open(&base_tar)?)?;

    section(3, "App layer: a small app on top");
    let app = work.join("src/app");
    fs::create_dir_all(app.join("app/config"))?;
    fs::create_dir_all(app.join("etc"))?;
    fs::create_dir_all(app.join("var/www"))?;
    fs::write(
        app.join("app/hello.sh"),
        "#!/bin/sh\necho \"hello from the app layer\"\n",
    )?;
    fs::write(app.join("app/config/app.conf"), "greeting=hello\n")?;
    fs::write(
        app.join("etc/motd"),
        "Welcome to the chapter 03 app image\n",
    )?;
    fs::write(
        app.join("var/www/index.html"),
        "<h1>app version of the page</h1>\n",
    )?;
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(app.join("app/hello.sh"), fs::Permissions::from_mode(0o755))?;
    let app_tar = work.join("app.tar");
    shell(format!(
        "tar -C {} -cf {} .",
        app.display(),
        app_tar.display()
    ));
    diff_against(None, &app, fs::File::create(&app_tar)?)?;
    for (t, name) in chapter03::diff::list_entries(fs::File::open(&app_tar)?)? {
        say(format!("  {t} {name}"));
    }
    driver.apply_layer(APP, Some(BASE), &mut fs::File::open(&app_tar)?)?;

    section(4, "A container: an empty writable layer on top, mounted");
    driver.create_rw(CONTAINER, Some(APP))?;
    let merged = work.join("merged");
    fs::create_dir_all(&merged)?;
    let mounts = driver.mounts(CONTAINER, &merged)?;
    for m in &mounts {
        shell(m.to_string());
    }
    let mounted = Mounted::apply_all(&mounts)?;
    Ok(Image {
        mounted: Some(mounted),
        driver,
        merged,
        work,
        _dir: dir,
    })
}

impl Image {
    /// Where the container's writes land.
    pub fn upper(&self) -> PathBuf {
        self.driver.upper_dir(CONTAINER)
    }

    /// Unmount, write the container's diff tar and list it.
    pub fn finish(&mut self, first_section: u32) -> anyhow::Result<()> {
        section(first_section, "What changed (like `docker diff`)");
        // `docker diff` has three codes: A, C and D. A directory that was
        // deleted and made again (opaque) is a C, and the tour says why.
        let changes = self.driver.changes(CONTAINER)?;
        let opaque: Vec<_> = changes
            .iter()
            .filter(|c| c.kind == chapter03::whiteout::ChangeKind::Opaque)
            .map(|c| c.path.clone())
            .collect();
        for c in changes
            .iter()
            .filter(|c| c.kind != chapter03::whiteout::ChangeKind::Opaque)
        {
            if opaque.contains(&c.path) {
                say(format!(
                    "{c}   (opaque: made again, the lower layers' entries are hidden)"
                ));
            } else {
                say(c.to_string());
            }
        }
        section(first_section + 1, "Unmount");
        if let Some(m) = self.mounted.take() {
            shell(format!("umount {}", self.merged.display()));
            m.unmount()?;
        }
        let left = chapter03::mount::mounted_under(Path::new("/proc/self/mountinfo"), &self.work)?;
        shell(format!("grep {} /proc/self/mountinfo", self.work.display()));
        say(if left.is_empty() {
            "(nothing: no mount left behind)".to_string()
        } else {
            format!("still mounted: {left:?}")
        });

        section(
            first_section + 2,
            "The container's diff as an OCI layer tar",
        );
        let tar = self.work.join("container-diff.tar");
        shell(format!(
            "# {} driver: {}",
            self.driver.name(),
            if self.driver.name() == "overlay" {
                "the upper dir is the diff; whiteouts -> .wh.<name>, opaque -> .wh..wh..opq"
            } else {
                "compare the container's copy with the app layer's copy"
            }
        ));
        let stats = self.driver.diff(CONTAINER, &mut fs::File::create(&tar)?)?;
        shell(format!("tar -tvf {}", tar.display()));
        for (t, name) in chapter03::diff::list_entries(fs::File::open(&tar)?)? {
            say(format!("  {t} {name}"));
        }
        say(format!(
            "{} entries, {} whiteouts, {} opaque markers, {} bytes of data",
            stats.entries, stats.whiteouts, stats.opaque_dirs, stats.bytes
        ));
        say("`docker commit` stores exactly this tar as a new image layer.");
        Ok(())
    }
}
