//! Every checker passes the reference answers and fails the untouched
//! starting points (privileged: run as root).

const EXE: &str = env!("CARGO_BIN_EXE_chapter01-exercises");

#[test]
fn ex1_uts() {
    exercise_kit::assert_checker_can_fail(EXE, 1);
}

#[test]
fn ex2_reap() {
    exercise_kit::assert_checker_can_fail(EXE, 2);
}

#[test]
fn ex3_pivot_root() {
    exercise_kit::assert_checker_can_fail(EXE, 3);
}

#[test]
fn ex4_userns() {
    exercise_kit::assert_checker_can_fail(EXE, 4);
}
