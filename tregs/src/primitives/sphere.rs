//! `sphere(z)`: the T-REGS soft sphere constraint.
//!
//! L_S(Z) = (1/n) · Σ_i (‖z_i‖ − 1)²
//!
//! Z has n rows of d columns. Without it, maximizing the tree length lets the points fly
//! apart; with it they spread uniformly over the unit sphere (Mordacq et al., T-REGS,
//! arXiv 2510.23484, L_S).
//!
//! Gradient: ∂L_S/∂z_i = (2/n)(‖z_i‖ − 1) z_i/‖z_i‖, taken as 0 at z_i = 0 (a subgradient).

use super::{mean_all, row_sum};
use burn::tensor::Tensor;

/// L_S from the row norms.
pub fn value(norms: &[f64]) -> f64 {
    let n = norms.len() as f64;
    norms.iter().map(|r| (r - 1.0) * (r - 1.0)).sum::<f64>() / n
}

/// The factor s with ∂L_S/∂z_i = s · z_i.
pub fn row_grad_factor(norm: f64, n: usize) -> f64 {
    if norm > 0.0 {
        2.0 * (norm - 1.0) / (norm * n as f64)
    } else {
        0.0
    }
}

/// The reference with burn tensor ops.
pub fn reference(z: Tensor<2>) -> Tensor<1> {
    let norms = row_sum(z.powi_scalar(2)).clamp_min(1e-30).sqrt();
    mean_all(norms.sub_scalar(1.0).powi_scalar(2))
}
