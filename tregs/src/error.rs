//! Errors a user can cause: each names the input or term at fault and the problem.

use std::path::PathBuf;

/// An error evaluating a loss: a bad expression, a bad input or a non-finite value.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LossError {
    /// The expression does not parse or refers to something unknown (message with
    /// line:column and a caret under the token at fault).
    #[error("{0}")]
    Expression(String),
    /// An input tensor is unusable: wrong shape or dtype, NaN or Inf, missing.
    #[error("input `{input}`: {problem}")]
    Input { input: String, problem: String },
    /// A term cannot be evaluated on its inputs (shape mismatch, too few points).
    #[error("{term}: {problem}")]
    Term { term: String, problem: String },
    /// The requested device cannot be used (no adapter, runtime not built in), or reading
    /// a result back from it failed (a kernel faulted, the device was lost).
    #[error("{0}")]
    Device(String),
}

/// An error reading a loss configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}invalid TOML loss configuration: {message}", path_prefix(.path))]
    Toml {
        path: Option<PathBuf>,
        message: String,
    },
    #[error("{}invalid JSON loss configuration: {message}", path_prefix(.path))]
    Json {
        path: Option<PathBuf>,
        message: String,
    },
    #[error("{path}: unknown configuration format; use a .toml or .json file")]
    Format { path: PathBuf },
}

fn path_prefix(path: &Option<PathBuf>) -> String {
    path.as_ref()
        .map(|p| format!("{}: ", p.display()))
        .unwrap_or_default()
}
