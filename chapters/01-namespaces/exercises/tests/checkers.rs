//! Every checker passes the reference answers and fails the untouched
//! starting points (privileged: run as root).

exercise_kit::checker_tests!(env!("CARGO_BIN_EXE_chapter01-exercises");
    ex1_uts = 1, ex2_reap = 2, ex3_pivot_root = 3, ex4_userns = 4
);
