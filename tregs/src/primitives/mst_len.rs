//! `mst_len(z)`: the T-REGS length term.
//!
//! L_E(Z) = −(1/n) · Σ_{(u,v) ∈ MST(Z)} ‖z_u − z_v‖
//!
//! Z has n rows (points) of d columns; MST(Z) is the Euclidean minimum spanning tree of the
//! rows. Minimizing L_E lengthens the tree, which spreads the points apart (Mordacq,
//! Loiseaux, Kalogeiton, Oudot, *T-REGS: Minimum Spanning Tree Regularization for
//! Self-Supervised Learning*, arXiv 2510.23484, eq. for L_E).
//!
//! Gradient, the tree held fixed (it is piecewise constant in Z): for each tree edge (u, v)
//! of length l > 0, ∂L_E/∂z_u = −(1/n)(z_u − z_v)/l and ∂L_E/∂z_v = +(1/n)(z_u − z_v)/l.
//! An edge of length 0 (duplicate points) contributes nothing.
//!
//! The tree is exact: squared distances from the Gram matrix, Prim's O(n²) under the total
//! order (d², min(u,v), max(u,v)) (ties go to the lowest index pair), and the chosen edges'
//! lengths recomputed from the coordinates in f64. See `tregs_kernels`.

use super::{row_sum, scalar};
use burn::tensor::{Int, Tensor, TensorData};
use tregs_kernels::Tree;

/// L_E from a tree of `n` points.
pub fn value(tree: &Tree, n: usize) -> f64 {
    -tree.total_length() / n as f64
}

/// The reference with burn tensor ops: the tree is found on the host, the length is a
/// differentiable gather-and-norm, so it runs (and differentiates) on any backend.
pub fn reference(z: Tensor<2>) -> Tensor<1> {
    let [n, _] = z.dims();
    let device = z.device();
    let Ok(tree) = crate::minimum_spanning_tree(&z) else {
        // No tree exists (NaN or Inf in `z`, or distances that overflow): the value is NaN,
        // which `evaluate` reports, naming the row at fault or the overflow.
        return Tensor::<1>::from_data(TensorData::new(vec![f64::NAN], [1]), (&device, z.dtype()));
    };
    let (u, v): (Vec<i64>, Vec<i64>) = tree
        .edges
        .iter()
        .map(|&(u, v)| (u as i64, v as i64))
        .unzip();
    let m = u.len();
    let u = Tensor::<1, Int>::from_data(TensorData::new(u, [m]), &device);
    let v = Tensor::<1, Int>::from_data(TensorData::new(v, [m]), &device);
    let diff = z.clone().select(0, u) - z.select(0, v);
    // Clamping the squared length keeps sqrt's derivative finite on duplicate points; the
    // clamp's own derivative is zero there, so such edges contribute no gradient.
    let lengths = row_sum(diff.powi_scalar(2)).clamp_min(1e-30).sqrt();
    scalar(lengths).mul_scalar(-1.0 / n as f64)
}
