//! Every checker passes the reference answers and fails the untouched
//! starting points (privileged: run as root).

exercise_kit::checker_tests!(env!("CARGO_BIN_EXE_mini-runc-exercises");
    ex1_process = 1, ex2_masked_readonly = 2, ex3_exec_fifo = 3, ex4_rlimits_nnp = 4
);
