//! Every checker passes the reference answers and fails the untouched
//! starting points.

exercise_kit::checker_tests!(env!("CARGO_BIN_EXE_chapter04-exercises");
    ex1_digest = 1, ex2_verify_before_store = 2, ex3_refuse_dotdot = 3
);
