//! `clip(a, b, τ = 0.07)`: CLIP's symmetric contrastive (InfoNCE) loss.
//!
//! With â, b̂ the rows divided by their norms and logits L = â b̂ᵀ / τ (n×n):
//!
//! L_clip = ½ [ (1/n) Σ_i −log softmax(L_{i·})_i + (1/n) Σ_j −log softmax(L_{·j})_j ]
//!
//! a, b: n×d, row i of a paired with row i of b (an image and its caption). Radford et al.,
//! "Learning Transferable Visual Models From Natural Language Supervision", ICML 2021
//! (figure 3's pseudocode: cross entropy over rows and over columns, averaged). The paper
//! learns the temperature as a logit scale s (τ = e^{−s}, s initialized at log(1/0.07)):
//! `clip(a, b, τ = 0.07)` takes τ as a number, `clip_scaled(a, b, s)` takes s as a 1×1
//! tensor that the backward differentiates too.

use super::{divide, eye_like, log_softmax_rows, normalize_rows, scalar};
use burn::tensor::Tensor;

/// The loss with burn tensor ops (differentiated by burn's autodiff).
pub fn reference(a: Tensor<2>, b: Tensor<2>, tau: f64) -> Tensor<1> {
    let logits = divide(normalize_rows(a).matmul(normalize_rows(b).transpose()), tau);
    from_logits(logits)
}

/// The loss with the logit scale `s` (1×1) as a tensor: logits = e^s â b̂ᵀ.
pub fn reference_scaled(a: Tensor<2>, b: Tensor<2>, s: Tensor<2>) -> Tensor<1> {
    let logits = normalize_rows(a).matmul(normalize_rows(b).transpose()) * s.exp();
    from_logits(logits)
}

fn from_logits(logits: Tensor<2>) -> Tensor<1> {
    let n = logits.dims()[0] as f64;
    let eye = eye_like(logits.dims()[0], &logits);
    let rows = scalar(log_softmax_rows(logits.clone()) * eye.clone());
    // The softmax over each column, as rows of the transpose (the mask is symmetric).
    let columns = scalar(log_softmax_rows(logits.transpose()) * eye);
    divide(rows + columns, -2.0 * n)
}
