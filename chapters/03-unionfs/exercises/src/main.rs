//! The checker of chapter 03's exercises: `scripts/check.sh 03 [N]`.
fn main() -> std::process::ExitCode {
    exercise_kit::main(
        "03",
        &chapter03_exercises::check::EXERCISES,
        chapter03_exercises::check::child,
    )
}
