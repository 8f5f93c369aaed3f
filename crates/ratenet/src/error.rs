//! One error type for the whole pipeline.
//!
//! Every failure a user can cause (a missing file, a wrong column, a bad key)
//! must end as one readable line naming the culprit, so errors carry a
//! finished message rather than a chain of causes to be unwound by the CLI.

use std::fmt;

/// A user-facing error: one line that names the file, column or key at fault
/// and what was expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error(String);

impl Error {
    /// An error with the given message.
    pub fn new(msg: impl Into<String>) -> Self {
        Error(msg.into())
    }

    /// The message, without a trailing newline.
    pub fn message(&self) -> &str {
        &self.0
    }

    /// Prefix the message with context (`"{ctx}: {msg}"`).
    pub fn context(self, ctx: impl fmt::Display) -> Self {
        Error(format!("{ctx}: {}", self.0))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Build an [`Error`] from a format string.
#[macro_export]
macro_rules! err {
    ($($arg:tt)*) => { $crate::Error::new(format!($($arg)*)) };
}

/// Return early with an [`Error`] built from a format string.
#[macro_export]
macro_rules! bail {
    ($($arg:tt)*) => { return Err($crate::err!($($arg)*)) };
}
