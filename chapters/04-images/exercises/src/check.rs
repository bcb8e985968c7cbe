//! The checks of chapter 04's exercises. They need no root and run in the
//! checker's own process; a `todo!()` or a panic in your function is a FAIL.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use exercise_kit::{attempt, Exercise, Report, Scratch, Variant};

use crate::{ex1, ex2, ex3, solutions};

/// The exercises, in order.
pub const EXERCISES: [Exercise; 3] = [
    Exercise {
        title: "a blob's digest, as sha256sum computes it",
        check: check_digest,
    },
    Exercise {
        title: "a blob enters the store only when its digest matches",
        check: check_ingest,
    },
    Exercise {
        title: "a layer entry named ../ is refused",
        check: check_dotdot,
    },
];

/// Chapter 04 has no child processes.
pub fn child(_: Variant, _: &[String]) -> ExitCode {
    ExitCode::from(2)
}

/// A small layer: a tar of `etc/os-release` and `bin/hello`.
fn layer_tar() -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, body) in [
        ("etc/os-release", &b"NAME=exercise\n"[..]),
        ("bin/hello", &b"#!/bin/sh\necho hello\n"[..]),
    ] {
        let mut h = tar::Header::new_gnu();
        h.set_size(body.len() as u64);
        h.set_mode(0o755);
        h.set_cksum();
        b.append_data(&mut h, name, body)
            .expect("append to an in-memory tar");
    }
    b.into_inner().expect("finish an in-memory tar")
}

/// A tar whose entries carry these names byte for byte (the `tar` crate's
/// builder refuses `..`, as it should; an attacker's tool does not).
fn raw_tar(names: &[&str]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for name in names {
        let body = format!("written for {name}\n");
        let mut h = tar::Header::new_old();
        let field = &mut h.as_old_mut().name;
        field[..name.len()].copy_from_slice(name.as_bytes());
        h.set_size(body.len() as u64);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        h.set_cksum();
        b.append(&h, body.as_bytes())
            .expect("append to an in-memory tar");
    }
    b.into_inner().expect("finish an in-memory tar")
}

fn sha256sum(dir: &Path, data: &[u8]) -> String {
    let file = dir.join("blob");
    std::fs::write(&file, data).expect("write a blob to hash");
    let out = std::process::Command::new("sha256sum").arg(&file).output();
    match out {
        Ok(o) if o.status.success() => {
            format!(
                "sha256:{}",
                String::from_utf8_lossy(&o.stdout)
                    .split_whitespace()
                    .next()
                    .unwrap_or("")
            )
        }
        // No coreutils: the chapter's own digest stands in.
        _ => chapter04::digest::sha256(data).to_string(),
    }
}

fn check_digest(r: &mut Report, v: Variant) {
    let scratch = Scratch::new("ch04-ex1");
    let blobs: [(&str, Vec<u8>); 3] = [
        ("the empty blob", Vec::new()),
        ("\"hello\\n\"", b"hello\n".to_vec()),
        ("a layer tar", layer_tar()),
    ];
    for (what, data) in blobs {
        let want = sha256sum(&scratch.0, &data);
        let got = attempt(|| match v {
            Variant::Learner => ex1::digest_of(&data),
            Variant::Solution => solutions::ex1::digest_of(&data),
        });
        match got {
            Ok(got) => {
                r.check(
                    &format!("the digest of {what} is sha256sum's"),
                    got == want,
                    format!("yours {got}, sha256sum {want}"),
                    "\"sha256:\" then the 64 lowercase hex digits of the SHA-256 of the bytes",
                );
            }
            Err(e) => {
                return r.fail(
                    &format!("digest_of({what}) ran"),
                    e,
                    "see src/ex1.rs's hint",
                )
            }
        }
    }
}

/// Every file below `dir` (not directories), relative names.
fn files_below(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.strip_prefix(dir).unwrap_or(&p).display().to_string());
            }
        }
    }
    out.sort();
    out
}

