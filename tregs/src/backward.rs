//! The fused backward on host memory: each input's whole gradient in one pass over its rows
//! (every row-wise term at once), then one scatter of the tree-edge forces.

use crate::forward::HostMatrix;
use crate::plan::FusedPlan;
use crate::primitives::{mse, sphere};
use tregs_kernels::{accumulate_tree_gradient, edge_lengths, Real, Tree};
use tregs_macros_core::Primitive;

/// Gradients of Σ_k `term_grads[k]` · value_k, one per input. `trees[j]` holds the edges of
/// the j-th entry of [`FusedPlan::tree_inputs`].
pub fn fused_backward<T: Real>(
    inputs: &[HostMatrix<T>],
    trees: &[Vec<(u32, u32)>],
    term_grads: &[f64],
    plan: &FusedPlan,
) -> Vec<Vec<T>> {
    let tree_inputs = plan.tree_inputs();
    (0..inputs.len())
        .map(|i| {
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
            let mut grad = vec![T::from_f64(0.0); n * d];
            if sphere_weight != 0.0 || !pulls.is_empty() {
                for r in 0..n {
                    let row = &x.data[r * d..(r + 1) * d];
                    let out = &mut grad[r * d..(r + 1) * d];
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
                    for c in 0..d {
                        let v = row[c].to_f64();
                        let mut g = scale * v;
                        for &(other, w) in &pulls {
                            g += w * (v - inputs[other].data[r * d + c].to_f64());
                        }
                        out[c] = T::from_f64(g);
                    }
                }
            }
            if tree_weight != 0.0 {
                let slot = tree_inputs.iter().position(|&t| t == i);
                let edges = &trees[slot.expect("every tree input has a tree")];
                let tree = Tree {
                    edges: edges.clone(),
                    lengths: edge_lengths(x.data, d, edges),
                };
                // ∂L_E/∂z_u = −(1/n)(z_u − z_v)/l: the kernel adds scale·(z_u − z_v)/l to u.
                accumulate_tree_gradient(x.data, d, &tree, -tree_weight / n as f64, &mut grad);
            }
            grad
        })
        .collect()
}
