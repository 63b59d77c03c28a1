//! The fused backward on host memory: each input's whole gradient in one pass over its rows,
//! on all cores. A row gathers every term at once (the sphere pull, each `mse` pull, the
//! forces of its tree edges), summed in f64 in a fixed order and rounded once.

use crate::forward::HostMatrix;
use crate::plan::FusedPlan;
use crate::primitives::{mse, sphere};
use rayon::prelude::*;
use tregs_kernels::{
    add_scaled, add_scaled_difference, add_tree_row_gradient, sq_norm, store_rounded, Real,
    TreeAdjacency,
};
use tregs_macros_core::Primitive;

/// A tree as the backward reads it: its edges and their lengths from the forward.
pub struct SavedTree<'a> {
    pub edges: &'a [(u32, u32)],
    pub lengths: &'a [f64],
}

/// Writes into `grads[i]` (shaped like input i) the gradient of Σ_k `term_grads[k]` ·
/// value_k. `trees[j]` belongs to the j-th entry of [`FusedPlan::tree_inputs`].
pub fn fused_backward<T: Real>(
    inputs: &[HostMatrix<T>],
    trees: &[SavedTree],
    term_grads: &[f64],
    plan: &FusedPlan,
    grads: &mut [&mut [T]],
) {
    let tree_inputs = plan.tree_inputs();
    for (i, grad) in grads.iter_mut().enumerate() {
        let x = &inputs[i];
        let (n, d) = (x.n, x.d);
        if d == 0 {
            continue;
        }
        // Gather what every term asks of this input before touching a row.
        let mut sphere_weight = 0.0;
        let mut tree_weight = 0.0;
        let mut pulls: Vec<(usize, f64)> = Vec::new(); // (other input, w): w·(x − other)
        for (term, &g) in plan.terms.iter().zip(term_grads) {
            match term.primitive {
                Primitive::Sphere if term.args[0] == i => sphere_weight += g,
                Primitive::MstLen if term.args[0] == i => tree_weight += g,
                Primitive::Mse => {
                    let w = g * mse::grad_weight(n, d);
                    if term.args[0] == i {
                        pulls.push((term.args[1], w));
                    }
                    if term.args[1] == i {
                        pulls.push((term.args[0], w));
                    }
                }
                _ => {}
            }
        }
        let tree = (tree_weight != 0.0).then(|| {
            let slot = tree_inputs.iter().position(|&t| t == i);
            let tree = &trees[slot.expect("every tree input has a tree")];
            (TreeAdjacency::new(n, tree.edges), tree.lengths)
        });
        // ∂(c·L_E)/∂z_u = −(c/n) Σ_(u,v) (z_u − z_v)/l.
        let tree_scale = -tree_weight / n as f64;
        grad.par_chunks_mut(d).enumerate().for_each_init(
            || vec![0.0f64; d],
            |acc, (r, out)| {
                let row = &x.data[r * d..(r + 1) * d];
                let scale = if sphere_weight != 0.0 {
                    sphere_weight * sphere::row_grad_factor(sq_norm(row).sqrt(), n)
                } else {
                    0.0
                };
                acc.fill(0.0);
                if scale != 0.0 {
                    add_scaled(acc, scale, row);
                }
                for &(other, w) in &pulls {
                    add_scaled_difference(acc, w, row, &inputs[other].data[r * d..(r + 1) * d]);
                }
                if let Some((adjacency, lengths)) = &tree {
                    add_tree_row_gradient(x.data, d, r, adjacency, lengths, tree_scale, acc);
                }
                store_rounded(out, acc);
            },
        );
    }
}
