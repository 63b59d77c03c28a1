//! The fused backward on host memory: each input's whole gradient in one pass over its rows
//! (every row-wise term at once), then one scatter of the tree-edge forces.

use crate::forward::HostMatrix;
use crate::plan::FusedPlan;
use crate::primitives::{mse, sphere};
use rayon::prelude::*;
use tregs_kernels::{accumulate_tree_gradient, edge_lengths, Real, Tree};
use tregs_macros_core::Primitive;

/// Writes the gradient of Σ_k `term_grads[k]` · value_k into `packed_grad`, laid out like
/// the packed inputs (input i at `plan.offsets()[i]`). `trees[j]` holds the edges of the
/// j-th entry of [`FusedPlan::tree_inputs`].
pub fn fused_backward<T: Real>(
    inputs: &[HostMatrix<T>],
    trees: &[Vec<(u32, u32)>],
    term_grads: &[f64],
    plan: &FusedPlan,
    packed_grad: &mut [T],
) {
    let tree_inputs = plan.tree_inputs();
    let offsets = plan.offsets();
    for i in 0..inputs.len() {
        let grad = &mut packed_grad[offsets[i]..offsets[i + 1]];
        let x = &inputs[i];
        let (n, d) = (x.n, x.d);
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
        if sphere_weight != 0.0 || !pulls.is_empty() {
            // Rows are independent: both cores take a share.
            grad.par_chunks_mut(d).enumerate().for_each(|(r, out)| {
                let row = &x.data[r * d..(r + 1) * d];
                let scale = if sphere_weight != 0.0 {
                    let norm = row
                        .iter()
                        .map(|v| v.to_f64() * v.to_f64())
                        .sum::<f64>()
                        .sqrt();
                    sphere_weight * sphere::row_grad_factor(norm, n)
                } else {
                    0.0
                };
                // One simple pass per contribution, so that each pass vectorizes.
                for (slot, v) in out.iter_mut().zip(row) {
                    *slot = T::from_f64(scale * v.to_f64());
                }
                for &(other, w) in &pulls {
                    let other = &inputs[other].data[r * d..(r + 1) * d];
                    for ((slot, v), o) in out.iter_mut().zip(row).zip(other) {
                        *slot = T::from_f64(slot.to_f64() + w * (v.to_f64() - o.to_f64()));
                    }
                }
            });
        } else {
            grad.fill(T::from_f64(0.0));
        }
        if tree_weight != 0.0 {
            let slot = tree_inputs.iter().position(|&t| t == i);
            let edges = &trees[slot.expect("every tree input has a tree")];
            let tree = Tree {
                edges: edges.clone(),
                lengths: edge_lengths(x.data, d, edges),
            };
            // ∂L_E/∂z_u = −(1/n)(z_u − z_v)/l: the kernel adds scale·(z_u − z_v)/l to u.
            accumulate_tree_gradient(x.data, d, &tree, -tree_weight / n as f64, grad);
        }
    }
}
