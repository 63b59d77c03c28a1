//! The hand-written backward: the whole loss expression is one node of the autodiff graph.
//! Its state keeps the two input slots and their trees, so the backward reuses the forward's
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
        head: FloatTensor<Self>,
        tail: FloatTensor<Self>,
        plan: Arc<FusedPlan>,
    ) -> (FloatTensor<Self>, IntTensor<Self>, FloatTensor<Self>) {
        let nodes = [head.node(), tail.node()];
        let (head, tail) = (head.into_primitive(), tail.into_primitive());
        let (values, trees, saved) =
            B::fused_loss_forward(head.clone(), tail.clone(), plan.clone());
        let values = match FusedLossBackward
            .prepare::<C>(nodes)
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                prep.finish((head, tail, trees.clone(), saved.clone(), plan), values)
            }
            OpsKind::UnTracked(prep) => prep.finish(values),
        };
        let saved = Constant.prepare::<C>([]).compute_bound().stateless(saved);
        (values, trees, saved)
    }

    /// The gradient is returned as a constant: tregs does not differentiate its backward.
    fn fused_loss_backward(
        head: FloatTensor<Self>,
        tail: FloatTensor<Self>,
        trees: IntTensor<Self>,
        saved: FloatTensor<Self>,
        term_grads: FloatTensor<Self>,
        plan: Arc<FusedPlan>,
    ) -> (FloatTensor<Self>, FloatTensor<Self>) {
        let (head, tail) = B::fused_loss_backward(
            head.into_primitive(),
            tail.into_primitive(),
            trees,
            saved.into_primitive(),
            term_grads.into_primitive(),
            plan,
        );
        let constant = |t| Constant.prepare::<C>([]).compute_bound().stateless(t);
        (constant(head), constant(tail))
    }

    fn weighted_total(values: FloatTensor<Self>, weights: Arc<Vec<f64>>) -> FloatTensor<Self> {
        let node = values.node();
        let total = B::weighted_total(values.into_primitive(), weights.clone());
        match WeightedTotalBackward
            .prepare::<C>([node])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => prep.finish(weights, total),
            OpsKind::UnTracked(prep) => prep.finish(total),
        }
    }

    /// A constant, like [`TregsOps::fused_loss_backward`]'s gradients.
    fn weighted_total_backward(
        grad: FloatTensor<Self>,
        weights: Arc<Vec<f64>>,
    ) -> FloatTensor<Self> {
        let grads = B::weighted_total_backward(grad.into_primitive(), weights);
        Constant.prepare::<C>([]).compute_bound().stateless(grads)
    }
}

/// The total's node: its gradient reaches the term values as `weights[k] · grad`.
#[derive(Debug)]
struct WeightedTotalBackward;

impl<B: Backend + TregsOps> Backward<B, 1> for WeightedTotalBackward {
    type State = Arc<Vec<f64>>;

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let grad = grads.consume::<B>(&ops.node);
        if let [Some(values)] = ops.parents {
            grads.register::<B>(values.id, B::weighted_total_backward(grad, ops.state));
        }
    }
}

#[derive(Debug)]
struct FusedLossBackward;

type SlotState<B> = (
    FloatTensor<B>,
    FloatTensor<B>,
    IntTensor<B>,
    FloatTensor<B>,
    Arc<FusedPlan>,
);

impl<B: Backend + TregsOps> Backward<B, 2> for FusedLossBackward {
    type State = SlotState<B>;

    fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _: &mut Checkpointer) {
        let term_grads = grads.consume::<B>(&ops.node);
        let [head_node, tail_node] = ops.parents;
        if head_node.is_none() && tail_node.is_none() {
            return;
        }
        let (head, tail, trees, saved, plan) = ops.state;
        let (head_grad, tail_grad) =
            B::fused_loss_backward(head, tail, trees, saved, term_grads, plan);
        if let Some(node) = head_node {
            grads.register::<B>(node.id, head_grad);
        }
        if let Some(node) = tail_node {
            grads.register::<B>(node.id, tail_grad);
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
