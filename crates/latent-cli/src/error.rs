//! The command's own error type, [`CliError`]: what can fail in the glue around the commands
//! (the commands themselves report with `anyhow`, adding the file or flag concerned).

/// Why the command's setup failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CliError {
    /// The Ctrl-C handler could not be installed.
    #[error("cannot install the Ctrl-C handler: {0}")]
    Signal(#[source] ctrlc::Error),
    /// The command was stopped by Ctrl-C after saving what it had (the command exits 130, as a
    /// shell expects of an interrupted program).
    #[error("interrupted")]
    Interrupted,
}
