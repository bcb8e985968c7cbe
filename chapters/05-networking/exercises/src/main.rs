//! The checker of chapter 05's exercises: `scripts/check.sh 05 [N]`.
fn main() -> std::process::ExitCode {
    exercise_kit::main(
        "05",
        &chapter05_exercises::check::EXERCISES,
        chapter05_exercises::check::child,
    )
}
