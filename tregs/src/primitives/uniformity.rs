//! `uniformity(z, t = 2)`: Wang and Isola's uniformity loss.
//!
//! L_u = log( (2/(n(n−1))) Σ_{i<j} exp(−t ‖ẑ_i − ẑ_j‖²) ),  ẑ: rows divided by their norms
//!
//! z: n×d, n ≥ 2. Lower is more uniform; a uniform sample on the sphere S^{d−1} approaches
//! log E[exp(−t‖x − y‖²)]. Wang & Isola, "Understanding Contrastive Representation Learning
//! through Alignment and Uniformity on the Hypersphere", ICML 2020 (their `lunif`: the mean
//! over pairs i<j, as `torch.pdist`). Computed as a log-sum-exp so that large t cannot
//! underflow to log 0.

use super::{matrix_like, normalize_rows, EXCLUDED};
use burn::tensor::Tensor;

/// The loss with burn tensor ops (differentiated by burn's autodiff).
pub fn reference(z: Tensor<2>, t: f64) -> Tensor<1> {
    let n = z.dims()[0];
    let u = normalize_rows(z);
    let norms = u.clone().powi_scalar(2).sum_dim(1);
    let gram = u.clone().matmul(u.transpose());
    let sq = (norms.clone() + norms.transpose() - gram.mul_scalar(2.0)).clamp_min(0.0);
    let outside = matrix_like(n, &sq, |i, j| f64::from(u8::from(j <= i)));
    let x = sq.mul_scalar(-t) - outside.mul_scalar(EXCLUDED);
    let max = x.clone().max().detach();
    let sum = (x - max.clone().reshape([1, 1])).exp().sum();
    let pairs = (n * (n - 1) / 2) as f64;
    (sum.log() + max).sub_scalar(pairs.ln()).reshape([1])
}
