//! `nt_xent(z, z2, τ = 0.1)`: SimCLR's normalized-temperature-scaled cross entropy.
//!
//! With u = the 2n rows of [z; z2] divided by their norms, and i⁺ the other view of anchor i
//! (i ± n):
//!
//! L = (1/2n) Σ_{i=1}^{2n} −log( exp(u_i·u_{i⁺}/τ) / Σ_{j≠i} exp(u_i·u_j/τ) )
//!
//! z, z2: n×d, the two views of the same n samples (row i of each is a positive pair).
//! Chen, Kornblith, Norouzi, Hinton, "A Simple Framework for Contrastive Learning of Visual
//! Representations", ICML 2020 (the NT-Xent loss of its section 2.1; every one of the 2n
//! views is an anchor, and the loss is their mean, as the authors' code).

use super::{divide, eye_like, log_softmax_rows, matrix_like, normalize_rows, scalar, EXCLUDED};
use burn::tensor::Tensor;

/// The loss with burn tensor ops (differentiated by burn's autodiff).
pub fn reference(z: Tensor<2>, z2: Tensor<2>, tau: f64) -> Tensor<1> {
    let n = z.dims()[0];
    let u = normalize_rows(Tensor::cat(vec![z, z2], 0));
    let logits = divide(u.clone().matmul(u.transpose()), tau);
    let eye = eye_like(2 * n, &logits);
    let logits = logits - eye.mul_scalar(EXCLUDED);
    let positives = matrix_like(2 * n, &logits, |i, j| {
        f64::from(u8::from(j == (i + n) % (2 * n)))
    });
    divide(
        scalar(log_softmax_rows(logits) * positives),
        -(2.0 * n as f64),
    )
}
