//! Every checker passes the reference answers and fails the untouched
//! starting points (privileged: run as root).

const EXE: &str = env!("CARGO_BIN_EXE_chapter02-exercises");

#[test]
fn ex1_join() {
    exercise_kit::assert_checker_can_fail(EXE, 1);
}

#[test]
fn ex2_memory_oom() {
    exercise_kit::assert_checker_can_fail(EXE, 2);
}

#[test]
fn ex3_pids() {
    exercise_kit::assert_checker_can_fail(EXE, 3);
}
