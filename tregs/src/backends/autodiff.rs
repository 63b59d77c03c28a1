//! The hand-written backward: the whole loss expression is one node of the autodiff graph.
//! Its state keeps the packed inputs and their trees, so the backward reuses the forward's
//! trees (a tree is piecewise constant in the inputs: held fixed, as in the paper).

use crate::ops::TregsOps;
use crate::plan::FusedPlan;
use burn::backend::autodiff::checkpoint::{base::Checkpointer, strategy::CheckpointStrategy};
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::autodiff::Autodiff;
use burn::backend::tensor::{FloatTensor, IntTensor};
use burn::backend::Backend;
use std::sync::Arc;

impl<B: Backend + TregsOps, C: CheckpointStrategy> TregsOps for Autodiff<B, C> {
    fn fused_loss_forward(
        packed: FloatTensor<Self>,
        plan: Arc<FusedPlan>,
    ) -> (FloatTensor<Self>, IntTensor<Self>, FloatTensor<Self>) {
        let guard = packed.node();
        let packed = packed.into_primitive();
        let (values, trees, saved) = B::fused_loss_forward(packed.clone(), plan.clone());
        let values = match FusedLossBackward
            .prepare::<C>([guard])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                prep.finish((packed, trees.clone(), saved.clone(), plan), values)
            }
            OpsKind::UnTracked(prep) => prep.finish(values),
        };
        let saved = Constant.prepare::<C>([]).compute_bound().stateless(saved);
        (values, trees, saved)
    }

    /// The gradient is returned as a constant: tregs does not differentiate its backward.
    fn fused_loss_backward(
        packed: FloatTensor<Self>,
        trees: IntTensor<Self>,
        saved: FloatTensor<Self>,
        term_grads: FloatTensor<Self>,
        plan: Arc<FusedPlan>,
    ) -> FloatTensor<Self> {
        let grad = B::fused_loss_backward(
            packed.into_primitive(),
            trees,
            saved.into_primitive(),
            term_grads.into_primitive(),
            plan,
        );
        Constant.prepare::<C>([]).compute_bound().stateless(grad)
    }
}

#[derive(Debug)]
struct FusedLossBackward;

impl<B: Backend + TregsOps> Backward<B, 1> for FusedLossBackward {
    type State = (FloatTensor<B>, IntTensor<B>, FloatTensor<B>, Arc<FusedPlan>);

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let term_grads = grads.consume::<B>(&ops.node);
        let [parent] = ops.parents;
        if let Some(node) = parent {
            let (packed, trees, saved, plan) = ops.state;
            let grad = B::fused_loss_backward(packed, trees, saved, term_grads, plan);
            grads.register::<B>(node.id, grad);
        }
    }
}

/// A node without parents, for results that are not differentiated further.
#[derive(Debug)]
struct Constant;

impl<B: Backend> Backward<B, 0> for Constant {
    type State = ();

    fn backward(self, _: Ops<(), 0>, _: &mut Gradients, _: &mut Checkpointer) {}
}
