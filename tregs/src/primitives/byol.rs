//! `byol(p, z)`: BYOL's normalized mean squared error between online predictions and
//! targets.
//!
//! L = (1/n) Σ_i ‖p̂_i − ẑ_i‖² = (1/n) Σ_i (2 − 2 p̂_i·ẑ_i),  p̂, ẑ: rows divided by their norms
//!
//! p: n×d, the online network's predictions; z: n×d, the target network's projections. In
//! BYOL no gradient flows into the target: pass `z.clone().detach()` (the DSL differentiates
//! every input it is given). Grill et al., "Bootstrap Your Own Latent", NeurIPS 2020
//! (equation 2, mean over the batch, as the authors' code).

use super::{mean_all, normalize_rows, row_sum};
use burn::tensor::Tensor;

/// The loss with burn tensor ops (differentiated by burn's autodiff).
pub fn reference(p: Tensor<2>, z: Tensor<2>) -> Tensor<1> {
    let cos = row_sum(normalize_rows(p) * normalize_rows(z));
    mean_all(cos.mul_scalar(-2.0).add_scalar(2.0))
}
