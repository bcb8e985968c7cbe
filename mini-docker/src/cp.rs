//! `cp`: files between a container and the host, as tar streams.
//!
//! ```text
//! mini-docker cp CONTAINER:SRC DEST     GET  /containers/{id}/archive?path=SRC  -> tar -> DEST
//! mini-docker cp SRC CONTAINER:DEST     HEAD /containers/{id}/archive?path=DEST (exists? a directory?)
//!                                       PUT  /containers/{id}/archive?path=DIR  <- tar of SRC
//! ```
//!
//! `-` as DEST writes the tar to stdout; `-` as SRC reads a tar from stdin
//! (DEST must then be a directory). The names follow Docker's rules:
//!
//! | SRC | DEST exists as a directory | DEST is a file | DEST does not exist |
//! | --- | --- | --- | --- |
//! | a file | copied into it, same name | overwritten | created (its parent must exist; no trailing `/`) |
//! | a directory `d` | copied into it as `d` | error | created as a copy of `d` |
//! | `d/.` | `d`'s contents copied into it | error | created as a copy of `d` |
//!
//! The tar carries the source's base name; when the destination names the
//! result differently, the client rewrites the entry names ("rebase")
//! before extracting. Extracting on the host reuses chapter 03's extractor,
//! so a hostile archive from a container cannot write outside DEST either.

use super::http::{self, Body, Client, ClientError};
use super::Failure;
use mini_docker_api::archive::{self, PathStat};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

/// Flags of `cp`.
#[derive(clap::Args, Debug)]
pub struct CpArgs {
    /// Archive mode (copy all uid/gid information).
    #[arg(short, long)]
    pub archive: bool,
    /// Always follow symbol link in SRC_PATH (resolved inside the container).
    #[arg(short = 'L', long = "follow-link")]
    pub follow_link: bool,
    /// CONTAINER:SRC_PATH, a host path, or - (a tar stream on stdin).
    pub src: String,
    /// CONTAINER:DEST_PATH, a host path, or - (a tar stream to stdout).
    pub dest: String,
}

/// One side of `cp`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Side {
    /// A host path.
    Local(String),
    /// `-`.
    Stream,
    /// In a container.
    Container(String, String),
}

/// Docker's `splitCpArg`: a path starting with `/` or `.` is local, else
/// `NAME:PATH` names a container.
pub fn parse_side(arg: &str) -> Side {
    if arg == "-" {
        return Side::Stream;
    }
    if arg.starts_with('/') || arg.starts_with('.') {
        return Side::Local(arg.into());
    }
    match arg.split_once(':') {
        Some((c, p)) if !c.is_empty() => Side::Container(c.into(), p.into()),
        _ => Side::Local(arg.into()),
    }
}

fn fail(m: impl Into<String>) -> Failure {
    Failure {
        code: 1,
        message: m.into(),
    }
}

/// `cp SRC DEST`.
pub fn cp(c: &Client, a: CpArgs) -> Result<u8, Failure> {
    match (parse_side(&a.src), parse_side(&a.dest)) {
        (Side::Container(ctr, src), Side::Local(dest)) => {
            let src = follow(c, &ctr, &src, a.follow_link)?;
            from_container(c, &ctr, &src, Some(&dest))
        }
        (Side::Container(ctr, src), Side::Stream) => {
            let src = follow(c, &ctr, &src, a.follow_link)?;
            from_container(c, &ctr, &src, None)
        }
        (Side::Local(src), Side::Container(ctr, dest)) => {
            let src = if a.follow_link {
                std::fs::canonicalize(&src)
                    .map(|p| p.display().to_string())
                    .unwrap_or(src)
            } else {
                src
            };
            to_container(c, Some(&src), &ctr, &dest, a.archive)
        }
        (Side::Stream, Side::Container(ctr, dest)) => to_container(c, None, &ctr, &dest, a.archive),
        (Side::Container(..), Side::Container(..)) => Err(fail(
            "copying between containers is not supported",
        )),
        _ => Err(fail(
            "must specify at least one container source (CONTAINER:SRC_PATH or CONTAINER:DEST_PATH)",
        )),
    }
}

/// `-L`: follows the links of `src` (each resolved by the daemon inside the
/// container), at most 40 of them, as the kernel does.
fn follow(c: &Client, ctr: &str, src: &str, on: bool) -> Result<String, Failure> {
    let mut path = src.to_string();
    if !on {
        return Ok(path);
    }
    for _ in 0..40 {
        match stat_in(c, ctr, &path)? {
            Some(s) if !s.link_target.is_empty() => {
                path = if s.link_target.starts_with('/') {
                    s.link_target
                } else {
                    let (_, parent) = split_last(&path);
                    format!("{}/{}", parent.trim_end_matches('/'), s.link_target)
                };
            }
            _ => return Ok(path),
        }
    }
    Err(fail(format!("{src}: too many levels of symbolic links")))
}

fn archive_url(ctr: &str, path: &str) -> String {
    format!(
        "/containers/{}/archive?path={}",
        http::enc(ctr),
        http::enc(path)
    )
}

