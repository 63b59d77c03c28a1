//! Recipe configurations: the objective (a `loss!` expression and its coefficients, the same
//! grammar as the macro and `tregs eval`) and the training settings, read from TOML.
//!
//! Everything a run needs is checked here, before any data is loaded or any weight is
//! initialized: the expression parses, every coefficient has a value, every tensor the
//! expression reads is one the recipe produces, and the settings are in range.

use crate::models::EncoderKind;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use tregs::RuntimeLoss;

/// The tensors a pretraining step produces, by the name the loss expression uses.
pub const SSL_INPUTS: [(&str, &str); 6] = [
    ("z", "projection of view 1"),
    ("z2", "projection of view 2"),
    (
        "p",
        "predictor output of view 1 (adds BYOL's predictor MLP)",
    ),
    ("p2", "predictor output of view 2"),
    (
        "t",
        "target-network projection of view 1 (adds an EMA target network, no gradient)",
    ),
    ("t2", "target-network projection of view 2"),
];

/// A pretraining recipe: one shipped `configs/*.toml` file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecipeConfig {
    /// Short name, used in tables and file names.
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub loss: LossConfig,
    #[serde(default)]
    pub train: TrainConfig,
}

/// The objective.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LossConfig {
    /// A `loss!` expression over the inputs of [`SSL_INPUTS`].
    pub expression: String,
    /// Values of the expression's coefficients (`beta = 10.0`, or `β = 10.0`).
    #[serde(default)]
    pub coefficients: BTreeMap<String, f64>,
}

/// Training settings; every field has a default suited to the shipped digits data.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainConfig {
    pub epochs: usize,
    /// Global batch size (rows per view).
    pub batch_size: usize,
    /// Adam's learning rate, annealed by a cosine schedule to `lr * 0.01`.
    pub lr: f64,
    /// Decoupled weight decay (AdamW); 0 for plain Adam.
    pub weight_decay: f64,
    /// The encoder; `None`: the small CNN for images of at most 16×16 pixels, ResNet-18 above.
    pub encoder: Option<EncoderKind>,
    pub projector_hidden: usize,
    /// Width of the embeddings the loss sees.
    pub embedding_dim: usize,
    pub predictor_hidden: usize,
    /// EMA momentum of the target network (BYOL), when the expression reads `t` or `t2`.
    pub ema: f64,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            epochs: 40,
            batch_size: 256,
            lr: 3e-3,
            weight_decay: 0.0,
            encoder: None,
            projector_hidden: 256,
            embedding_dim: 64,
            predictor_hidden: 256,
            ema: 0.99,
        }
    }
}

/// What is wrong with a configuration, naming the file.
#[derive(Debug)]
pub enum RecipeError {
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    Toml {
        path: PathBuf,
        message: String,
    },
    Invalid {
        origin: String,
        problem: String,
    },
}

impl fmt::Display for RecipeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecipeError::Io { path, source } => write!(f, "{}: {source}", path.display()),
            RecipeError::Toml { path, message } => {
                write!(f, "{}: invalid TOML: {message}", path.display())
            }
            RecipeError::Invalid { origin, problem } => write!(f, "{origin}: {problem}"),
        }
    }
}

impl std::error::Error for RecipeError {}

/// A configuration that passed every check, with its parsed loss.
#[derive(Debug, Clone)]
pub struct Recipe {
    pub config: RecipeConfig,
    pub loss: RuntimeLoss,
}

