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

/// The tour's push reads one upload at a time: every request of an upload
/// (POST, PATCHes, PUT) comes before the next upload starts.
#[test]
fn the_tour_push_shows_one_upload_at_a_time() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_chapter06"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the tour failed:\n{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let push = &text[text.find("== 3.").unwrap()..text.find("== 4.").unwrap()];
    // The upload id of each PATCH/PUT line, in order.
    let ids: Vec<&str> = push
        .lines()
        .filter_map(|l| {
            l.trim_start()
                .strip_prefix("PATCH ")
                .or_else(|| l.trim_start().strip_prefix("PUT "))
        })
        .filter_map(|l| l.split("/blobs/uploads/").nth(1))
        .map(|rest| rest.split(['?', ' ']).next().unwrap_or(rest))
        .collect();
    let mut finished: Vec<&str> = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        assert!(
            !finished.contains(id),
            "upload {id} resumed after another one started:\n{push}"
        );
        if ids.get(i + 1) != Some(id) {
            finished.push(id);
        }
    }
    assert_eq!(
        finished.len(),
        2,
        "two blobs uploaded (layer and config):\n{push}"
    );
    assert!(
        push.matches("PATCH ").count() > 2,
        "the layer goes in several chunks:\n{push}"
    );
}
