//! The checker of chapter 02's exercises: `scripts/check.sh 02 [N]`.
fn main() -> std::process::ExitCode {
    exercise_kit::main(
        "02",
        &chapter02_exercises::check::EXERCISES,
        chapter02_exercises::check::child,
    )
}
