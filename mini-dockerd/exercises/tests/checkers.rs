//! Every checker passes the reference answers and fails the untouched
//! starting points (no root needed).

exercise_kit::checker_tests!(env!("CARGO_BIN_EXE_mini-dockerd-exercises");
    ex1_state_table = 1, ex2_backoff = 2, ex3_log_line = 3, ex4_label_filter = 4
);
