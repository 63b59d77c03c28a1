//! The fused forward on host memory: per input, the intermediates its terms need (row
//! norms, the minimum spanning tree), computed once; then every term's value.

use crate::plan::FusedPlan;
use crate::primitives::{mse, mst_len, sphere};
use rayon::prelude::*;
use tregs_kernels::{sq_norm, try_minimum_spanning_tree, Real, Tree};
use tregs_macros_core::Primitive;

/// A row-major n×d matrix in host memory.
#[derive(Debug, Clone, Copy)]
pub struct HostMatrix<'a, T> {
    pub data: &'a [T],
    pub n: usize,
    pub d: usize,
}

/// Row norms ‖x_i‖ in f64 (rows on both cores; each norm summed in order: deterministic).
pub fn row_norms<T: Real>(x: &HostMatrix<T>) -> Vec<f64> {
    x.data[..x.n * x.d]
        .par_chunks_exact(x.d.max(1))
        .map(|row| sq_norm(row).sqrt())
        .collect()
}

/// Largest n for which the trees of several inputs are built in parallel (each builder
/// thread then holds an n x n f32 distance buffer: 256 MiB at this n).
const PARALLEL_TREES_MAX_ROWS: usize = 8192;

/// Term values (unweighted, in plan order) and the trees of [`FusedPlan::tree_inputs`].
pub fn fused_forward<T: Real>(inputs: &[HostMatrix<T>], plan: &FusedPlan) -> (Vec<f64>, Vec<Tree>) {
    let tree_inputs = plan.tree_inputs();
    let tree = |&i: &usize| {
        let x = &inputs[i];
        // No tree exists (a row holds NaN or Inf, or the squared distances overflow: the
        // function checks both before building any matrix): the term's value is NaN, which
        // `evaluate` reports (naming the row at fault, or the overflow) before any backward
        // can run. A path keeps the shapes valid.
        try_minimum_spanning_tree(x.data, x.n, x.d).unwrap_or_else(|| Tree {
            edges: (1..x.n as u32).map(|v| (v - 1, v)).collect(),
            lengths: vec![f64::NAN; x.n - 1],
        })
    };
    // Trees in parallel: one view's Prim pass (serial) overlaps the other's distance step
    // instead of leaving a core idle (n = 4096, d = 128 on 2 cores: 56-67 -> 46-49 ms per
    // call). Each tree is exact, so the schedule does not change them; but each thread that
    // builds one keeps its own n x n buffer, so above PARALLEL_TREES_MAX_ROWS the trees
    // are built one after the other and one buffer serves them all.
    let parallel = tree_inputs
        .iter()
        .all(|&i| inputs[i].n <= PARALLEL_TREES_MAX_ROWS);
    let trees: Vec<Tree> = if parallel {
        tree_inputs.par_iter().map(tree).collect()
    } else {
        tree_inputs.iter().map(tree).collect()
    };
    let mut norms: Vec<Option<Vec<f64>>> = vec![None; inputs.len()];
    let values = plan
        .terms
        .iter()
        .map(|term| match term.primitive {
            Primitive::MstLen => {
                let slot = tree_inputs.iter().position(|&i| i == term.args[0]);
                let tree = &trees[slot.expect("every tree input has a tree")];
                mst_len::value(tree, inputs[term.args[0]].n)
            }
            Primitive::Sphere => {
                let i = term.args[0];
                let norms = norms[i].get_or_insert_with(|| row_norms(&inputs[i]));
                sphere::value(norms)
            }
            Primitive::Mse => mse::value(inputs[term.args[0]].data, inputs[term.args[1]].data),
            other => unreachable!("{other:?} is not fused: `evaluate` runs it with tensor ops"),
        })
        .collect();
    (values, trees)
}
