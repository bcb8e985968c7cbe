//! What a learner sees when the registry is not running.

#[test]
fn pull_from_a_registry_that_is_not_running_says_how_to_start_one() {
    // A port nobody listens on: bound, then released.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let store = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_chapter06"))
        .args(["pull", "--quiet", "--store"])
        .arg(store.path())
        .arg(format!("127.0.0.1:{port}/demo/busybox:latest"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr).replace(&port.to_string(), "[PORT]");
    // The URL once, the cause, and the command that starts a registry there.
    assert_eq!(
        err.matches("/v2/demo/busybox/manifests/latest").count(),
        1,
        "{err}"
    );
    insta::assert_snapshot!(err.trim());
}
