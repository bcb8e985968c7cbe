//! `build`, `commit` and `history` end to end: Dockerfiles built by
//! `mini-docker build` (and by the real docker CLI's legacy builder) against
//! a `mini-dockerd`, the build cache, the safety refusals, and the same
//! Dockerfiles built by the real Docker engine, whose images must agree.
//! Privileged: they fail (never skip) without root.

use e2e::*;
use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};

/// Writes `files` (path, content) under `dir`; a content `@link:<target>`
/// makes a symlink.
fn write_files(dir: &Path, files: &[(&str, &str)]) {
    for (p, c) in files {
        let full = dir.join(p);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        match c.strip_prefix("@link:") {
            Some(target) => std::os::unix::fs::symlink(target, full).unwrap(),
            None => std::fs::write(full, c).unwrap(),
        }
    }
}

/// A context directory holding `dockerfile` and `files`.
fn context(dockerfile: &str, files: &[(&str, &str)]) -> tempfile::TempDir {
    let d = tempfile::Builder::new()
        .prefix("md-build-ctx-")
        .tempdir()
        .unwrap();
    write_files(d.path(), files);
    std::fs::write(d.path().join("Dockerfile"), dockerfile).unwrap();
    d
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Nothing of a build stays behind: no scratch directory, no build layer,
/// no mount under the data root.
fn assert_no_build_leftovers(d: &Daemon) {
    let root = d.data_root();
    let builds: Vec<_> = std::fs::read_dir(root.join("builds"))
        .map(|r| r.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(builds.is_empty(), "scratch directories left: {builds:?}");
    let layers: Vec<String> = std::fs::read_dir(root.join("layers"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("md-build-"))
        .collect();
    assert!(layers.is_empty(), "build layers left: {layers:?}");
    // A `run --rm`'s unmount is the background reaper's.
    d.reaps_finish();
    let mounts = mounts_under(&root);
    assert!(mounts.is_empty(), "mounts left: {mounts:?}");
}

/// For each `Step k/N`, whether it said ` ---> Using cache`.
fn cache_hits(out: &str) -> Vec<bool> {
    let mut v = Vec::new();
    for part in out.split("Step ").skip(1) {
        v.push(part.contains(" ---> Using cache"));
    }
    v
}

/// A named Dockerfile and the files of its context.
type Case = (&'static str, String, Vec<(&'static str, &'static str)>);

/// The Dockerfiles that cover every instruction (with their context files).
fn every_instruction(base: &str) -> Vec<Case> {
    vec![
        (
            "metadata",
            format!(
                r#"# syntax=docker/dockerfile:1
FROM {base}
ARG WHO=world
ENV GREETING="hello ${{WHO}}" \
    EMPTY= OTHER=x
LABEL org.example.name="mini build" version=1
EXPOSE 80 53/udp
USER nobody:nogroup
STOPSIGNAL SIGQUIT
HEALTHCHECK --interval=5s --retries=2 CMD true
VOLUME ["/data", "/logs"]
SHELL ["/bin/sh", "-c"]
ENTRYPOINT ["/bin/echo"]
CMD ["$GREETING"]
"#
            ),
            vec![],
        ),
        (
            "files",
            format!(
                r#"FROM {base}
WORKDIR /app
WORKDIR sub
COPY a.txt ./
COPY dir /dir/
COPY *.md /docs/
ADD archive.tar /opt/
ADD --chown=nobody:nogroup archive.tar /opt-owned/
ADD --chown=nobody:nogroup a.txt /owned.txt
COPY --chown=1:2 dir/inner/b.txt /b.txt
RUN echo ran > /ran.txt && mkdir -p /made/deep && rm -f /www/index.html
ENV P=/made
RUN ["/bin/sh", "-c", "echo exec > $P/exec.txt"]
CMD echo shell form
"#
            ),
            vec![
                ("a.txt", "alpha\n"),
                ("dir/inner/b.txt", "beta\n"),
                ("dir/c.txt", "gamma\n"),
                ("README.md", "# readme\n"),
                ("NOTES.md", "notes\n"),
            ],
        ),
        (
            "edges",
            format!(
                r#"FROM {base} AS first
ARG V=1
ENV A=/srv B=$A/x W=v$V
WORKDIR $B
COPY tree /copied-tree
COPY tree/ /copied-contents/
COPY a.txt /tmp
COPY a.txt b* /many/
COPY links/ /links/
RUN echo hi > file && rm -rf /www && mkdir -p /www/new
LABEL a=1 a=2 b=$W
USER 1000
ENTRYPOINT echo from-entrypoint
FROM first
COPY --from=0 /x/file /again
USER 0:0
CMD ["x"]
"#
            ),
            vec![
                ("tree/sub/deep.txt", "deep\n"),
                ("tree/top.txt", "top\n"),
                ("a.txt", "a\n"),
                ("b1", "b1\n"),
                ("b2", "b2\n"),
                ("links/real", "real\n"),
                ("links/rel", "@link:real"),
                ("links/abs", "@link:/etc/passwd"),
            ],
        ),
        (
            "ignore",
            format!("FROM {base}\nCOPY . /ctx/\n"),
            vec![
                (
                    ".dockerignore",
                    "# comment\n*.log\n!keep.log\n**/*.tmp\nsecret/\ndocs/**\n!docs/README.md\n[ab]x\n?.bin\n/rooted\n./dotted\nsub/*/skip\n",
                ),
                ("a.log", "l"),
                ("keep.log", "k"),
                ("deep/x.log", "deep log"),
                ("deep/more/y.tmp", "t"),
                ("z.tmp", "t"),
                ("secret/key", "s"),
                ("docs/guide.md", "g"),
                ("docs/README.md", "r"),
                ("ax", "a"),
                ("cx", "c"),
                ("1.bin", "b"),
                ("12.bin", "b"),
                ("rooted", "r"),
                ("deep/rooted", "r"),
                ("dotted", "d"),
                ("sub/one/skip", "s"),
                ("sub/one/keep", "k"),
            ],
        ),
        (
            "multistage",
            format!(
                r#"FROM {base} AS builder
RUN mkdir /out && echo artifact > /out/bin.txt
FROM scratch AS extract
COPY --from=builder /out/bin.txt /bin.txt
FROM {base}
COPY --from=builder /out /artifact
COPY --from=extract /bin.txt /again.txt
ENTRYPOINT /bin/cat /artifact/bin.txt
"#
            ),
            vec![],
        ),
    ]
}

/// A tar with one file, for ADD.
fn add_archive(dir: &Path) {
    let mut b = tar::Builder::new(Vec::new());
    let data = b"from the archive\n";
    let mut h = tar::Header::new_gnu();
    h.set_size(data.len() as u64);
    h.set_mode(0o640);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(1_600_000_000);
    h.set_entry_type(tar::EntryType::Regular);
    b.append_data(&mut h, "pkg/file.txt", &data[..]).unwrap();
    std::fs::write(dir.join("archive.tar"), b.into_inner().unwrap()).unwrap();
}

const CONFIG_KEYS: &[&str] = &[
    "Env",
    "Cmd",
    "Entrypoint",
    "WorkingDir",
    "User",
    "ExposedPorts",
    "Labels",
    "Volumes",
    "StopSignal",
    "Healthcheck",
    "Shell",
];

/// The compared part of an image config: empty values are absent.
fn config_of(inspect_json: &str) -> Value {
    let v: Value = serde_json::from_str(inspect_json.trim()).unwrap();
    let mut out = serde_json::Map::new();
    for k in CONFIG_KEYS {
        let x = v.get(*k).cloned().unwrap_or(Value::Null);
        let empty = match &x {
            Value::Null => true,
            Value::String(s) => s.is_empty(),
            Value::Array(a) => a.is_empty(),
            Value::Object(o) => o.is_empty(),
            _ => false,
        };
        if !empty {
            out.insert(k.to_string(), x);
        }
    }
    Value::Object(out)
}

/// What a container of an image sees: every name on its root filesystem
/// (not below other mounts), with mode, owner and, for files, size.
const LIST_FILES: &str = "find / -xdev ! -path / -exec stat -c '%n %a %u:%g %F' {} + | while read n m o t; do case \"$t\" in 'regular file'|'regular empty file') echo \"$n $m $o $(wc -c < \"$n\")\";; *) echo \"$n $m $o $t\";; esac; done | sort";

/// `history --format {{.CreatedBy}}` without the base's row and with
/// `file:<sha256>` (and `dir:`, `multi:`) made comparable.
fn history_lines(out: &str) -> Vec<String> {
    let mut lines: Vec<String> = out
        .lines()
        .map(|l| {
            let mut l = l.to_string();
            for kind in ["file:", "dir:", "multi:"] {
                if let Some(i) = l.find(kind) {
                    let end = (i + kind.len() + 64).min(l.len());
                    l.replace_range(i + kind.len()..end, "<sha256>");
                }
            }
            l
        })
        .collect();
    lines.pop();
    lines
}

/// Names the engines themselves put in every container (Docker's init layer).
fn engine_owned(line: &str) -> bool {
    let name = line.split(' ').next().unwrap_or("");
    matches!(
        name,
        "/.dockerenv" | "/etc/hosts" | "/etc/hostname" | "/etc/resolv.conf" | "/etc/mtab"
    ) || ["/dev", "/proc", "/sys"].contains(&name)
}

/// The listing, without what the engines add (and the mount points of
/// the image's volumes, which Docker's container has and ours does not mount).
fn file_list(raw: &str, volumes: &Value) -> Vec<String> {
    raw.lines()
        .filter(|l| !engine_owned(l))
        .filter(|l| {
            let name = l.split(' ').next().unwrap_or("");
            volumes.get(name).is_none()
        })
        .map(String::from)
        .collect()
}

#[test]
fn build_every_instruction_and_run_the_images() {
    let d = Daemon::start();
    d.import_busybox("mdb-base:1");
    for (name, df, files) in every_instruction("mdb-base:1") {
        let ctx = context(&df, &files);
        add_archive(ctx.path());
        for f in ["a.txt", "dir/inner/b.txt"]
            .iter()
            .filter(|f| files.iter().any(|(n, _)| n == *f))
        {
            let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000_000);
            std::fs::File::options()
                .write(true)
                .open(ctx.path().join(f))
                .unwrap()
                .set_modified(t)
                .unwrap();
        }
        let tag = format!("mdb-{name}:1");
        let out = d.ok(&["build", "-t", &tag, ctx.path().to_str().unwrap()]);
        let steps = mini_dockerd::build::dockerfile::parse("Dockerfile", &df)
            .unwrap()
            .instructions
            .len();
        assert!(out.contains(&format!("Step 1/{steps} : FROM")), "{out}");
        assert!(out.contains(&format!("Successfully tagged {tag}")), "{out}");
        assert!(out.contains("Successfully built "), "{out}");
        // No intermediate container is left behind, nor anything else.
        assert!(d.ids().is_empty(), "containers left: {:?}", d.ids());
        assert_no_build_leftovers(&d);
    }
    // The images do what their Dockerfiles say.
    let cfg = config_of(&d.ok(&["inspect", "-f", "{{json .Config}}", "mdb-metadata:1"]));
    assert_eq!(cfg["Env"][1], "GREETING=hello world", "{cfg}");
    assert_eq!(cfg["Labels"]["org.example.name"], "mini build");
    assert_eq!(cfg["User"], "nobody:nogroup");
    assert_eq!(cfg["Entrypoint"], serde_json::json!(["/bin/echo"]));
    assert_eq!(cfg["StopSignal"], "SIGQUIT");
    assert_eq!(
        cfg["Healthcheck"],
        serde_json::json!({"Test": ["CMD-SHELL", "true"], "Interval": 5_000_000_000u64, "Retries": 2})
    );
    assert!(cfg["ExposedPorts"].get("53/udp").is_some(), "{cfg}");
    assert!(cfg["Volumes"].get("/logs").is_some(), "{cfg}");
    let out = d.ok(&["run", "--rm", "mdb-metadata:1"]);
    assert_eq!(out, "$GREETING\n"); // the JSON form is not expanded
    let out = d.ok(&["run", "--rm", "mdb-files:1", "sh", "-c", "pwd; cat a.txt /dir/inner/b.txt /docs/README.md /opt/pkg/file.txt /ran.txt /made/exec.txt; stat -c '%u:%g %a' /owned.txt /b.txt /opt/pkg/file.txt /opt-owned/pkg/file.txt; ls /www"]);
    assert_eq!(
        out,
        "/app/sub\nalpha\nbeta\n# readme\nfrom the archive\nran\nexec\n65534:65534 644\n1:2 644\n0:0 640\n0:0 640\n"
    );
    assert_eq!(d.ok(&["run", "--rm", "mdb-files:1"]), "shell form\n");
    // COPY keeps modification times (a.txt was written in 2001 below).
    let out = d.ok(&[
        "run",
        "--rm",
        "mdb-files:1",
        "stat",
        "-c",
        "%Y",
        "/app/sub/a.txt",
        "/dir/inner/b.txt",
    ]);
    assert_eq!(out, "1000000000\n1000000000\n");
    assert_eq!(d.ok(&["run", "--rm", "mdb-multistage:1"]), "artifact\n");
    let out = d.ok(&[
        "run",
        "--rm",
        "--entrypoint",
        "cat",
        "mdb-multistage:1",
        "/again.txt",
    ]);
    assert_eq!(out, "artifact\n");
    // History: one row per instruction, newest first, Docker's columns.
    let h = d.ok(&["history", "mdb-files:1"]);
    let lines: Vec<&str> = h.lines().collect();
    assert!(
        lines[0].starts_with("IMAGE") && lines[0].contains("CREATED BY"),
        "{h}"
    );
    assert!(lines[1].contains("CMD [\"/bin/sh\" \"-c\" \"echo"), "{h}");
    let workdir = lines
        .iter()
        .find(|l| l.contains("WORKDIR /app/sub"))
        .unwrap();
    assert!(workdir.contains(" 0B "), "a directory has no content: {h}");
    assert!(lines.last().unwrap().contains("mini-docker import"), "{h}");
    let ids = d.ok(&["history", "-q", "--no-trunc", "mdb-files:1"]);
    let top = d.ok(&["inspect", "-f", "{{.Id}}", "mdb-files:1"]);
    assert_eq!(ids.lines().next().unwrap(), top.trim());
}

#[test]
fn build_target_stops_at_the_named_stage_and_args_reach_run() {
    let d = Daemon::start();
    d.import_busybox("mdb-tbase:1");
    let ctx = context(
        "ARG BASE=mdb-tbase:1\nFROM $BASE AS first\nARG MSG=default\nRUN echo $MSG > /msg\nFROM $BASE AS second\nRUN touch /second\n",
        &[],
    );
    let out = d.ok(&[
        "build",
        "--target",
        "first",
        "--build-arg",
        "MSG=given",
        "--build-arg",
        "UNUSED=1",
        "-t",
        "mdb-target:1",
        ctx.path().to_str().unwrap(),
    ]);
    assert!(!out.contains("RUN touch /second"), "{out}");
    assert!(
        out.contains("[Warning] One or more build-args [UNUSED] were not consumed"),
        "{out}"
    );
    assert_eq!(
        d.ok(&["run", "--rm", "mdb-target:1", "cat", "/msg"]),
        "given\n"
    );
    let h = d.ok(&["history", "--no-trunc", "mdb-target:1"]);
    assert!(
        h.contains("|1 MSG=given /bin/sh -c echo $MSG > /msg"),
        "{h}"
    );
    // Instructions are case-insensitive; progress shows them as written.
    let ctx = context("from mdb-tbase:1\nrun true\n", &[]);
    let out = d.ok(&["build", ctx.path().to_str().unwrap()]);
    assert!(out.contains("Step 2/2 : run true"), "{out}");
    // A failing RUN fails the build with Docker's message and its exit code.
    let ctx = context("FROM mdb-tbase:1\nRUN echo before; exit 7\n", &[]);
    let o = d.cli(&["build", ctx.path().to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(
        text(&o)
            .contains("The command '/bin/sh -c echo before; exit 7' returned a non-zero code: 7"),
        "{}",
        text(&o)
    );
    assert!(text(&o).contains("before"), "{}", text(&o));
}

#[test]
fn cache_reuses_every_step_and_a_changed_file_rebuilds_from_its_copy() {
    let mut d = Daemon::start();
    d.import_busybox("mdb-cbase:1");
    let df = "FROM mdb-cbase:1\nENV A=1\nCOPY one.txt /one.txt\nRUN cat /one.txt > /seen1\nCOPY two.txt /two.txt\nRUN cat /two.txt > /seen2\nCMD [\"cat\", \"/seen2\"]\n";
    let ctx = context(df, &[("one.txt", "one\n"), ("two.txt", "two\n")]);
    let p = ctx.path().to_str().unwrap();
    let first = d.ok(&["build", "-t", "mdb-cache:1", p]);
    assert_eq!(cache_hits(&first), vec![false; 7], "{first}");
    let id1 = d.ok(&["inspect", "-f", "{{.Id}}", "mdb-cache:1"]);
    // Unchanged: every step after FROM is reused, the image id is the same.
    let again = d.ok(&["build", "-t", "mdb-cache:1", p]);
    assert_eq!(
        cache_hits(&again),
        vec![false, true, true, true, true, true, true],
        "{again}"
    );
    assert!(!again.contains("Running in"), "{again}");
    assert_eq!(d.ok(&["inspect", "-f", "{{.Id}}", "mdb-cache:1"]), id1);
    // Only the content counts: a touch that changes nothing keeps the cache.
    std::fs::write(ctx.path().join("two.txt"), "two\n").unwrap();
    let touched = d.ok(&["build", p]);
    assert_eq!(cache_hits(&touched)[1..], [true; 6], "{touched}");
    // Changing two.txt invalidates exactly the steps from its COPY on.
    std::fs::write(ctx.path().join("two.txt"), "TWO changed\n").unwrap();
    let changed = d.ok(&["build", "-t", "mdb-cache:2", p]);
    assert_eq!(
        cache_hits(&changed),
        vec![false, true, true, true, false, false, false],
        "{changed}"
    );
    assert_eq!(d.ok(&["run", "--rm", "mdb-cache:2"]), "TWO changed\n");
    // The cache survives a daemon restart (it is a file, like the images).
    d.kill9();
    d.spawn();
    let restarted = d.ok(&["build", "-t", "mdb-cache:2", p]);
    assert_eq!(cache_hits(&restarted)[1..], [true; 6], "{restarted}");
    // `docker builder prune` forgets the cache.
    let pruned = d.docker(&["builder", "prune", "-f"]);
    assert!(pruned.status.success(), "{}", text(&pruned));
    let after_prune = d.ok(&["build", p]);
    assert_eq!(cache_hits(&after_prune), vec![false; 7], "{after_prune}");
    // --no-cache reuses nothing.
    let nocache = d.ok(&["build", "--no-cache", p]);
    assert!(!nocache.contains("Using cache"), "{nocache}");
    // The cache key includes the parent: the same steps on another base run again.
    let ctx2 = context("FROM mdb-cache:1\nENV A=1\n", &[]);
    let other = d.ok(&["build", ctx2.path().to_str().unwrap()]);
    assert_eq!(cache_hits(&other), vec![false, false], "{other}");
}

#[test]
fn dockerignore_keeps_files_out_of_the_context() {
    let d = Daemon::start();
    d.import_busybox("mdb-ibase:1");
    let ctx = context(
        "FROM mdb-ibase:1\nCOPY . /ctx/\nCMD [\"sh\", \"-c\", \"cd /ctx && find . | sort\"]\n",
        &[
            (".dockerignore", "*.log\n!keep.log\nsecret/\n**/*.tmp\n"),
            ("a.txt", "a"),
            ("x.log", "x"),
            ("keep.log", "k"),
            ("secret/key", "s"),
            ("sub/deep/t.tmp", "t"),
            ("sub/deep/ok", "o"),
        ],
    );
    d.ok(&["build", "-t", "mdb-ignore:1", ctx.path().to_str().unwrap()]);
    let out = d.ok(&["run", "--rm", "mdb-ignore:1"]);
    assert_eq!(
        out,
        ".\n./.dockerignore\n./Dockerfile\n./a.txt\n./keep.log\n./sub\n./sub/deep\n./sub/deep/ok\n"
    );
}

#[test]
fn copy_never_reads_outside_the_context_and_workdir_proc_fd_is_refused() {
    let d = Daemon::start();
    d.import_busybox("mdb-sbase:1");
    let outside = tempfile::Builder::new()
        .prefix("md-build-outside-")
        .tempdir()
        .unwrap();
    std::fs::write(outside.path().join("secret"), "do not copy").unwrap();
    let cases = [
        (
            "COPY ../secret /x",
            "forbidden path outside the build context: ../secret",
        ),
        (
            "COPY link /x",
            "forbidden path outside the build context: link",
        ),
        (
            "COPY rel-link /x",
            "forbidden path outside the build context: rel-link",
        ),
        (
            "ADD dir/../../secret /x",
            "forbidden path outside the build context",
        ),
        ("WORKDIR /proc/self/fd/3", "/proc/self/fd/3"),
        ("WORKDIR /proc/1/fd/5", "/proc/1/fd/5"),
        // Not here: pulled, from a loopback registry that is not there.
        ("COPY --from=127.0.0.1:9/nothing-here /x /x", "nothing-here"),
    ];
    for (line, want) in cases {
        let ctx = context(&format!("FROM mdb-sbase:1\n{line}\n"), &[("dir/f", "f")]);
        std::os::unix::fs::symlink(outside.path().join("secret"), ctx.path().join("link")).unwrap();
        std::os::unix::fs::symlink(
            "../../../../../../../../../etc/passwd",
            ctx.path().join("rel-link"),
        )
        .unwrap();
        let o = d.cli(&["build", "-t", "mdb-unsafe:1", ctx.path().to_str().unwrap()]);
        assert!(!o.status.success(), "{line}: {}", text(&o));
        assert!(text(&o).contains(want), "{line}: {}", text(&o));
        assert!(text(&o).contains("Dockerfile:2:"), "{line}: {}", text(&o));
    }
    let o = d.cli(&["inspect", "mdb-unsafe:1"]);
    assert!(!o.status.success(), "no image was made");
    assert_no_build_leftovers(&d);
    // A symlink that stays inside the context is followed, like Docker does.
    let ctx = context("FROM mdb-sbase:1\nCOPY inside /x\n", &[("real", "real\n")]);
    std::os::unix::fs::symlink("real", ctx.path().join("inside")).unwrap();
    d.ok(&["build", "-t", "mdb-safe:1", ctx.path().to_str().unwrap()]);
    assert_eq!(d.ok(&["run", "--rm", "mdb-safe:1", "cat", "/x"]), "real\n");
    // An archive whose entries climb out is refused by chapter 03's apply.
    let ctx = context("FROM mdb-sbase:1\nADD evil.tar /opt/\n", &[]);
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_old();
    h.set_size(4);
    h.set_mode(0o644);
    h.set_entry_type(tar::EntryType::Regular);
    {
        let name = b"../../../../escaped";
        h.as_old_mut().name[..name.len()].copy_from_slice(name);
    }
    h.set_cksum();
    b.append(&h, &b"evil"[..]).unwrap();
    std::fs::write(ctx.path().join("evil.tar"), b.into_inner().unwrap()).unwrap();
    let o = d.cli(&["build", ctx.path().to_str().unwrap()]);
    assert!(!o.status.success(), "{}", text(&o));
    assert!(!Path::new("/escaped").exists());
    assert!(!d.data_root().join("escaped").exists());
}

#[test]
fn commit_burns_the_rw_layer_and_changes_into_an_image() {
    let d = Daemon::start();
    d.import_busybox("mdb-mbase:1");
    d.ok(&[
        "run",
        "--name",
        "mdb-commit-src",
        "-e",
        "FROMRUN=1",
        "mdb-mbase:1",
        "sh",
        "-c",
        "echo committed > /hello; rm /www/index.html",
    ]);
    let id = d.ok(&[
        "commit",
        "-m",
        "a message",
        "-c",
        "CMD [\"cat\", \"/hello\"]",
        "-c",
        "ENV ADDED=yes",
        "-c",
        "EXPOSE 8080",
        "mdb-commit-src",
        "mdb-committed:v1",
    ]);
    assert!(id.trim().starts_with("sha256:"), "{id}");
    let comment = d.ok(&["inspect", "-f", "{{.Comment}}", "mdb-committed:v1"]);
    assert_eq!(comment, "a message\n");
    assert_eq!(d.ok(&["run", "--rm", "mdb-committed:v1"]), "committed\n");
    let out = d.ok(&[
        "run",
        "--rm",
        "mdb-committed:v1",
        "sh",
        "-c",
        "echo $FROMRUN $ADDED; ls /www | wc -l",
    ]);
    assert_eq!(out, "1 yes\n0\n");
    let cfg = config_of(&d.ok(&["inspect", "-f", "{{json .Config}}", "mdb-committed:v1"]));
    assert!(cfg["ExposedPorts"].get("8080/tcp").is_some(), "{cfg}");
    let h = d.ok(&[
        "history",
        "--no-trunc",
        "--format",
        "{{.CreatedBy}}|{{.Comment}}",
        "mdb-committed:v1",
    ]);
    assert_eq!(
        h.lines().next().unwrap(),
        "sh -c echo committed > /hello; rm /www/index.html|a message"
    );
    // Only Dockerfile metadata instructions are valid changes.
    let o = d.cli(&["commit", "-c", "RUN true", "mdb-commit-src"]);
    assert!(!o.status.success());
    assert!(
        text(&o).contains("RUN is not a valid change command"),
        "{}",
        text(&o)
    );
}

/// The docker CLI with the legacy builder, against `host`.
fn docker_build(host: &str, args: &[&str]) -> Output {
    let bin = ["/usr/local/bin/docker", "/usr/bin/docker"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("the docker CLI is installed (apt-get install docker.io)");
    Command::new(bin)
        .env("DOCKER_HOST", host)
        .env("DOCKER_BUILDKIT", "0")
        .arg("build")
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap()
}

#[test]
fn the_real_docker_cli_builds_against_mini_dockerd() {
    let d = Daemon::start();
    d.import_busybox("mdb-dbase:1");
    let ctx = context(
        "FROM mdb-dbase:1\nENV Z=1\nCOPY f.txt /f.txt\nRUN cat /f.txt > /g.txt\nCMD [\"cat\", \"/g.txt\"]\n",
        &[("f.txt", "via docker\n"), (".dockerignore", "ignored\n"), ("ignored", "x")],
    );
    let o = docker_build(
        &d.host(),
        &[
            "-t",
            "mdb-viadocker:1",
            "-t",
            "mdb-viadocker:2",
            ctx.path().to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    let t = text(&o);
    assert!(t.contains("Step 4/5 : RUN cat /f.txt > /g.txt"), "{t}");
    assert!(t.contains("Successfully tagged mdb-viadocker:2"), "{t}");
    assert_eq!(d.ok(&["run", "--rm", "mdb-viadocker:1"]), "via docker\n");
    // A second build through the docker CLI hits the cache too.
    let o = docker_build(&d.host(), &["-q", ctx.path().to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    let id = d.ok(&["inspect", "-f", "{{.Id}}", "mdb-viadocker:2"]);
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), id.trim());
    // And `docker history` reads our history.
    let h = d.docker(&["history", "mdb-viadocker:1"]);
    assert!(h.status.success(), "{}", text(&h));
    assert!(
        text(&h).contains("/bin/sh -c cat /f.txt > /g.txt"),
        "{}",
        text(&h)
    );
}

#[test]
fn images_built_by_mini_docker_and_by_docker_agree() {
    require_root();
    let real = e2e::DockerDaemon::start(&[]);
    let host = format!("unix://{}", real.dir.path().join("docker.sock").display());
    real.ok(&["import", busybox_tar().to_str().unwrap(), "mdb-cmp-base:1"]);
    let d = Daemon::start();
    d.import_busybox("mdb-cmp-base:1");
    for (name, df, files) in every_instruction("mdb-cmp-base:1") {
        let ctx = context(&df, &files);
        add_archive(ctx.path());
        let tag = format!("mdb-cmp-{name}:1");
        let p = ctx.path().to_str().unwrap();
        let o = docker_build(&host, &["--network", "none", "-t", &tag, p]);
        assert!(o.status.success(), "docker build {name}: {}", text(&o));
        d.ok(&["build", "--network", "none", "-t", &tag, p]);
        // The configs agree.
        let theirs = config_of(&real.ok(&["inspect", "-f", "{{json .Config}}", &tag]));
        let ours = config_of(&d.ok(&["inspect", "-f", "{{json .Config}}", &tag]));
        assert_eq!(ours, theirs, "{name}: the image configs differ");
        // The history agrees line by line (but the digests of copied content,
        // Docker's are tarsums, and the base image's own row).
        let hist = ["history", "--no-trunc", "--format", "{{.CreatedBy}}", &tag];
        let their_history = history_lines(&real.ok(&hist));
        let our_history = history_lines(&d.ok(&hist));
        assert_eq!(our_history, their_history, "{name}: the histories differ");
        // The containers' files agree, name by name.
        let args = [
            "run",
            "--rm",
            "--network",
            "none",
            "--user",
            "0",
            "--entrypoint",
            "",
            &tag,
            "/bin/sh",
            "-c",
            LIST_FILES,
        ];
        let volumes = ours["Volumes"].clone();
        let theirs = file_list(&real.ok(&args), &volumes);
        let ours = file_list(&d.ok(&args), &volumes);
        let only_theirs: Vec<&String> = theirs.iter().filter(|l| !ours.contains(l)).collect();
        let only_ours: Vec<&String> = ours.iter().filter(|l| !theirs.contains(l)).collect();
        assert!(
            only_theirs.is_empty() && only_ours.is_empty(),
            "{name}: the files differ\nonly in Docker's: {only_theirs:#?}\nonly in ours: {only_ours:#?}"
        );
        assert!(ours.len() > 100, "{name}: {ours:?}");
    }
}

#[test]
fn run_steps_use_the_engines_network() {
    let d = Daemon::start_bridged();
    let (_, subnet) = d.bridge.clone().unwrap();
    d.import_busybox("mdb-nbase:1");
    let ctx = context(
        "FROM mdb-nbase:1\nRUN ip -o -4 addr show eth0 > /addr && cat /etc/hosts > /hosts\n",
        &[],
    );
    d.ok(&["build", "-t", "mdb-net:1", ctx.path().to_str().unwrap()]);
    // The RUN container had an address on the daemon's bridge...
    let addr = d.ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "mdb-net:1",
        "cat",
        "/addr",
    ]);
    let prefix = subnet.rsplit_once('.').unwrap().0;
    assert!(
        addr.contains(&format!("inet {prefix}.")),
        "{addr} (subnet {subnet})"
    );
    // ...and the engine's /etc/hosts was a mount, not a file of the image.
    let out = d.ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "mdb-net:1",
        "sh",
        "-c",
        "cat /hosts | wc -l; ls -la /etc/hosts",
    ]);
    assert!(out.lines().next().unwrap().trim() != "0", "{out}");
    assert_no_build_leftovers(&d);
    assert!(d.ids().is_empty());
}

#[test]
fn a_base_image_that_is_not_here_is_pulled() {
    let reg = Registry::start();
    let name = format!("{}/mdb-pulled:v1", reg.host());
    let a = Daemon::start();
    a.import_busybox("mdb-pbase:1");
    a.ok(&["tag", "mdb-pbase:1", &name]);
    a.ok(&["push", &name]);
    let b = Daemon::start();
    let ctx = context(&format!("FROM {name}\nRUN touch /pulled\n"), &[]);
    let out = b.ok(&[
        "build",
        "-t",
        "mdb-frompull:1",
        ctx.path().to_str().unwrap(),
    ]);
    assert!(out.contains("Downloaded newer image for"), "{out}");
    assert_eq!(
        b.ok(&["run", "--rm", "mdb-frompull:1", "ls", "/pulled"]),
        "/pulled\n"
    );
    // A registry that is not there (loopback, nothing listens): the build
    // fails, naming the image.
    let ctx = context("FROM 127.0.0.1:9/mdb-nothing:1\n", &[]);
    let o = b.cli(&["build", ctx.path().to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(
        text(&o).contains("127.0.0.1:9/mdb-nothing:1"),
        "{}",
        text(&o)
    );
}

#[test]
fn commits_by_mini_docker_and_by_docker_agree() {
    require_root();
    let real = e2e::DockerDaemon::start(&[]);
    real.ok(&["import", busybox_tar().to_str().unwrap(), "mdb-ccmp-base:1"]);
    let d = Daemon::start();
    d.import_busybox("mdb-ccmp-base:1");
    let run = [
        "run",
        "--name",
        "mdb-ccmp",
        "--network",
        "none",
        "-e",
        "FROMRUN=1",
        "-w",
        "/tmp",
        "mdb-ccmp-base:1",
        "sh",
        "-c",
        "mkdir -p /srv/app && echo hi > /srv/app/f && rm /www/index.html",
    ];
    real.ok(&run);
    d.ok(&run);
    let commit = [
        "commit",
        "-m",
        "by hand",
        "-c",
        "CMD [\"cat\", \"/srv/app/f\"]",
        "-c",
        "ENV ADDED=yes",
        "-c",
        "EXPOSE 8080",
        "-c",
        "LABEL made=commit",
        "mdb-ccmp",
        "mdb-ccmp-image:1",
    ];
    real.ok(&commit);
    d.ok(&commit);
    let inspect = ["inspect", "-f", "{{json .Config}}", "mdb-ccmp-image:1"];
    let theirs = config_of(&real.ok(&inspect));
    let ours = config_of(&d.ok(&inspect));
    assert_eq!(ours, theirs, "the committed configs differ");
    let comment = ["inspect", "-f", "{{.Comment}}", "mdb-ccmp-image:1"];
    assert_eq!(d.ok(&comment), real.ok(&comment));
    // The same files, and the history row names the command and the comment.
    let args = [
        "run",
        "--rm",
        "--network",
        "none",
        "--entrypoint",
        "",
        "mdb-ccmp-image:1",
        "/bin/sh",
        "-c",
        LIST_FILES,
    ];
    let none = serde_json::json!({});
    assert_eq!(
        file_list(&d.ok(&args), &none),
        file_list(&real.ok(&args), &none)
    );
    let hist = [
        "history",
        "--no-trunc",
        "--format",
        "{{.CreatedBy}}|{{.Comment}}",
        "mdb-ccmp-image:1",
    ];
    assert_eq!(d.ok(&hist).lines().next(), real.ok(&hist).lines().next());
}

#[test]
fn what_a_person_sees_build_and_history() {
    let d = Daemon::start();
    d.import_busybox("mdb-sbase:1");
    let ctx = context(
        "FROM mdb-sbase:1\nENV A=1\nCOPY f.txt /f.txt\nRUN echo built from $A\nCMD [\"cat\", \"/f.txt\"]\n",
        &[("f.txt", "f\n")],
    );
    let p = ctx.path().to_str().unwrap();
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(r"[0-9a-f]{64}", "[DIGEST]");
    settings.add_filter(r"[0-9a-f]{12}", "[ID]");
    settings.add_filter(
        r"(Less than a second|About a minute|\d+ (seconds?|minutes)) ago",
        "[CREATED]",
    );
    // The base image's size is the host busybox's.
    settings.add_filter(r"\d+(\.\d+)?[kM]B", "[SIZE]");
    // Widths follow the redacted values: keep the column order, not the widths.
    settings.add_filter(r" {3,}", " | ");
    settings.bind(|| {
        insta::assert_snapshot!("build_cold", d.ok(&["build", "-t", "mdb-seen:1", p]));
        insta::assert_snapshot!("build_warm", d.ok(&["build", "-t", "mdb-seen:1", p]));
        insta::assert_snapshot!("history_table", d.ok(&["history", "mdb-seen:1"]));
    });
}

#[test]
fn dangling_images_are_listed_pruned_and_removed_with_their_chain() {
    let d = Daemon::start();
    d.import_busybox("mdb-dbase:1");
    let ctx = context(
        "FROM mdb-dbase:1\nCOPY f /f\nRUN cp /f /g\n",
        &[("f", "one\n")],
    );
    let p = ctx.path().to_str().unwrap();
    let none_rows = |d: &Daemon| {
        d.ok(&["images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}"])
            .lines()
            .filter(|l| l.starts_with("<none>:<none>"))
            .map(String::from)
            .collect::<Vec<_>>()
    };
    // A build without -t leaves one <none> image: its last step.
    d.ok(&["build", "-q", p]);
    let first = d.ok(&["build", "-q", p]).trim().to_string();
    assert_eq!(
        none_rows(&d),
        vec![format!("<none>:<none> {}", &first[7..19])]
    );
    // Tagged, it is no longer dangling.
    d.ok(&["build", "-t", "mdb-dangling:1", p]);
    assert!(none_rows(&d).is_empty());
    // Moving the tag to a new build leaves the old image dangling...
    std::fs::write(ctx.path().join("f"), "two\n").unwrap();
    d.ok(&["build", "-t", "mdb-dangling:1", p]);
    assert_eq!(none_rows(&d).len(), 1, "{:?}", none_rows(&d));
    // ...until `image prune` removes it and the untagged steps below it
    // (the COPY of the old file), not the ones the new image builds on.
    let pruned = d.docker(&["image", "prune", "-f"]);
    assert!(pruned.status.success(), "{}", text(&pruned));
    assert!(text(&pruned).contains(&first), "{}", text(&pruned));
    assert!(none_rows(&d).is_empty());
    assert!(!d.cli(&["inspect", &first]).status.success());
    d.ok(&["run", "--rm", "mdb-dangling:1", "cat", "/g"]);
    // `rmi` of the tag removes the image and its untagged chain: nothing
    // dangling is left behind, and a rebuild starts from scratch.
    let out = d.ok(&["rmi", "mdb-dangling:1"]);
    // (two images: the RUN step's and the COPY step's below it)
    let deleted = out.lines().filter(|l| l.starts_with("Deleted")).count();
    assert_eq!(deleted, 2, "{out}");
    assert!(none_rows(&d).is_empty());
    let again = d.ok(&["build", p]);
    assert!(!again.contains("Using cache"), "{again}");
}

#[test]
fn copy_through_an_image_symlink_stays_inside_the_image() {
    let d = Daemon::start();
    d.import_busybox("mdb-lbase:1");
    // A host directory that the image's absolute symlinks name.
    let victim = tempfile::Builder::new()
        .prefix("md-build-victim-")
        .tempdir()
        .unwrap();
    std::fs::write(victim.path().join("keep"), "untouched").unwrap();
    let v = victim.path().display().to_string();
    let ctx = context(
        &format!(
            "FROM mdb-lbase:1\nRUN mkdir -p /app && ln -s {v} /app/conf && ln -s {v}/file /app/file && ln -s ../../../../../../{v} /app/up\nCOPY dir/ /app/\nCOPY one /app/file\nCOPY two /app/up/two\nWORKDIR /app/up/work\n"
        ),
        &[("dir/conf/pwned", "x"), ("one", "y"), ("two", "z")],
    );
    d.ok(&["build", "-t", "mdb-link:1", ctx.path().to_str().unwrap()]);
    // Nothing was written on the host side of the symlinks...
    let mut names: Vec<String> = std::fs::read_dir(victim.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, vec!["keep"]);
    assert_eq!(
        std::fs::read_to_string(victim.path().join("keep")).unwrap(),
        "untouched"
    );
    // ...the files landed in the image, where the links point inside it.
    let out = d.ok(&[
        "run",
        "--rm",
        "mdb-link:1",
        "sh",
        "-c",
        &format!("cat {v}/pwned {v}/file {v}/two; test -d {v}/work && echo workdir"),
    ]);
    assert_eq!(out, "xyzworkdir\n");
}
