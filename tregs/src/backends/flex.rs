//! The fused operation on Flex (burn's pure-Rust CPU backend): host slices straight from the
//! packed tensor's storage, the math in [`crate::forward`] and [`crate::backward`].

use crate::backward::fused_backward;
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
        packed: FloatTensor<Flex>,
        plan: Arc<FusedPlan>,
    ) -> (FloatTensor<Flex>, IntTensor<Flex>, FloatTensor<Flex>) {
        let packed = contiguous(packed);
        match packed.dtype() {
            DType::F64 => forward_typed::<f64>(&packed, &plan),
            // `evaluate` admits only f32 and f64 inputs.
            _ => forward_typed::<f32>(&packed, &plan),
        }
    }

    fn fused_loss_backward(
        packed: FloatTensor<Flex>,
        trees: IntTensor<Flex>,
        _saved: FloatTensor<Flex>,
        term_grads: FloatTensor<Flex>,
        plan: Arc<FusedPlan>,
    ) -> FloatTensor<Flex> {
        let term_grads: Vec<f64> = term_grads
            .into_data()
            .convert::<f64>()
            .try_to_vec()
            .expect("term gradients are floats");
        let trees = split_trees(trees, &plan);
        let packed = contiguous(packed);
        match packed.dtype() {
            DType::F64 => backward_typed::<f64>(&packed, &trees, &term_grads, &plan),
            _ => backward_typed::<f32>(&packed, &trees, &term_grads, &plan),
        }
    }
}

fn contiguous(t: FlexTensor) -> FlexTensor {
    if t.is_contiguous() && t.layout().start_offset() == 0 {
        t
    } else {
        t.to_contiguous()
    }
}

fn host_views<'a, T: Element + bytemuck::Pod>(
    packed: &'a FlexTensor,
    plan: &FusedPlan,
) -> Vec<HostMatrix<'a, T>> {
    let data = packed
        .as_slice::<T>()
        .expect("contiguous tensor of the plan's dtype");
    let offsets = plan.offsets();
    plan.shapes
        .iter()
        .enumerate()
        .map(|(i, &[n, d])| HostMatrix {
            data: &data[offsets[i]..offsets[i + 1]],
            n,
            d,
        })
        .collect()
}

fn forward_typed<T>(packed: &FlexTensor, plan: &FusedPlan) -> (FlexTensor, FlexTensor, FlexTensor)
where
    T: Real + Element + bytemuck::Pod,
{
    let views = host_views::<T>(packed, plan);
    let (values, trees) = fused_forward(&views, plan);
    let k = values.len();
    let values: Vec<T> = values.into_iter().map(T::from_f64).collect();
    let flat: Vec<i64> = trees
        .iter()
        .flat_map(|tree| tree.edges.iter().flat_map(|&(u, v)| [u as i64, v as i64]))
        .collect();
    let m = flat.len() / 2;
    (
        FlexTensor::from_data(TensorData::new(values, [k])),
        FlexTensor::from_data(TensorData::new(flat, [m, 2])),
        // The host backward recomputes norms and lengths: O(n·d), cheaper than keeping them.
        FlexTensor::from_data(TensorData::new(Vec::<T>::new(), [0])),
    )
}

fn backward_typed<T>(
    packed: &FlexTensor,
    trees: &[Vec<(u32, u32)>],
    term_grads: &[f64],
    plan: &FusedPlan,
) -> FlexTensor
where
    T: Real + Element + bytemuck::Pod,
{
    let views = host_views::<T>(packed, plan);
    let len = plan.offsets().last().copied().unwrap_or(0);
    let mut grad = vec![T::from_f64(0.0); len];
    fused_backward(&views, trees, term_grads, plan, &mut grad);
    FlexTensor::from_data(TensorData::new(grad, [len]))
}

/// Splits the stacked edges back into one tree per tree input (n_i − 1 edges each).
fn split_trees(trees: FlexTensor, plan: &FusedPlan) -> Vec<Vec<(u32, u32)>> {
    let flat: Vec<i64> = trees
        .into_data()
        .convert::<i64>()
        .try_to_vec()
        .expect("tree edges are integers");
    let mut edges = flat.chunks_exact(2).map(|e| (e[0] as u32, e[1] as u32));
    plan.tree_inputs()
        .into_iter()
        .map(|i| edges.by_ref().take(plan.shapes[i][0] - 1).collect())
        .collect()
}
