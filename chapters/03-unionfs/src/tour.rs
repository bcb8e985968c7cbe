//! The guided tour: read, copy-up, whiteout, opaque dir, rename, diff.

use std::fs;
use std::io::Write;
use std::path::Path;

use chapter03::whiteout::{rename_like_mv, Renamed};
use chapter03::{DriverKind, Mount};

use crate::image::{self, ls_line, say, section, shell};

/// Print the plan without root: the mounts the tour would make.
pub fn explain(work: &Path) -> anyhow::Result<()> {
    let layers = work.join("layers");
    let m = Mount::overlay(
        &[layers.join("app/diff"), layers.join("base/diff")],
        &layers.join("container/diff"),
        &layers.join("container/work"),
        &work.join("merged"),
    )?;
    say("With the overlay driver the container root is one mount:");
    shell(m.to_string());
    say("With the copy driver it is a bind mount of a full copy:");
    shell(Mount::bind(&layers.join("container/fs"), &work.join("merged")).to_string());
    Ok(())
}

/// The tour.
pub fn run(kind: DriverKind, keep: bool) -> anyhow::Result<()> {
    let mut img = image::build(kind, keep)?;
    let merged = img.merged.clone();
    let upper = img.upper();
    let overlay = img.driver.name() == "overlay";
    let m = |rel: &str| merged.join(rel);
    let u = |rel: &str| upper.join(rel);

    section(
        5,
        "Read: each name comes from the topmost layer that has it",
    );
    shell(format!("cat {}", m("etc/os-release").display()));
    say(fs::read_to_string(m("etc/os-release"))?
        .lines()
        .next()
        .unwrap_or(""));
    say("(from the base layer)");
    shell(format!("cat {}", m("var/www/index.html").display()));
    say(fs::read_to_string(m("var/www/index.html"))?.trim());
    say("(the app layer's version shadows the base layer's)");
    shell(format!("ls -A {}", upper.display()));
    if overlay {
        let n = fs::read_dir(&upper)?.count();
        say(format!("({n} entries: reading copies nothing)"));
    } else {
        say("(the copy driver already holds a full copy of the image here)");
    }

    section(
        6,
        if overlay {
            "Modify: the first write copies the file up"
        } else {
            "Modify: the container writes its own full copy"
        },
    );
    shell(format!(
        "echo '10.0.0.1 db' >> {}",
        m("etc/hosts").display()
    ));
    fs::OpenOptions::new()
        .append(true)
        .open(m("etc/hosts"))?
        .write_all(b"10.0.0.1\tdb\n")?;
    shell(format!("ls -l {}", u("etc/hosts").display()));
    say(ls_line(&u("etc/hosts"), "upper/etc/hosts"));
    say(format!(
        "base layer copy is unchanged: {} bytes vs {} in upper",
        fs::metadata(
            img.driver
                .root()
                .join("base")
                .join(if overlay { "diff" } else { "fs" })
                .join("etc/hosts")
        )?
        .len(),
        fs::metadata(u("etc/hosts"))?.len()
    ));

    section(7, "Delete: a whiteout hides the lower file");
    shell(format!("rm {}", m("etc/hostname").display()));
    fs::remove_file(m("etc/hostname"))?;
    shell(format!("ls -l {}", u("etc/hostname").display()));
    say(ls_line(&u("etc/hostname"), "upper/etc/hostname"));
    if overlay {
        say("a character device 0/0 is overlayfs's whiteout: merged/etc/hostname is gone,");
        say("the base layer still has it.");
    } else {
        say("the copy driver simply deleted it from the container's copy; the diff");
        say("will find it missing and write a whiteout.");
    }

    section(
        8,
        if overlay {
            "Delete a directory and make it again: it becomes opaque"
        } else {
            "Delete a directory and make it again (the diff will list each deleted name)"
        },
    );
    shell(format!(
        "rm -r {0} && mkdir {0} && echo '<h1>new</h1>' > {0}/new.html",
        m("var/www").display()
    ));
    fs::remove_dir_all(m("var/www"))?;
    fs::create_dir(m("var/www"))?;
    fs::write(m("var/www/new.html"), "<h1>new</h1>\n")?;
    shell(format!(
        "getfattr -n trusted.overlay.opaque {}",
        u("var/www").display()
    ));
    say(ls_line(&u("var/www"), "upper/var/www"));
    say(format!(
        "merged/var/www now holds only: {:?}",
        fs::read_dir(m("var/www"))?
            .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
            .collect::<Result<Vec<_>, _>>()?
    ));

    section(9, "Rename a directory that comes from a lower layer");
    shell(format!(
        "mv {} {}",
        m("app/config").display(),
        m("app/settings").display()
    ));
    match rename_like_mv(&m("app/config"), &m("app/settings"))? {
        Renamed::Directly => say("rename(2) worked directly."),
        Renamed::CopiedThenDeleted => {
            say("rename(2) failed with EXDEV: without redirect_dir, overlayfs cannot rename a");
            say("lower directory. Like `mv`, we copied it to the new name and deleted the old:");
        }
    }
    say(ls_line(&u("app/settings"), "upper/app/settings"));
    say(ls_line(&u("app/config"), "upper/app/config"));

    img.finish(10)?;
    if keep {
        say(format!("kept: {}", img.work.display()));
    }
    Ok(())
}
