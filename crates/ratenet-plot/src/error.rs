use std::fmt;

use plotters::drawing::DrawingAreaErrorKind;

/// Why a figure or report could not be written; a single human-readable line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlotError(String);

impl PlotError {
    /// Wraps a message; callers format the context in, so there is no source
    /// chain to keep.
    pub fn new(msg: impl Into<String>) -> Self {
        // Keep the promise of a one-line message even when a backend error
        // carries newlines.
        let msg: String = msg.into();
        PlotError(msg.split_whitespace().collect::<Vec<_>>().join(" "))
    }

    /// The message without any prefix.
    pub fn message(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PlotError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PlotError {}

impl<E: std::error::Error + Send + Sync> From<DrawingAreaErrorKind<E>> for PlotError {
    fn from(e: DrawingAreaErrorKind<E>) -> Self {
        PlotError::new(format!("drawing failed: {e}"))
    }
}

/// Attaches a path to an I/O error so the user knows which file failed.
pub(crate) fn io_err(what: &str, path: &std::path::Path, e: std::io::Error) -> PlotError {
    PlotError::new(format!("{what} {}: {e}", path.display()))
}
