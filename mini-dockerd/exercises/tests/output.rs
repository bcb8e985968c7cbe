//! What a learner reads: the engine's checker on the untouched starting
//! points, and on the answers. Its output holds no pid, time or path, so
//! it is pinned whole.

fn checker(args: &[&str]) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mini-dockerd-exercises"))
        .args(args)
        .output()
        .expect("run the checker");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn the_starting_points_fail_with_their_hints() {
    insta::assert_snapshot!(checker(&[]));
}

#[test]
fn the_answers_pass_every_check() {
    insta::assert_snapshot!(checker(&["--solutions"]));
}
