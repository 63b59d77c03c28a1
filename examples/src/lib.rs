//! Recipes for tregs.
//!
//! * [`point_cloud`]: a free point cloud optimized with T-REGS alone
//!   (`γ·mst_len(z) + λ·sphere(z)`), which settles on a regular simplex when n ≤ d + 1 and
//!   spreads uniformly over the sphere otherwise. Binary: `point_cloud`.
//! * [`experiments`]: the two experiments (run, measure, check, plot) behind the binary.
//! * [`metrics`]: pairwise cosine statistics and the Wang–Isola uniformity.
//! * [`plot`]: dependency-light PNG histograms (no fonts needed).

pub mod experiments;
pub mod metrics;
pub mod plot;
pub mod point_cloud;
pub mod rng;
