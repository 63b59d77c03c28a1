//! `mse(a, b)`: mean squared error between two views.
//!
//! MSE(A, B) = (1/(n·d)) · Σ_{i,j} (a_ij − b_ij)²
//!
//! the mean over all n·d elements, exactly PyTorch's `F.mse_loss(a, b)` (reduction
//! `"mean"`). It is the invariance term of the T-REGS MSE objective (arXiv 2510.23484). Note
//! that some SSL code sums over the feature axis instead (d times larger); scale the
//! coefficient if you port such a setting.
//!
//! Gradient: ∂/∂a = (2/(n·d))(a − b), ∂/∂b = −(2/(n·d))(a − b).

use super::mean_all;
use burn::tensor::Tensor;
use rayon::prelude::*;
use tregs_kernels::{sq_distance, Real};

/// MSE of two row-major n×d matrices, accumulated in f64: fixed-size chunks on both cores,
/// their partial sums added in order, so the result does not depend on scheduling.
pub fn value<T: Real>(a: &[T], b: &[T]) -> f64 {
    const CHUNK: usize = 1 << 14;
    let partial: Vec<f64> = a
        .par_chunks(CHUNK)
        .zip(b.par_chunks(CHUNK))
        .map(|(a, b)| sq_distance(a, b))
        .collect();
    partial.iter().sum::<f64>() / a.len() as f64
}

/// The weight w with ∂MSE/∂a = w · (a − b).
pub fn grad_weight(n: usize, d: usize) -> f64 {
    2.0 / (n * d) as f64
}

/// The reference with burn tensor ops.
pub fn reference(a: Tensor<2>, b: Tensor<2>) -> Tensor<1> {
    mean_all((a - b).powi_scalar(2))
}
