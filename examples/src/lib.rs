//! Recipes for tregs.
//!
//! * [`point_cloud`]: a free point cloud optimized with T-REGS alone
//!   (`γ·mst_len(z) + λ·sphere(z)`), which settles on a regular simplex when n ≤ d + 1 and
//!   spreads uniformly over the sphere otherwise. Binary: `point_cloud`.
//! * [`experiments`]: the two experiments (run, measure, check, plot) behind the binary.
//! * [`pretrain`]: self-supervised pretraining in burn's `Learner` with an objective read
//!   from a TOML config ([`recipe`]), two augmented views ([`loader`], [`augment`]) of a
//!   dataset ([`data`]), the networks of [`models`] and the steps of [`ssl`]; evaluated by
//!   a linear probe and k-NN ([`probe`]). Binaries: `pretrain`, `compare`.
//! * [`metrics`]: pairwise cosine statistics and the Wang–Isola uniformity.
//! * [`plot`]: dependency-light PNG histograms and line charts (no fonts needed).
//! * [`files`]: result files written whole or not at all.

/// `println!` that ignores a closed stdout: a recipe piped into `head` keeps training and
/// writes its results, rather than panicking at its next line of progress.
#[macro_export]
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::progress::line(format_args!($($arg)*))
    };
}

pub mod augment;
pub mod clip;
pub mod data;
pub mod data_parallel;
pub mod experiments;
pub mod files;
pub mod loader;
pub mod metrics;
pub mod models;
pub mod plot;
pub mod point_cloud;
pub mod pretrain;
pub mod probe;
pub mod progress;
pub mod recipe;
pub mod rng;
pub mod ssl;
