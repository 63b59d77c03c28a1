//! `uniformity(z, t = 2)`: Wang and Isola's uniformity loss.
//!
//! L_u = log( (2/(n(n−1))) Σ_{i<j} exp(−t ‖ẑ_i − ẑ_j‖²) ),  ẑ: rows divided by their norms
//!
//! z: n×d, n ≥ 2. Lower is more uniform; a uniform sample on the sphere S^{d−1} approaches
//! log E[exp(−t‖x − y‖²)]. Wang & Isola, "Understanding Contrastive Representation Learning
//! through Alignment and Uniformity on the Hypersphere", ICML 2020 (their `lunif`: the mean
//! over pairs i<j, as `torch.pdist`). Computed as a log-sum-exp so that large t cannot
//! underflow to log 0.
//!
//! ‖ẑ_i − ẑ_j‖² comes from the Gram trick, |c_i|² + |c_j|² − 2 c_i·c_j, on the normalized
//! rows centred on their mean, c = ẑ − mean(ẑ) (distances do not change under a
//! translation; the gradient flows through the mean too). On the rows themselves,
//! |ẑ_i|² = 1 cancelled against ẑ_i·ẑ_j on a nearly collapsed batch (rows within 3e-4 rad
//! of one direction) and the f32 gradient was 13–29% off.

use super::{column_mean, matrix_like, normalize_rows, row_sum, scalar, EXCLUDED};
use burn::tensor::Tensor;

/// The loss with burn tensor ops (differentiated by burn's autodiff).
pub fn reference(z: Tensor<2>, t: f64) -> Tensor<1> {
    let n = z.dims()[0];
    let u = normalize_rows(z);
    let c = u.clone() - column_mean(u);
    let norms = row_sum(c.clone().powi_scalar(2));
    let gram = c.clone().matmul(c.transpose());
    let sq = (norms.clone() + norms.transpose() - gram.mul_scalar(2.0)).clamp_min(0.0);
    let outside = matrix_like(n, &sq, |i, j| f64::from(u8::from(j <= i)));
    let x = sq.mul_scalar(-t) - outside.mul_scalar(EXCLUDED);
    let max = x.clone().max().detach();
    let sum = scalar((x - max.clone().reshape([1, 1])).exp());
    let pairs = (n * (n - 1) / 2) as f64;
    (sum.log() + max).sub_scalar(pairs.ln())
}
