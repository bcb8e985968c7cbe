//! The checker of chapter 06's exercises: `scripts/check.sh 06 [N]`.
fn main() -> std::process::ExitCode {
    exercise_kit::main(
        "06",
        &chapter06_exercises::check::EXERCISES,
        chapter06_exercises::check::child,
    )
}
