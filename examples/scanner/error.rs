//! The scanner's error type and exit codes.

use std::fmt;

/// Nothing at or above `--fail-on` is open, and nothing failed.
pub const EXIT_OK: u8 = 0;
/// Open violations at or above `--fail-on` exist.
pub const EXIT_VIOLATIONS: u8 = 1;
/// Bad input, a failed source, an unreachable store, or any other error.
pub const EXIT_ERROR: u8 = 2;

/// What went wrong, for humans: where (a file, a path inside it, a
/// command-line flag) and why. Errors keep the chain of their causes.
#[derive(Debug)]
pub struct Error {
    message: String,
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl Error {
    /// An error with a message.
    pub fn msg(message: impl Into<String>) -> Self {
        Self { message: message.into(), source: None }
    }

    /// An error with a message and the error that caused it.
    pub fn with(message: impl Into<String>, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self { message: message.into(), source: Some(Box::new(source)) }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(s) = &self.source {
            write!(f, ": {s}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

impl From<pacbot::Error> for Error {
    fn from(e: pacbot::Error) -> Self {
        Self::msg(e.to_string())
    }
}

impl From<pacbot::store::StoreError> for Error {
    fn from(e: pacbot::store::StoreError) -> Self {
        Self::msg(format!("store: {e}"))
    }
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Adds what was being done to an error.
pub trait Context<T> {
    /// Prefixes the error with `what`.
    fn context(self, what: impl FnOnce() -> String) -> Result<T>;
}

impl<T, E: std::error::Error + Send + Sync + 'static> Context<T> for std::result::Result<T, E> {
    fn context(self, what: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|e| Error::with(what(), e))
    }
}
