//! What every `gazette` command shares, for the domain modules' `cli.rs`
//! files: the error for input a command refuses, and how a stored time is
//! printed. The `gazette` command dispatches to those files; they use this
//! module, not the dispatcher, so imports run one way.

/// Input a command refused: printed as one line, exit code 2, nothing
/// stored.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BadInput(pub String);

/// A stored time (Unix ms) as `2026-12-06 13:20 UTC`.
pub fn format_ms(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|at| at.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default()
}
