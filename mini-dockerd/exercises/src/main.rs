//! The checker of the engine's exercises: `scripts/check.sh engine [N]`.
fn main() -> std::process::ExitCode {
    exercise_kit::main(
        "mini-dockerd",
        &mini_dockerd_exercises::check::EXERCISES,
        |_, _| std::process::ExitCode::from(2),
    )
}
