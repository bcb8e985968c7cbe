//! What a learner sees when they run a container before starting the daemon.

#[test]
fn run_without_a_daemon_says_so_in_one_sentence() {
    let out = std::process::Command::new(e2e::cli_bin())
        .args([
            "-H",
            "unix:///nonexistent/ch-ex-md.sock",
            "run",
            "--rm",
            "busybox",
            "true",
        ])
        .output()
        .unwrap();
    // Docker exits 125 when the daemon, not the container, failed.
    assert_eq!(out.status.code(), Some(125));
    insta::assert_snapshot!(String::from_utf8_lossy(&out.stderr));
}
