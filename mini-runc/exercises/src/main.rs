//! The checker of mini-runc's exercises: `scripts/check.sh runc [N]`.
fn main() -> std::process::ExitCode {
    // Exercise 3 creates a real container with mini-runc's library, whose
    // init is a re-execution of this binary: run it, and never return then.
    mini_runc::init::init_hook();
    exercise_kit::main(
        "mini-runc",
        &mini_runc_exercises::check::EXERCISES,
        mini_runc_exercises::check::child,
    )
}
