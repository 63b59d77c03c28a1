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

use super::{column_variance, divide, eye_like, scalar};
use burn::tensor::Tensor;

/// BatchNorm1d's ε.
const EPS: f64 = 1e-5;

fn standardize(z: Tensor<2>) -> Tensor<2> {
    let n = z.dims()[0] as f64;
    let mean = z.clone().mean_dim(0);
    let var = column_variance(z.clone(), n);
    (z - mean) / var.add_scalar(EPS).sqrt()
}

/// The loss with burn tensor ops (differentiated by burn's autodiff).
pub fn reference(z: Tensor<2>, z2: Tensor<2>, lambda: f64) -> Tensor<1> {
    let n = z.dims()[0] as f64;
    let c = divide(standardize(z).transpose().matmul(standardize(z2)), n);
    let eye = eye_like(c.dims()[0], &c);
    let on_diagonal = scalar(
        (c.clone() * eye.clone())
            .sum_dim(1)
            .sub_scalar(1.0)
            .powi_scalar(2),
    );
    let off_diagonal = scalar((c * (eye.neg().add_scalar(1.0))).powi_scalar(2));
    on_diagonal + off_diagonal.mul_scalar(lambda)
}
