//! Every checker passes the reference answers and fails the untouched
//! starting points.

const EXE: &str = env!("CARGO_BIN_EXE_chapter06-exercises");

#[test]
fn ex1_challenge() {
    exercise_kit::assert_checker_can_fail(EXE, 1);
}

#[test]
fn ex2_token() {
    exercise_kit::assert_checker_can_fail(EXE, 2);
}

#[test]
fn ex3_pull_manifest() {
    exercise_kit::assert_checker_can_fail(EXE, 3);
}
