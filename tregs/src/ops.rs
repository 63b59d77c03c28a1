//! The backend extension: a whole loss expression as one fused operation.
//!
//! burn's `#[backend_extension]` routes single tensors (not lists), so the inputs travel
//! packed: every input flattened row-major and concatenated into one 1-D tensor, their
//! shapes in the [`FusedPlan`]. The autodiff graph then has one node for the whole loss,
//! and burn's own `cat` backward hands each input its slice of the packed gradient.

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
    /// `packed`: the inputs of [`FusedPlan::shapes`], flattened and concatenated.
    ///
    /// Returns the term values (shape `[K]`, plan order), the trees of
    /// [`FusedPlan::tree_inputs`] stacked as `[Σ (n_i − 1), 2]` edge indices, and what the
    /// backend keeps for its backward (row norms, edge lengths; possibly empty).
    fn fused_loss_forward(
        packed: FloatTensor<Self>,
        plan: Arc<FusedPlan>,
    ) -> (FloatTensor<Self>, IntTensor<Self>, FloatTensor<Self>);

    /// The packed gradient of `Σ_k term_grads[k] · value_k`, the trees held fixed.
    fn fused_loss_backward(
        packed: FloatTensor<Self>,
        trees: IntTensor<Self>,
        saved: FloatTensor<Self>,
        term_grads: FloatTensor<Self>,
        plan: Arc<FusedPlan>,
    ) -> FloatTensor<Self>;
}
