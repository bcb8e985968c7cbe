//! The tour prints each group's setup once, then only what differs
//! (privileged: it makes real groups, as root).

#[test]
fn the_tour_shows_the_setup_once_and_every_limit() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_chapter02"))
        .output()
        .expect("run the chapter02 tour");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the tour failed:\n{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let count = |prefix: &str| {
        text.lines()
            .filter(|l| l.trim_start().starts_with(prefix))
            .count()
    };
    // The plan's dry run and the first real group: the mkdirs twice at most,
    // the joins once in the plan, the rmdirs once.
    let trees = count("$ rmdir ");
    assert!(trees > 0, "the first delete is shown in full:\n{text}");
    assert!(count("$ mkdir ") <= 2 * trees, "mkdirs repeated:\n{text}");
    assert_eq!(
        count("$ echo <init pid>"),
        0,
        "the plan shows the joins; the demos refer to it:\n{text}"
    );
    assert_eq!(
        count("$ echo <pid>"),
        trees,
        "the plan's joins, once per tree:\n{text}"
    );
    // What differs is still all there: every limit each demo writes.
    for file in [
        ["memory.limit_in_bytes", "memory.max"],
        ["cpu.cfs_quota_us", "cpu.max"],
        ["pids.max", "pids.max"],
    ] {
        assert!(
            text.lines()
                .filter(|l| l.contains("$ echo") && (l.ends_with(file[0]) || l.ends_with(file[1])))
                .count()
                >= 2,
            "the plan and the demo both write {file:?}:\n{text}"
        );
    }
    assert!(
        text.contains("$ echo FROZEN") || text.contains("$ echo 1 > "),
        "the freeze demo shows its write:\n{text}"
    );
    assert_eq!(
        count("Create the group "),
        5,
        "five demos make a group:\n{text}"
    );
    assert!(
        count("$ ") < 60,
        "the tour repeats itself ({} `$` lines):\n{text}",
        count("$ ")
    );
}
