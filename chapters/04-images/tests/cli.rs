//! The binary as a user runs it: import, save (both formats), load,
//! inspect, unpack. No root needed except for unpack's owners.

mod common;

use std::process::Command;

fn ch04(store: &std::path::Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_chapter04"))
        .arg("--store")
        .arg(store)
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn import_save_load_inspect_unpack() {
    common::require_root();
    let t = tempfile::Builder::new()
        .prefix("ch04-cli-")
        .tempdir()
        .unwrap();
    let w = t.path();
    let tar = common::tar_of(&[
        common::E::Dir("bin/"),
        common::E::File("bin/hello", b"#!/bin/sh\necho hi\n"),
    ]);
    std::fs::write(w.join("rootfs.tar"), tar).unwrap();
    let store = w.join("store");
    let p = |x: &str| w.join(x).display().to_string();
    let (ok, out, err) = ch04(
        &store,
        &[
            "import",
            &p("rootfs.tar"),
            "ch04/cli:1",
            "--cmd",
            "/bin/hello",
        ],
    );
    assert!(ok, "{err}");
    let id = out.split_whitespace().nth(1).unwrap().to_string();
    assert!(id.starts_with("sha256:"));
    let (ok, _, err) = ch04(
        &store,
        &["save", "--format", "oci", "-o", &p("layout"), "ch04/cli:1"],
    );
    assert!(ok, "{err}");
    let (ok, _, err) = ch04(
        &store,
        &[
            "save",
            "--format",
            "docker",
            "-o",
            &p("docker.tar"),
            "ch04/cli:1",
        ],
    );
    assert!(ok, "{err}");
    for src in ["layout", "docker.tar"] {
        let (ok, out, err) = ch04(&w.join(format!("store-{src}")), &["load", &p(src)]);
        assert!(ok, "{err}");
        assert!(out.contains(&id), "{src}: the image ID changed: {out}");
        let (ok, out, err) = ch04(&store, &["inspect", &p(src)]);
        assert!(ok, "{err}");
        assert!(
            out.contains(&id) && out.contains("bin/hello") && out.contains("diff ID"),
            "{out}"
        );
    }
    let (ok, _, err) = ch04(&store, &["unpack", "ch04/cli:1", &p("root")]);
    assert!(ok, "{err}");
    assert_eq!(
        std::fs::read(w.join("root/bin/hello")).unwrap(),
        b"#!/bin/sh\necho hi\n"
    );
    // Errors are printed once, with what went wrong.
    let (ok, _, err) = ch04(&store, &["unpack", "ch04/nope", &p("root2")]);
    assert!(!ok);
    assert!(err.contains("no image `ch04/nope`"), "{err}");
    let (ok, _, err) = ch04(
        &store,
        &[
            "--platform",
            "linux/arm64",
            "unpack",
            "ch04/cli:1",
            &p("root3"),
        ],
    );
    assert!(!ok);
    assert!(err.contains("linux/arm64"), "{err}");
}

#[test]
fn the_tour_builds_saves_unpacks_and_runs_the_image() {
    common::require_root();
    let t = tempfile::tempdir().unwrap();
    let (ok, out, err) = ch04(t.path(), &[]);
    assert!(ok, "tour failed:\n{out}\n{err}");
    for want in [
        "diff ID sha256:",
        "<- the image ID",
        "\"mediaType\": \"application/vnd.oci.image.manifest.v1+json\"",
        "oci-layout",
        "chain ID sha256:",
        "hello from an OCI image: built, saved, loaded, unpacked",
        "this file travelled inside an OCI image",
        "cwd=/etc uid=0 hostname=ch04-tour",
    ] {
        assert!(out.contains(want), "missing `{want}` in:\n{out}");
    }
}

#[test]
fn loading_a_file_that_is_not_an_archive_says_so_without_printing_it() {
    let w = tempfile::tempdir().unwrap();
    let not_tar = w.path().join("passwd");
    std::fs::write(
        &not_tar,
        "root:x:0:0:root:/root:/bin/bash\nsecret-looking-line\n",
    )
    .unwrap();
    let (ok, _out, err) = ch04(
        &w.path().join("store"),
        &["load", &not_tar.display().to_string()],
    );
    assert!(!ok);
    assert!(
        !err.contains("root:x:0:0"),
        "the file's contents must not be printed: {err}"
    );
    let err = err.replace(&w.path().display().to_string(), "[TMP]");
    insta::assert_snapshot!(err.trim());
}
