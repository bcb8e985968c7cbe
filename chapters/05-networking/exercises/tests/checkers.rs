//! Every checker passes the reference answers and fails the untouched
//! starting points (privileged: run as root).

const EXE: &str = env!("CARGO_BIN_EXE_chapter05-exercises");

#[test]
fn ex1_veth_into_bridge() {
    exercise_kit::assert_checker_can_fail(EXE, 1);
}

#[test]
fn ex2_dnat_rule() {
    exercise_kit::assert_checker_can_fail(EXE, 2);
}
