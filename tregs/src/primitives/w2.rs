//! `w2(z)`: the Wasserstein-2 uniformity loss of Fang et al.
//!
//! The rows are normalized (ẑ_i = z_i/‖z_i‖), and the Gaussian N(μ, Σ) fitted to them
//! (μ = mean, Σ = (1/n) Σ_i (ẑ_i − μ)(ẑ_i − μ)ᵀ, the biased covariance, as the authors'
//! code) is compared with N(0, I/d), the limit of the uniform distribution on S^{d−1}:
//!
//! W2 = sqrt( ‖μ‖² + 1 + tr Σ − (2/√d) tr Σ^{1/2} )
//!
//! z: n×d, n ≥ 2. Lower is more uniform. Fang, Li, Sun, Wang, "Rethinking the Uniformity
//! Metric in Self-Supervised Learning", ICLR 2024 (arXiv 2403.00642); the authors' code
//! fits the Gaussian to the normalized rows and returns the square root, as here.
//!
//! tr Σ^{1/2} is the sum of the singular values of X = (ẑ − μ)/√n, found on the host by an
//! SVD (nalgebra, f64). Its gradient with respect to X is U Vᵀ over the non-zero singular
//! values, so the term enters the graph as ⟨X, U Vᵀ⟩ with U Vᵀ held constant: the same
//! value, the same gradient, and burn's autodiff takes it back through the normalization.

use super::{column_mean, divide, normalize_rows, scalar};
use burn::tensor::{Tensor, TensorData};
use nalgebra::DMatrix;

/// Singular values below this fraction of the largest count as zero (their directions are
/// arbitrary and add nothing to the trace).
const RANK_TOLERANCE: f64 = 1e-10;

/// The loss with burn tensor ops, the SVD on the host (differentiated by burn's autodiff).
pub fn reference(z: Tensor<2>) -> Tensor<1> {
    let [n, d] = z.dims();
    let u = normalize_rows(z);
    let mean = column_mean(u.clone());
    let x = divide(u - mean.clone(), (n as f64).sqrt());
    let trace = scalar(x.clone().powi_scalar(2));
    let polar = polar_factor(&x);
    let sqrt_trace = scalar(x * polar);
    let inside =
        scalar(mean.powi_scalar(2)) + trace + sqrt_trace.mul_scalar(-2.0 / (d as f64).sqrt());
    inside.add_scalar(1.0).clamp_min(0.0).sqrt()
}

/// U Vᵀ of the thin SVD X = U S Vᵀ, over the singular values above the tolerance, as a
/// constant tensor like `x`.
fn polar_factor(x: &Tensor<2>) -> Tensor<2> {
    let [n, d] = x.dims();
    let host: Vec<f64> = x
        .to_data()
        .convert::<f64>()
        .try_to_vec()
        .expect("a float tensor");
    let svd = DMatrix::from_row_slice(n, d, &host).svd(true, true);
    let (u, v_t) = (svd.u.expect("requested U"), svd.v_t.expect("requested Vᵀ"));
    let largest = svd.singular_values.iter().copied().fold(0.0, f64::max);
    let mut polar = DMatrix::<f64>::zeros(n, d);
    for (k, &s) in svd.singular_values.iter().enumerate() {
        if s > largest * RANK_TOLERANCE {
            polar += u.column(k) * v_t.row(k);
        }
    }
    let row_major: Vec<f64> = (0..n * d).map(|i| polar[(i / d, i % d)]).collect();
    Tensor::from_data(TensorData::new(row_major, [n, d]), (&x.device(), x.dtype()))
}
