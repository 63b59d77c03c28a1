//! The fused operation on Flex (burn's pure-Rust CPU backend): host slices straight from the
//! two slots' storage (no copy), the math in [`crate::forward`] and [`crate::backward`].

use crate::backward::{fused_backward, SavedTree};
use crate::forward::{fused_forward, HostMatrix};
use crate::ops::TregsOps;
use crate::plan::FusedPlan;
use burn::backend::flex::{Flex, FlexTensor};
use burn::backend::tensor::{FloatTensor, IntTensor};
use burn::tensor::{DType, Element, TensorData};
use std::sync::Arc;
use tregs_kernels::Real;

impl TregsOps for Flex {
    fn fused_loss_forward(
        head: FloatTensor<Flex>,
        tail: FloatTensor<Flex>,
        plan: Arc<FusedPlan>,
    ) -> (FloatTensor<Flex>, IntTensor<Flex>, FloatTensor<Flex>) {
        let (head, tail) = (contiguous(head), contiguous(tail));
        match head.dtype() {
            DType::F64 => forward_typed::<f64>(&head, &tail, &plan),
            // `evaluate` admits only f32 and f64 inputs.
            _ => forward_typed::<f32>(&head, &tail, &plan),
        }
    }

    fn fused_loss_backward(
        head: FloatTensor<Flex>,
        tail: FloatTensor<Flex>,
        trees: IntTensor<Flex>,
        saved: FloatTensor<Flex>,
        term_grads: FloatTensor<Flex>,
        plan: Arc<FusedPlan>,
    ) -> (FloatTensor<Flex>, FloatTensor<Flex>) {
        let term_grads = to_f64_vec(term_grads);
        let lengths = to_f64_vec(saved);
        let edges: Vec<(u32, u32)> = trees
            .into_data()
            .convert::<i64>()
            .try_to_vec::<i64>()
            .expect("tree edges are integers")
            .chunks_exact(2)
            .map(|e| (e[0] as u32, e[1] as u32))
            .collect();
        let trees = split_trees(&edges, &lengths, &plan);
        let (head, tail) = (contiguous(head), contiguous(tail));
        match head.dtype() {
            DType::F64 => backward_typed::<f64>(&head, &tail, &trees, &term_grads, &plan),
            _ => backward_typed::<f32>(&head, &tail, &trees, &term_grads, &plan),
        }
    }

    fn weighted_total(values: FloatTensor<Flex>, weights: Arc<Vec<f64>>) -> FloatTensor<Flex> {
        let dtype = values.dtype();
        let total: f64 = to_f64_vec(values)
            .iter()
            .zip(weights.iter())
            .map(|(v, w)| v * w)
            .sum();
        FlexTensor::from_data(TensorData::new(vec![total], [1]).convert_dtype(dtype))
    }

    fn weighted_total_backward(
        grad: FloatTensor<Flex>,
        weights: Arc<Vec<f64>>,
    ) -> FloatTensor<Flex> {
        let dtype = grad.dtype();
        let g = to_f64_vec(grad)[0];
        let grads: Vec<f64> = weights.iter().map(|w| w * g).collect();
        let k = grads.len();
        FlexTensor::from_data(TensorData::new(grads, [k]).convert_dtype(dtype))
    }
}

fn contiguous(t: FlexTensor) -> FlexTensor {
    if t.is_contiguous() && t.layout().start_offset() == 0 {
        t
    } else {
        t.to_contiguous()
    }
}

fn to_f64_vec(t: FlexTensor) -> Vec<f64> {
    t.into_data()
        .convert::<f64>()
        .try_to_vec()
        .expect("a float tensor")
}

/// Input i's rows, from the head (i = 0) or the tail (i ≥ 1).
fn host_views<'a, T: Element + bytemuck::Pod>(
    head: &'a FlexTensor,
    tail: &'a FlexTensor,
    plan: &FusedPlan,
) -> Vec<HostMatrix<'a, T>> {
    let slice = |t: &'a FlexTensor| t.as_slice::<T>().expect("contiguous, of the plan's dtype");
    let (head, tail) = (
        slice(head),
        if plan.shapes.len() > 1 {
            slice(tail)
        } else {
            &[]
        },
    );
    let offsets = plan.offsets();
    plan.shapes
        .iter()
        .enumerate()
        .map(|(i, &[n, d])| HostMatrix {
            data: if i == 0 {
                head
            } else {
                &tail[offsets[i] - offsets[1]..offsets[i + 1] - offsets[1]]
            },
            n,
            d,
        })
        .collect()
}

fn forward_typed<T>(
    head: &FlexTensor,
    tail: &FlexTensor,
    plan: &FusedPlan,
) -> (FlexTensor, FlexTensor, FlexTensor)
where
    T: Real + Element + bytemuck::Pod,
{
    let views = host_views::<T>(head, tail, plan);
    let (values, trees) = fused_forward(&views, plan);
    let k = values.len();
    let values: Vec<T> = values.into_iter().map(T::from_f64).collect();
    let flat: Vec<i64> = trees
        .iter()
        .flat_map(|tree| tree.edges.iter().flat_map(|&(u, v)| [u as i64, v as i64]))
        .collect();
    let m = flat.len() / 2;
    // The backward reads the forward's exact (f64) edge lengths instead of recomputing them.
    let lengths: Vec<f64> = trees
        .iter()
        .flat_map(|t| t.lengths.iter().copied())
        .collect();
    (
        FlexTensor::from_data(TensorData::new(values, [k])),
        FlexTensor::from_data(TensorData::new(flat, [m, 2])),
        FlexTensor::from_data(TensorData::new(lengths, [m])),
    )
}

fn backward_typed<T>(
    head: &FlexTensor,
    tail: &FlexTensor,
    trees: &[SavedTree],
    term_grads: &[f64],
    plan: &FusedPlan,
) -> (FlexTensor, FlexTensor)
where
    T: Real + Element + bytemuck::Pod,
{
    let views = host_views::<T>(head, tail, plan);
    let offsets = plan.offsets();
    let head_len = offsets[1];
    let tail_len = offsets[offsets.len() - 1] - head_len;
    let mut head_grad = vec![T::ZERO; head_len];
    let mut tail_grad = vec![T::ZERO; tail_len];
    let mut grads: Vec<&mut [T]> = vec![&mut head_grad[..]];
    let mut rest = &mut tail_grad[..];
    for i in 1..plan.shapes.len() {
        let (input, after) = rest.split_at_mut(offsets[i + 1] - offsets[i]);
        grads.push(input);
        rest = after;
    }
    fused_backward(&views, trees, term_grads, plan, &mut grads);
    (
        FlexTensor::from_data(TensorData::new(head_grad, [head_len])),
        FlexTensor::from_data(TensorData::new(tail_grad, [tail_len])),
    )
}

/// One tree per tree input (n_i − 1 edges each), with its lengths, from the stacked edges.
fn split_trees<'a>(
    edges: &'a [(u32, u32)],
    lengths: &'a [f64],
    plan: &FusedPlan,
) -> Vec<SavedTree<'a>> {
    let mut at = 0;
    plan.tree_inputs()
        .into_iter()
        .map(|i| {
            let m = plan.shapes[i][0] - 1;
            at += m;
            SavedTree {
                edges: &edges[at - m..at],
                lengths: &lengths[at - m..at],
            }
        })
        .collect()
}
