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
///
/// Each row is first divided by m_r = max(max_k |z_rk|, 1), held constant (detached): the
/// squares of a row with ‖z_r‖ ≳ 1.8e19 in f32 (1.3e154 in f64) overflow, and the row
/// came out as zeros. normalize(z/m) = normalize(z), and since normalize is homogeneous of
/// degree 0 and m a constant, its gradient is the same too. Rows with max |z_rk| ≤ 1 are
/// not rescaled (m = 1), so small rows keep `F.normalize`'s clamp.
pub(crate) fn normalize_rows(z: Tensor<2>) -> Tensor<2> {
    let scale = z.clone().detach().abs().max_dim(1).clamp_min(1.0);
    let z = z / scale;
    // Clamped before the square root, whose derivative at 0 is infinite: a zero row gets
    // the finite gradient of PyTorch's `F.normalize` (x / max(‖x‖, 1e-12)), not NaN.
    let norms = row_sum(z.clone().powi_scalar(2)).clamp_min(1e-24).sqrt();
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
    let centred = z.clone() - column_mean(z);
    divide(column_sum(centred.powi_scalar(2)), denominator)
}

/// Reductions below this length are left to one burn `sum_dim`.
const BLOCK_FROM: usize = 64;

/// The column sums of `z` (n×d) as a 1×d row, summed in blocks of b rows (b the power of
/// two at or above √n, the rows padded with zeros to a multiple of b): Σ_r z_rk =
/// Σ_blocks Σ_{r in block} z_rk.
///
/// Why: burn Flex's f32 `sum_dim(0)` adds the rows one after another into each column's
/// sum, an error growing with n, and its `sum()` of the 8192×8192 squares of vicreg_cov
/// at d = 8192 came out 19% low. Two levels of about √n each keep the error near that of
/// pairwise summation on every backend; each step is a plain `sum_dim`, so burn's autodiff
/// differentiates it (the backward broadcasts, exactly).
pub(crate) fn column_sum(z: Tensor<2>) -> Tensor<2> {
    blocked_sum(z, 0)
}

/// The row sums of `z` (n×d) as an n×1 column, in blocks of about √d columns (see
/// [`column_sum`]).
pub(crate) fn row_sum(z: Tensor<2>) -> Tensor<2> {
    blocked_sum(z, 1)
}

/// `z` summed along `dim` (0 or 1) in two levels: blocks of b entries (b the power of two
/// at or above the square root of the length, zeros padding the last), then the blocks.
fn blocked_sum(z: Tensor<2>, dim: usize) -> Tensor<2> {
    let dims = z.dims();
    let (len, other) = (dims[dim], dims[1 - dim]);
    if len <= BLOCK_FROM {
        return z.sum_dim(dim);
    }
    let block = ((len as f64).sqrt().ceil() as usize).next_power_of_two();
    let blocks = len.div_ceil(block);
    let z = if blocks * block > len {
        let mut padding = dims;
        padding[dim] = blocks * block - len;
        let zeros = Tensor::zeros(padding, (&z.device(), z.dtype()));
        Tensor::cat(vec![z, zeros], dim)
    } else {
        z
    };
    let (split, summed) = if dim == 0 {
        ([blocks, block, other], [1, other])
    } else {
        ([other, blocks, block], [other, 1])
    };
    z.reshape(split)
        .sum_dim(dim + 1)
        .sum_dim(dim)
        .reshape(summed)
}

/// log softmax along each row: x − max − log Σ_k exp(x_k − max), the max held constant and
/// the exponentials summed by [`row_sum`] (burn's `log_softmax` sums along the dimension
/// with one `sum_dim`, which on Flex in f32 runs through the rows one after another for a
/// softmax over dim 0). A softmax over the columns is this on the transpose.
pub(crate) fn log_softmax_rows(x: Tensor<2>) -> Tensor<2> {
    let shifted = x.clone() - x.detach().max_dim(1);
    let log_sum_exp = row_sum(shifted.clone().exp()).log();
    shifted - log_sum_exp
}

/// The column means of `z` (n×d) as a 1×d row: [`column_sum`] / n.
pub(crate) fn column_mean(z: Tensor<2>) -> Tensor<2> {
    let n = z.dims()[0] as f64;
    divide(column_sum(z), n)
}

/// Σ of every element of `t` (2-D) as a tensor of shape `[1]`: each row summed, then the
/// column of row sums, both in blocks ([`row_sum`], [`column_sum`]), so that a d×d or n×n
/// matrix of 67M elements sums near f32 pairwise-summation accuracy where burn Flex's `sum()`
/// lost 19% of vicreg_cov at d = 8192 (barlow: 18%).
pub(crate) fn scalar(t: Tensor<2>) -> Tensor<1> {
    column_sum(row_sum(t)).reshape([1])
}

/// The mean of every element of `t` (2-D) as a tensor of shape `[1]`: [`scalar`] / count.
pub(crate) fn mean_all(t: Tensor<2>) -> Tensor<1> {
    let [n, d] = t.dims();
    divide(scalar(t), (n * d) as f64)
}
