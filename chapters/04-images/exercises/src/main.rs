//! The checker of chapter 04's exercises: `scripts/check.sh 04 [N]`.
fn main() -> std::process::ExitCode {
    exercise_kit::main(
        "04",
        &chapter04_exercises::check::EXERCISES,
        chapter04_exercises::check::child,
    )
}
