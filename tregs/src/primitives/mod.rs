//! One file per primitive: the formula and its paper in the doc comment, and the math.
//!
//! `mst_len`, `sphere` and `mse` run inside the fused operation (host row math here, a
//! hand-written backward) and also have a reference written with plain burn tensor ops (the
//! fallback on backends without a fused implementation, and an independent check). The
//! others are written with burn tensor ops only and differentiated by burn's autodiff, on
//! whichever backend holds the tensors.

pub mod barlow;
pub mod byol;
pub mod clip;
pub mod cosine;
pub mod mse;
pub mod mst_len;
pub mod nt_xent;
pub mod sphere;
pub mod uniformity;
pub mod vicreg;
pub mod w2;

use burn::tensor::{Tensor, TensorData};

/// What excluded logits (a softmax's self-similarity, pairs outside i<j) are lowered by:
/// their exponential is 0, and unlike −∞ it cannot turn a masked product into NaN.
pub(crate) const EXCLUDED: f64 = 1e9;

/// Rows divided by their norm, as PyTorch's `F.normalize` (norm clamped at 1e-12).
pub(crate) fn normalize_rows(z: Tensor<2>) -> Tensor<2> {
    // Clamped before the square root, whose derivative at 0 is infinite: a zero row gets
    // the finite gradient of PyTorch's `F.normalize` (x / max(‖x‖, 1e-12)), not NaN.
    let norms = z.clone().powi_scalar(2).sum_dim(1).clamp_min(1e-24).sqrt();
    z / norms
}

/// The k×k identity, with `like`'s dtype and device.
pub(crate) fn eye_like(k: usize, like: &Tensor<2>) -> Tensor<2> {
    let mut data = vec![0.0f64; k * k];
    for i in 0..k {
        data[i * k + i] = 1.0;
    }
    Tensor::from_data(
        TensorData::new(data, [k, k]),
        (&like.device(), like.dtype()),
    )
}

/// A k×k matrix from `f(i, j)`, with `like`'s dtype and device (masks, selections).
pub(crate) fn matrix_like(
    k: usize,
    like: &Tensor<2>,
    f: impl Fn(usize, usize) -> f64,
) -> Tensor<2> {
    let data: Vec<f64> = (0..k * k).map(|x| f(x / k, x % k)).collect();
    Tensor::from_data(
        TensorData::new(data, [k, k]),
        (&like.device(), like.dtype()),
    )
}

/// `t / k` for a constant `k`, computed as `t · (1/k)`.
///
/// burn-autodiff 0.22's `div_scalar` backward multiplies by `1 / (k as f32)`, so in f64 the
/// gradient of every term that divided by a count or a temperature was only f32-accurate
/// (about 3e-8 relative; exact only for powers of two). `mul_scalar`'s backward keeps the
/// factor in the inputs' dtype. `clippy.toml` forbids `div_scalar` (and burn's `var`,
/// which ends in one) so that it does not come back.
pub(crate) fn divide<const D: usize>(t: Tensor<D>, k: f64) -> Tensor<D> {
    t.mul_scalar(1.0 / k)
}

/// The column variances of `z` (n×d) as a 1×d row, the squared deviations summed and
/// divided by `denominator`: n for the biased variance, n − 1 for the unbiased one.
pub(crate) fn column_variance(z: Tensor<2>, denominator: f64) -> Tensor<2> {
    let centred = z.clone() - z.mean_dim(0);
    divide(centred.powi_scalar(2).sum_dim(0), denominator)
}

/// A scalar tensor of shape `[1]` from a `[1, 1]` or any all-reduced tensor.
pub(crate) fn scalar<const D: usize>(t: Tensor<D>) -> Tensor<1> {
    t.sum().reshape([1])
}
