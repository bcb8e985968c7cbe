//! Every checker passes the reference answers and fails the untouched
//! starting points.

const EXE: &str = env!("CARGO_BIN_EXE_chapter04-exercises");

#[test]
fn ex1_digest() {
    exercise_kit::assert_checker_can_fail(EXE, 1);
}

#[test]
fn ex2_verify_before_store() {
    exercise_kit::assert_checker_can_fail(EXE, 2);
}

#[test]
fn ex3_refuse_dotdot() {
    exercise_kit::assert_checker_can_fail(EXE, 3);
}