fn check_ingest(r: &mut Report, v: Variant) {
    let scratch = Scratch::new("ch04-ex2");
    let store = scratch.0.join("store");
    let _ = std::fs::create_dir_all(&store);
    let data = layer_tar();
    let digest = chapter04::digest::sha256(&data).to_string();
    let hex = digest.trim_start_matches("sha256:").to_string();
    let ingest = |expected: &str, bytes: &[u8]| {
        attempt(|| match v {
            Variant::Learner => ex2::ingest(&store, expected, bytes),
            Variant::Solution => solutions::ex2::ingest(&store, expected, bytes),
        })
    };
    let mut flipped = data.clone();
    flipped[600] ^= 0x01;
    let bad: [(&str, String, Vec<u8>); 3] = [
        ("a blob with one byte changed", digest.clone(), flipped),
        (
            "a blob cut short",
            digest.clone(),
            data[..data.len() / 2].to_vec(),
        ),
        (
            "a digest that is a path",
            "sha256:../../escape".to_string(),
            b"escape".to_vec(),
        ),
    ];
    for (what, expected, bytes) in bad {
        match ingest(&expected, &bytes) {
            Err(e) => return r.fail(&format!("ingest({what}) ran"), e, "see src/ex2.rs's hint"),
            Ok(result) => {
                r.check(
                    &format!("{what} is refused"),
                    result.is_err(),
                    format!("{result:?}"),
                    "compute the digest of the bytes and compare before the blob gets its name",
                );
            }
        }
        let left = files_below(&store);
        r.check(
            &format!("after {what}, the store holds no file"),
            left.is_empty(),
            format!("{left:?}"),
            "write to a temporary file, and remove it when the digest does not match",
        );
    }
    r.check(
        "nothing was written outside the store",
        !scratch.0.join("escape").exists(),
        format!(
            "{} exists: {}",
            scratch.0.join("escape").display(),
            scratch.0.join("escape").exists()
        ),
        "validate the digest (sha256: and 64 hex digits) before it becomes a file name",
    );
    match ingest(&digest, &data) {
        Err(e) => r.fail("ingest(the right blob) ran", e, "see src/ex2.rs's hint"),
        Ok(Err(e)) => r.fail(
            "the right blob is stored",
            e,
            "a blob whose digest matches must be accepted",
        ),
        Ok(Ok(path)) => {
            let want = store.join("blobs/sha256").join(&hex);
            let same = std::fs::read(&want).map(|b| b == data).unwrap_or(false);
            r.check(
                "the right blob is stored as blobs/sha256/<hex> with its bytes",
                path == want && same,
                format!("returned {}, bytes equal: {same}", path.display()),
                "rename the verified temp file to STORE/blobs/sha256/<hex>",
            );
            let left = files_below(&store);
            r.check(
                "no temporary file is left",
                left.len() == 1,
                format!("{left:?}"),
                "rename the temp file, do not copy it",
            );
        }
    }
}

fn check_dotdot(r: &mut Report, v: Variant) {
    let scratch = Scratch::new("ch04-ex3");
    let root = scratch.0.join("root");
    let _ = std::fs::create_dir_all(&root);
    let abs = format!("/tmp/ch04-ex3-abs-{}", std::process::id());
    let names = [
        "etc/passwd",
        "../escape1",
        "etc/../../escape2",
        abs.as_str(),
    ];
    let tar_bytes = raw_tar(&names);
    let mut archive = tar::Archive::new(&tar_bytes[..]);
    let mut refused = Vec::new();
    let mut placed: Vec<PathBuf> = Vec::new();
    for entry in archive.entries().expect("read the tar") {
        let mut entry = entry.expect("read a tar entry");
        let name = entry.path().expect("entry name").into_owned();
        let dest = attempt(|| match v {
            Variant::Learner => ex3::destination(&root, &name),
            Variant::Solution => solutions::ex3::destination(&root, &name),
        });
        match dest {
            Err(e) => {
                let _ = std::fs::remove_file(&abs);
                return r.fail(
                    &format!("destination({}) ran", name.display()),
                    e,
                    "see src/ex3.rs's hint",
                );
            }
            Ok(Err(_)) => refused.push(name.display().to_string()),
            Ok(Ok(dest)) => {
                if let Some(parent) = dest.parent() {
                    let _ = std::fs::create_dir_all(parent);
                }
                if entry.unpack(&dest).is_ok() {
                    placed.push(dest);
                }
            }
        }
    }
    let abs_escaped = Path::new(&abs).exists();
    let _ = std::fs::remove_file(&abs);
    let ok = std::fs::read_to_string(root.join("etc/passwd")).unwrap_or_default();
    r.check(
        "etc/passwd lands in root/etc/passwd",
        ok == "written for etc/passwd\n",
        format!("root/etc/passwd = {ok:?}"),
        "root.join of the entry's normal components",
    );
    for (what, escaped) in [
        ("../escape1", scratch.0.join("escape1")),
        ("etc/../../escape2", scratch.0.join("escape2")),
    ] {
        r.check(
            &format!("{what} is refused, and nothing lands outside the root"),
            refused.iter().any(|n| n == what) && !escaped.exists(),
            format!(
                "refused: {refused:?}; {} exists: {}",
                escaped.display(),
                escaped.exists()
            ),
            "return an error for any Component::ParentDir, wherever it is in the name",
        );
    }
    r.check(
        "an absolute name stays below the root",
        !abs_escaped
            && placed
                .iter()
                .chain(std::iter::once(&root))
                .all(|p| p.starts_with(&root)),
        format!(
            "{abs} written on the host: {abs_escaped}; placed: {:?}",
            placed
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
        ),
        "skip Component::RootDir: tar names are relative to the root",
    );
}
