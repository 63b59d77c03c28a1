//! `barlow(z, z2, λ = 5e-3)`: the Barlow Twins redundancy-reduction loss.
//!
//! Each feature is standardized over the batch, ẑ_·k = (z_·k − mean_k) / sqrt(var_k + 1e-5)
//! with the *biased* batch variance (BatchNorm without affine parameters, as the authors'
//! code `nn.BatchNorm1d(d, affine=False)`; libraries that use the unbiased variance give a
//! different value). Then C = (1/n) ẑᵀ ẑ2 (d×d) and
//!
//! L = Σ_k (1 − C_kk)² + λ Σ_{k≠l} C_kl²
//!
//! z, z2: n×d, the two views' embeddings, n ≥ 2. Zbontar, Jing, Misra, LeCun, Deny,
//! "Barlow Twins: Self-Supervised Learning via Redundancy Reduction", ICML 2021.

use super::{column_mean, column_sum, divide, eye_like, row_sum, scalar};
use burn::tensor::Tensor;

/// BatchNorm1d's ε.
const EPS: f64 = 1e-5;

/// (z − mean) / sqrt(var + ε) per column, computed as y / sqrt(var(y) + ε/m²) with
/// y = (z − mean)/m and m = max(max_r |z_rk|, 1) per column, held constant (detached).
///
/// The same function (multiply through by m), but var(z) overflows for |z| ≳ 1.8e19 in f32
/// (1.3e154 in f64), and the standardized columns came out as zeros. ε/m² is formed as
/// (√ε/m)², which underflows to 0 where m² would overflow; the clamp keeps a constant
/// column of such a scale (var(y) = 0 and ε/m² = 0) at 0, not 0/0.
fn standardize(z: Tensor<2>) -> Tensor<2> {
    let n = z.dims()[0] as f64;
    let scale = z.clone().detach().abs().max_dim(0).clamp_min(1.0);
    let y = z / scale.clone();
    let y = y.clone() - column_mean(y);
    let eps = scale.recip().mul_scalar(EPS.sqrt()).powi_scalar(2);
    // y is centred already: its variance is the mean of its squares.
    let var = divide(column_sum(y.clone().powi_scalar(2)), n);
    y / (var + eps).clamp_min(f64::from(f32::MIN_POSITIVE)).sqrt()
}

/// The loss with burn tensor ops (differentiated by burn's autodiff).
pub fn reference(z: Tensor<2>, z2: Tensor<2>, lambda: f64) -> Tensor<1> {
    let n = z.dims()[0] as f64;
    let c = divide(standardize(z).transpose().matmul(standardize(z2)), n);
    let eye = eye_like(c.dims()[0], &c);
    let on_diagonal = scalar(
        row_sum(c.clone() * eye.clone())
            .sub_scalar(1.0)
            .powi_scalar(2),
    );
    let off_diagonal = scalar((c * (eye.neg().add_scalar(1.0))).powi_scalar(2));
    on_diagonal + off_diagonal.mul_scalar(lambda)
}
