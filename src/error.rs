//! One error type for the whole crate: every bad input becomes a value, never a panic.

use std::path::PathBuf;

/// Everything that can go wrong in melgrad, with enough context to act on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Shapes that do not fit an operation, e.g. `matmul: [2, 3] × [4, 5]`.
    #[error("shape mismatch in {op}: {detail}")]
    Shape { op: &'static str, detail: String },
    /// An argument outside its domain (a stride of 0, a negative rate...).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// A NaN or infinity where a finite number is required.
    #[error("non-finite value: {0}")]
    NonFinite(String),
    /// `backward()` called on a value that was not recorded or is not a scalar.
    #[error("autograd: {0}")]
    Autograd(String),
    /// A file that could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A file that was read but whose content is wrong (corrupt, truncated, wrong kind).
    #[error("{}: {detail}", path.display())]
    Format { path: PathBuf, detail: String },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn shape(op: &'static str, detail: impl Into<String>) -> Self {
        Error::Shape {
            op,
            detail: detail.into(),
        }
    }
    pub fn invalid(detail: impl Into<String>) -> Self {
        Error::InvalidArgument(detail.into())
    }
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
    pub fn format(path: impl Into<PathBuf>, detail: impl Into<String>) -> Self {
        Error::Format {
            path: path.into(),
            detail: detail.into(),
        }
    }
}