/// Decodes the stat header of an archive answer.
pub fn decode_stat(headers: &[(String, String)]) -> Option<PathStat> {
    let v = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(archive::PATH_STAT_HEADER))?;
    PathStat::from_header(&v.1)
}

/// `HEAD` of a path in a container: `None` when it does not exist.
fn stat_in(c: &Client, ctr: &str, path: &str) -> Result<Option<PathStat>, Failure> {
    match c.call("HEAD", &archive_url(ctr, path), Body::Empty) {
        Ok(r) => Ok(decode_stat(&r.headers)),
        Err(ClientError::Api { status: 404, .. }) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Last component and parent of a path (`/a/b/` -> (`b`, `/a`)).
fn split_last(path: &str) -> (String, String) {
    let t = path.trim_end_matches('/');
    match t.rfind('/') {
        Some(0) => (t[1..].to_string(), "/".into()),
        Some(i) => (t[i + 1..].to_string(), t[..i].to_string()),
        None if path.starts_with('/') => (String::new(), "/".into()),
        None => (t.to_string(), ".".into()),
    }
}

/// Renames the archive's root `from` to `to` (`.` as `from`: the contents
/// go under `to/`), writing a new tar.
pub fn rebase(input: impl Read, from: &str, to: &str, out: impl Write) -> std::io::Result<()> {
    let map = |name: &str| -> String {
        let name = name.trim_start_matches("./");
        let name = name.trim_end_matches('/');
        if from == "." {
            if name.is_empty() || name == "." {
                to.to_string()
            } else {
                format!("{to}/{name}")
            }
        } else if name == from {
            to.to_string()
        } else if let Some(rest) = name.strip_prefix(&format!("{from}/")) {
            format!("{to}/{rest}")
        } else {
            name.to_string()
        }
    };
    let mut ar = tar::Archive::new(input);
    let mut b = tar::Builder::new(out);
    for e in ar.entries()? {
        let mut e = e?;
        let name = map(&String::from_utf8_lossy(&e.path_bytes()));
        let mut h = e.header().clone();
        match h.entry_type() {
            tar::EntryType::Symlink => {
                let target = e.link_name()?.map(|l| l.into_owned()).unwrap_or_default();
                b.append_link(&mut h, &name, target)?;
            }
            tar::EntryType::Link => {
                let target = e
                    .link_name()?
                    .map(|l| map(&l.to_string_lossy()))
                    .unwrap_or_default();
                b.append_link(&mut h, &name, target)?;
            }
            t if t.is_pax_global_extensions() || t.is_pax_local_extensions() => {}
            tar::EntryType::Directory => {
                b.append_data(&mut h, format!("{name}/"), &mut e)?;
            }
            _ => {
                b.append_data(&mut h, &name, &mut e)?;
            }
        }
    }
    b.into_inner()?.flush()
}

fn extract_local(tar: impl Read, dir: &Path) -> Result<(), Failure> {
    let opts = unionfs::ApplyOptions {
        whiteouts: unionfs::WhiteoutMode::Plain,
        keep_setid: true,
        same_owner: nix::unistd::geteuid().is_root(),
    };
    unionfs::apply(tar, dir, &opts)
        .map(|_| ())
        .map_err(|e| fail(format!("extract into {}: {e}", dir.display())))
}

fn from_container(c: &Client, ctr: &str, src: &str, dest: Option<&str>) -> Result<u8, Failure> {
    let mut r = c.call("GET", &archive_url(ctr, src), Body::Empty)?;
    let Some(dest) = dest else {
        let mut out = std::io::stdout().lock();
        std::io::copy(&mut r.body, &mut out)?;
        out.flush()?;
        return Ok(0);
    };
    let src_is_dir = decode_stat(&r.headers).map(|s| s.is_dir()).unwrap_or(false);
    let root = archive::split_path(src).tar_name;
    let (dir, name) = match std::fs::metadata(dest) {
        Ok(m) if m.is_dir() => (PathBuf::from(dest), None),
        Ok(_) if src_is_dir => {
            return Err(fail(format!(
                "cannot copy directory {src} to the file {dest}"
            )))
        }
        Ok(_) => {
            let (base, parent) = split_last(dest);
            (PathBuf::from(parent), Some(base))
        }
        Err(_) => {
            if dest.ends_with('/') && !src_is_dir {
                return Err(fail(format!(
                    "destination directory {dest} must exist: no such directory"
                )));
            }
            let (base, parent) = split_last(dest);
            if !Path::new(&parent).is_dir() {
                return Err(fail(format!(
                    "destination directory {parent} does not exist"
                )));
            }
            (PathBuf::from(parent), Some(base))
        }
    };
    match name {
        None => extract_local(r.body, &dir)?,
        Some(to) => {
            let mut tmp = tempfile::tempfile()?;
            rebase(r.body, &root, &to, &mut tmp)?;
            tmp.rewind()?;
            extract_local(tmp, &dir)?;
        }
    }
    Ok(0)
}

/// A tar of the host path `src` whose root entry is named `root`.
fn local_tar(src: &str, root: &str) -> Result<std::fs::File, Failure> {
    let follow = src.ends_with('/') || src.ends_with("/.");
    let meta = if follow {
        std::fs::metadata(src)
    } else {
        std::fs::symlink_metadata(src)
    }
    .map_err(|e| fail(format!("could not find {src}: {e}")))?;
    let mut tmp = tempfile::tempfile()?;
    {
        let mut b = tar::Builder::new(&mut tmp);
        b.follow_symlinks(false);
        if meta.is_dir() {
            b.append_dir_all(root, src)?;
        } else {
            b.append_path_with_name(src, root)?;
        }
        b.finish()?;
    }
    tmp.rewind()?;
    Ok(tmp)
}

fn to_container(
    c: &Client,
    src: Option<&str>,
    ctr: &str,
    dest: &str,
    archive: bool,
) -> Result<u8, Failure> {
    let mut dest_stat = stat_in(c, ctr, dest)?;
    // A link to a directory is that directory (resolved inside the container).
    if dest_stat
        .as_ref()
        .is_some_and(|s| !s.link_target.is_empty())
    {
        if let Some(s) = stat_in(c, ctr, &format!("{dest}/"))?.filter(PathStat::is_dir) {
            dest_stat = Some(s);
        }
    }
    let (dir, file) = match src {
        None => {
            // A tar on stdin goes into an existing directory.
            if !dest_stat.as_ref().is_some_and(PathStat::is_dir) {
                return Err(fail(format!(
                    "destination \"{ctr}:{dest}\" must be a directory"
                )));
            }
            let mut tmp = tempfile::tempfile()?;
            std::io::copy(&mut std::io::stdin().lock(), &mut tmp)?;
            tmp.rewind()?;
            (dest.to_string(), tmp)
        }
        Some(src) => {
            let follow = src.ends_with('/') || src.ends_with("/.");
            let meta = if follow {
                std::fs::metadata(src)
            } else {
                std::fs::symlink_metadata(src)
            };
            let src_is_dir = meta.map(|m| m.is_dir()).unwrap_or(false);
            let base = archive::split_path(src).tar_name;
            match &dest_stat {
                Some(s) if s.is_dir() => (dest.to_string(), local_tar(src, &base)?),
                Some(_) if src_is_dir => {
                    return Err(fail(format!(
                        "cannot copy directory {src} to the file {ctr}:{dest}"
                    )))
                }
                Some(_) => {
                    let (name, parent) = split_last(dest);
                    (parent, local_tar(src, &name)?)
                }
                None => {
                    if dest.ends_with('/') && !src_is_dir {
                        return Err(fail(format!(
                            "destination directory {ctr}:{dest} must exist: no such directory"
                        )));
                    }
                    let (name, parent) = split_last(dest);
                    if !stat_in(c, ctr, &format!("{parent}/"))?.is_some_and(|s| s.is_dir()) {
                        return Err(fail(format!(
                            "destination directory {ctr}:{parent} does not exist"
                        )));
                    }
                    (parent, local_tar(src, &name)?)
                }
            }
        }
    };
    let len = file.metadata()?.len();
    let mut url = archive_url(ctr, &dir);
    if archive {
        url.push_str("&copyUIDGID=1");
    }
    c.call(
        "PUT",
        &url,
        Body::Reader(Box::new(file), len, "application/x-tar"),
    )?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sides_and_names() {
        assert_eq!(
            parse_side("web:/etc/hosts"),
            Side::Container("web".into(), "/etc/hosts".into())
        );
        assert_eq!(parse_side("./a:b"), Side::Local("./a:b".into()));
        assert_eq!(parse_side("/tmp/x"), Side::Local("/tmp/x".into()));
        assert_eq!(parse_side("-"), Side::Stream);
        assert_eq!(split_last("/a/b/"), ("b".into(), "/a".into()));
        assert_eq!(split_last("/a"), ("a".into(), "/".into()));
        assert_eq!(split_last("x"), ("x".into(), ".".into()));
    }

    fn names(tar: &[u8]) -> Vec<String> {
        tar::Archive::new(tar)
            .entries()
            .unwrap()
            .map(|e| String::from_utf8_lossy(&e.unwrap().path_bytes()).into_owned())
            .collect()
    }

    #[test]
    fn rebase_renames_the_root() {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Directory);
        h.set_size(0);
        h.set_mode(0o755);
        b.append_data(&mut h.clone(), "d/", std::io::empty())
            .unwrap();
        let mut f = tar::Header::new_gnu();
        f.set_size(2);
        f.set_mode(0o644);
        b.append_data(&mut f, "d/x", &b"hi"[..]).unwrap();
        let tar = b.into_inner().unwrap();
        let mut out = Vec::new();
        rebase(&tar[..], "d", "e", &mut out).unwrap();
        assert_eq!(names(&out), vec!["e/", "e/x"]);
        let mut out = Vec::new();
        rebase(&tar[..], ".", "e", &mut out).unwrap();
        assert_eq!(names(&out), vec!["e/d/", "e/d/x"]);
    }
}
