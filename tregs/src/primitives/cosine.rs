//! `cosine(a, b)`: the mean cosine distance between paired rows.
//!
//! L = (1/n) Σ_i (1 − â_i·b̂_i),  â, b̂: rows divided by their norms (clamped at 1e-12)
//!
//! a, b: n×d. SimSiam's loss is −cos (Chen & He, "Exploring Simple Siamese Representation
//! Learning", CVPR 2021); this is 1 − cos, the same gradient, zero at perfect alignment.

use super::{mean_all, normalize_rows, row_sum};
use burn::tensor::Tensor;

/// The loss with burn tensor ops (differentiated by burn's autodiff).
pub fn reference(a: Tensor<2>, b: Tensor<2>) -> Tensor<1> {
    let cos = row_sum(normalize_rows(a) * normalize_rows(b));
    mean_all(cos.neg().add_scalar(1.0))
}