impl Recipe {
    /// Reads and checks a TOML file.
    pub fn load(path: &Path) -> Result<Recipe, RecipeError> {
        let text = std::fs::read_to_string(path).map_err(|source| RecipeError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let config: RecipeConfig = toml::from_str(&text).map_err(|e| RecipeError::Toml {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        Recipe::check(config, &path.display().to_string())
    }

    /// A shipped configuration by name (`mse_tregs`, `barlow`, …).
    pub fn shipped(name: &str) -> Result<Recipe, RecipeError> {
        let (_, text) =
            SHIPPED
                .iter()
                .find(|(n, _)| *n == name)
                .ok_or_else(|| RecipeError::Invalid {
                    origin: format!("config `{name}`"),
                    problem: format!(
                        "no shipped config of that name; shipped: {}",
                        SHIPPED
                            .iter()
                            .map(|(n, _)| *n)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                })?;
        let config: RecipeConfig = toml::from_str(text).map_err(|e| RecipeError::Toml {
            path: PathBuf::from(format!("configs/{name}.toml")),
            message: e.to_string(),
        })?;
        Recipe::check(config, &format!("configs/{name}.toml"))
    }

    /// Checks a configuration; `origin` names it in errors.
    pub fn check(config: RecipeConfig, origin: &str) -> Result<Recipe, RecipeError> {
        let invalid = |problem: String| RecipeError::Invalid {
            origin: origin.to_string(),
            problem,
        };
        let loss = RuntimeLoss::parse(&config.loss.expression, &config.loss.coefficients)
            .map_err(|e| invalid(format!("[loss] expression: {e}")))?;
        // The recipes train in f32.
        loss.check_dtype(burn::tensor::DType::F32)
            .map_err(|e| invalid(format!("[loss] coefficients: {e}")))?;
        if let Some(name) = loss.unread_coefficients().first() {
            return Err(invalid(format!(
                "[loss] coefficients: `{name}` is not in the expression `{}`",
                config.loss.expression
            )));
        }
        for input in &loss.plan().inputs {
            if !SSL_INPUTS.iter().any(|(name, _)| name == input) {
                return Err(invalid(format!(
                    "[loss] expression reads `{input}`, which the recipe does not produce; \
                     it produces: {}",
                    SSL_INPUTS
                        .iter()
                        .map(|(n, what)| format!("{n} ({what})"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
        }
        // The name is a folder name in default output paths (`target/pretrain/NAME`).
        let name = &config.name;
        if name.is_empty()
            || name == "."
            || name == ".."
            || name.contains(['/', '\\'])
            || name.chars().any(char::is_control)
        {
            return Err(invalid(format!(
                "name {name:?}: must be a plain file name (no path separators, not . or ..)"
            )));
        }
        let t = &config.train;
        let checks: [(bool, &str); 7] = [
            (t.epochs >= 1, "train.epochs must be at least 1"),
            (
                t.batch_size >= 2,
                "train.batch_size must be at least 2 (a tree needs 2 points)",
            ),
            (
                t.lr.is_finite() && t.lr > 0.0 && t.lr <= 1.0,
                "train.lr must be in (0, 1]",
            ),
            (
                t.weight_decay.is_finite() && t.weight_decay >= 0.0,
                "train.weight_decay must be ≥ 0",
            ),
            (
                t.embedding_dim >= 1 && t.projector_hidden >= 1,
                "train.embedding_dim and train.projector_hidden must be ≥ 1",
            ),
            (
                t.predictor_hidden >= 1,
                "train.predictor_hidden must be ≥ 1",
            ),
            ((0.0..1.0).contains(&t.ema), "train.ema must be in [0, 1)"),
        ];
        if let Some((_, problem)) = checks.iter().find(|(ok, _)| !ok) {
            return Err(invalid(problem.to_string()));
        }
        Ok(Recipe { config, loss })
    }

    /// Whether the expression reads `name`.
    pub fn reads(&self, name: &str) -> bool {
        self.loss.plan().inputs.iter().any(|i| i == name)
    }
}

/// The shipped configurations (`examples/configs/*.toml`), compiled in so that the recipes
/// run from any directory.
pub const SHIPPED: [(&str, &str); 9] = [
    ("mse_tregs", include_str!("../configs/mse_tregs.toml")),
    ("mse", include_str!("../configs/mse.toml")),
    ("barlow", include_str!("../configs/barlow.toml")),
    ("barlow_tregs", include_str!("../configs/barlow_tregs.toml")),
    ("byol_tregs", include_str!("../configs/byol_tregs.toml")),
    ("vicreg", include_str!("../configs/vicreg.toml")),
    ("simclr", include_str!("../configs/simclr.toml")),
    (
        "mse_uniformity",
        include_str!("../configs/mse_uniformity.toml"),
    ),
    ("mse_w2", include_str!("../configs/mse_w2.toml")),
];
