//! Every checker passes the reference answers and fails the untouched
//! starting points.

exercise_kit::checker_tests!(env!("CARGO_BIN_EXE_chapter06-exercises");
    ex1_challenge = 1, ex2_token = 2, ex3_pull_manifest = 3
);
