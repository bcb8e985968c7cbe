//! Every checker passes the reference answers and fails the untouched
//! starting points (privileged: run as root).

exercise_kit::checker_tests!(env!("CARGO_BIN_EXE_chapter03-exercises");
    ex1_overlay_mount = 1, ex2_whiteout = 2, ex3_opaque_dir = 3
);
