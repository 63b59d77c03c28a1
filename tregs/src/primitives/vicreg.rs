//! `vicreg_var(z, γ = 1)` and `vicreg_cov(z)`: VICReg's variance and covariance terms.
//!
//! vicreg_var(z) = (1/d) Σ_k max(0, γ − sqrt(Var(z_·k) + 1e-4)), Var unbiased (1/(n−1))
//! vicreg_cov(z) = (1/d) Σ_{k≠l} C_kl²,  C = (1/(n−1)) (z − z̄)ᵀ (z − z̄)
//!
//! z: n×d, n ≥ 2. With `mse` as the invariance term, VICReg with the paper's weights is
//! `25*mse(z, z2) + 25*(vicreg_var(z) + vicreg_var(z2)) + vicreg_cov(z) + vicreg_cov(z2)`
//! (the authors' code halves the variance term of each view: use 12.5 there to match it).
//! Bardes, Ponce, LeCun, "VICReg: Variance-Invariance-Covariance Regularization for
//! Self-Supervised Learning", ICLR 2022, as its reference code (ε = 1e-4 inside the root,
//! the off-diagonal sum of squares divided by d).

use super::{column_mean, column_variance, divide, eye_like, mean_all, scalar};
use burn::tensor::activation::relu;
use burn::tensor::Tensor;

/// ε inside the square root of the variance.
const EPS: f64 = 1e-4;

/// The variance hinge with burn tensor ops (differentiated by burn's autodiff).
pub fn variance(z: Tensor<2>, gamma: f64) -> Tensor<1> {
    let n = z.dims()[0] as f64;
    let std = column_variance(z, n - 1.0).add_scalar(EPS).sqrt();
    mean_all(relu(std.neg().add_scalar(gamma)))
}

/// The covariance penalty with burn tensor ops (differentiated by burn's autodiff).
pub fn covariance(z: Tensor<2>) -> Tensor<1> {
    let [n, d] = z.dims();
    let centred = z.clone() - column_mean(z);
    let c = divide(centred.clone().transpose().matmul(centred), (n - 1) as f64);
    let off_diagonal = eye_like(d, &c).neg().add_scalar(1.0);
    divide(scalar((c * off_diagonal).powi_scalar(2)), d as f64)
}
