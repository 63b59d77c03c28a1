//! Loss configurations (coefficients) from TOML or JSON.

use crate::error::ConfigError;
use serde::de::DeserializeOwned;
use std::path::Path;

/// Reads a configuration from TOML text.
pub fn from_toml<T: DeserializeOwned>(text: &str) -> Result<T, ConfigError> {
    toml::from_str(text).map_err(|e| ConfigError::Toml {
        path: None,
        message: e.to_string(),
    })
}

/// Reads a configuration from JSON text.
pub fn from_json<T: DeserializeOwned>(text: &str) -> Result<T, ConfigError> {
    serde_json::from_str(text).map_err(|e| ConfigError::Json {
        path: None,
        message: e.to_string(),
    })
}

/// Reads a configuration from a `.toml` or `.json` file.
pub fn load_config<T: DeserializeOwned>(path: &Path) -> Result<T, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let with_path = |e: ConfigError| match e {
        ConfigError::Toml { message, .. } => ConfigError::Toml {
            path: Some(path.to_path_buf()),
            message,
        },
        ConfigError::Json { message, .. } => ConfigError::Json {
            path: Some(path.to_path_buf()),
            message,
        },
        other => other,
    };
    match path.extension().and_then(|e| e.to_str()) {
        Some("toml") => from_toml(&text).map_err(with_path),
        Some("json") => from_json(&text).map_err(with_path),
        _ => Err(ConfigError::Format {
            path: path.to_path_buf(),
        }),
    }
}
