//! The checker of chapter 01's exercises: `scripts/check.sh 01 [N]`.
fn main() -> std::process::ExitCode {
    exercise_kit::main(
        "01",
        &chapter01_exercises::check::EXERCISES,
        chapter01_exercises::check::child,
    )
}
