//! The backend extension: a whole loss expression as one fused operation.
//!
//! burn's `#[backend_extension]` routes single tensors (not lists), so the inputs travel in
//! two flattened slots, their shapes in the [`FusedPlan`]: the *head* is input 0, the
//! *tail* is inputs 1.. concatenated (empty for a one-input loss; input 1 itself, with no
//! copy, for the common two-view loss). The autodiff graph has one node for the whole
//! loss, with the two slots as its parents.

use crate::plan::FusedPlan;
use burn::backend::{backend_extension, tensor::FloatTensor, tensor::IntTensor, Backend};
use std::sync::Arc;

/// Fused evaluation of a loss plan, implemented natively per backend.
///
/// The forward computes each input's shared intermediates once (row norms, the minimum
/// spanning tree) and returns every term's *unweighted* value; the backward takes the
/// gradient of each term value and returns the gradient of every input, each term's
/// contribution accumulated in one pass per input.
#[backend_extension(Flex, Cube: cfg(any(feature = "wgpu", feature = "cuda")), Autodiff)]
pub trait TregsOps: Backend {
    /// `head`: input 0 flattened; `tail`: inputs 1.. flattened and concatenated (see
    /// [`FusedPlan::offsets`]).
    ///
    /// Returns the term values (shape `[K]`, plan order), the trees of
    /// [`FusedPlan::tree_inputs`] stacked as `[Σ (n_i − 1), 2]` edge indices, and what the
    /// backend keeps for its backward (row norms, edge lengths; possibly empty).
    fn fused_loss_forward(
        head: FloatTensor<Self>,
        tail: FloatTensor<Self>,
        plan: Arc<FusedPlan>,
    ) -> (FloatTensor<Self>, IntTensor<Self>, FloatTensor<Self>);

    /// The gradient of `Σ_k term_grads[k] · value_k` with respect to the head and the
    /// tail, the trees held fixed.
    fn fused_loss_backward(
        head: FloatTensor<Self>,
        tail: FloatTensor<Self>,
        trees: IntTensor<Self>,
        saved: FloatTensor<Self>,
        term_grads: FloatTensor<Self>,
        plan: Arc<FusedPlan>,
    ) -> (FloatTensor<Self>, FloatTensor<Self>);

    /// `Σ_k weights[k] · values[k]`, shape `[1]`: a loss's total from its term values `[K]`.
    /// One node of the autodiff graph (burn's `(values * weights).sum()` would be three
    /// forward and four backward kernels on a GPU, and a weights upload).
    fn weighted_total(values: FloatTensor<Self>, weights: Arc<Vec<f64>>) -> FloatTensor<Self>;

    /// The gradient of [`TregsOps::weighted_total`] with respect to its values:
    /// `weights[k] · grad[0]`, shape `[K]`.
    fn weighted_total_backward(
        grad: FloatTensor<Self>,
        weights: Arc<Vec<f64>>,
    ) -> FloatTensor<Self>;
}
