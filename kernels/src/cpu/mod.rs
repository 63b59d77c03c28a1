//! CPU kernels: squared distances, exact MST, tree lengths and gradient.
//!
//! Pipeline for `L_E(Z) = -(1/n) sum_{MST edges} ||z_u - z_v||`:
//! [`pairwise_sq_distances`] → [`prim_mst`] → [`edge_lengths`] (all three:
//! [`minimum_spanning_tree`]), then [`accumulate_tree_gradient`] with `scale = -c/n`.

mod boruvka;
mod calibrate;
mod close_pairs;
mod gram;
mod kruskal;
mod prim;
mod real;
mod rows;
mod scratch;
mod tree;

pub use boruvka::ShardedBoruvka;
pub use calibrate::fma_peak_gflops;
pub use close_pairs::{close_pair_components, close_threshold, patch_close_pairs};
pub use gram::{pairwise_sq_distances_peak_bytes, pairwise_sq_distances_scratch_bytes, GramKernel};
pub use kruskal::{kruskal_on_matrix, kruskal_reference_f64};
pub use prim::{prim_mst, try_prim_mst};
pub use real::Real;
pub use rows::{add_scaled, add_scaled_difference, sq_distance, sq_norm, store_rounded};
pub use scratch::release_scratch;
pub use tree::{
    accumulate_tree_gradient, add_tree_row_gradient, distances_fit, edge_lengths,
    minimum_spanning_tree, scaled_up_if_tiny, try_minimum_spanning_tree, Tree, TreeAdjacency,
};

/// Squared Euclidean distances between the rows of `x` (n x d, row-major): an n x n
/// row-major matrix, exactly symmetric, with an exactly zero diagonal.
///
/// `d2_ij = max(0, |y_i|^2 + |y_j|^2 - 2 <y_i, y_j>)` with `y = x - c`, `c` a rounded
/// column mean (precision for offset clouds); the Gram matrix `Y Y^T` is computed on one
/// triangle only with the fastest SIMD micro-kernel of this CPU, on all rayon threads.
/// Duplicate rows get exactly 0. See [`pairwise_sq_distances_with`] to pick the kernel and
/// [`pairwise_sq_distances_peak_bytes`] for the memory bound (output + O(n d) scratch).
///
/// # Panics
/// If `x.len() != n * d`.
pub fn pairwise_sq_distances<T: Real>(x: &[T], n: usize, d: usize) -> Vec<T> {
    pairwise_sq_distances_with(x, n, d, GramKernel::Auto)
}

/// [`pairwise_sq_distances`] with an explicit micro-kernel (e.g. `Portable` to check the
/// SIMD kernels).
///
/// # Panics
/// If `x.len() != n * d` or `kernel` is not available on this CPU.
pub fn pairwise_sq_distances_with<T: Real>(
    x: &[T],
    n: usize,
    d: usize,
    kernel: GramKernel,
) -> Vec<T> {
    let mut out = vec![T::ZERO; n * n];
    pairwise_sq_distances_into(x, n, d, kernel, &mut out);
    out
}

/// [`pairwise_sq_distances_with`] into a caller-provided n x n buffer (every entry is
/// overwritten), so a training loop can reuse the allocation.
///
/// # Panics
/// If `x.len() != n * d`, `out.len() != n * n` or `kernel` is not available.
pub fn pairwise_sq_distances_into<T: Real>(
    x: &[T],
    n: usize,
    d: usize,
    kernel: GramKernel,
    out: &mut [T],
) {
    assert_eq!(x.len(), n * d, "x must hold n * d elements");
    assert_eq!(out.len(), n * n, "out must hold n * n elements");
    T::sq_distances_into(x, n, d, kernel, out);
}

/// Rows `rows` of [`pairwise_sq_distances`]`(x, n, d)`, as a `rows.len() x n` row-major
/// block, without forming the n x n matrix: what one process of a sharded MST
/// ([`ShardedBoruvka`]) needs for the rows it owns.
///
/// Bit-identical to the same rows of the full matrix (same shift from all `n` rows, same
/// packing, micro-kernel, k blocking and final formula; the entry `(i, j)` with `j > i`
/// swaps the roles of the two rows in the Gram lane, which changes no rounding), so the
/// processes agree exactly on every edge weight and the diagonal is exactly zero. Work
/// `O(rows.len() * n * d)`, memory the block plus `O(n * d)` scratch, on all rayon threads.
///
/// Kernels round differently, and `Auto` picks the kernel from the CPU: processes running
/// on different CPUs should all call [`pairwise_sq_distances_rows_with`] with one explicit
/// kernel that every one of them supports (e.g. `Portable` or `Avx2Fma`).
///
/// # Panics
/// If `x.len() != n * d` or `rows` is not inside `0..n`.
pub fn pairwise_sq_distances_rows<T: Real>(
    x: &[T],
    n: usize,
    d: usize,
    rows: std::ops::Range<usize>,
) -> Vec<T> {
    pairwise_sq_distances_rows_with(x, n, d, rows, GramKernel::Auto)
}

/// [`pairwise_sq_distances_rows`] with an explicit micro-kernel: bit-identical to the
/// same rows of [`pairwise_sq_distances_with`] for that kernel.
///
/// # Panics
/// If `x.len() != n * d`, `rows` is not inside `0..n` or `kernel` is not available.
pub fn pairwise_sq_distances_rows_with<T: Real>(
    x: &[T],
    n: usize,
    d: usize,
    rows: std::ops::Range<usize>,
    kernel: GramKernel,
) -> Vec<T> {
    assert_eq!(x.len(), n * d, "x must hold n * d elements");
    assert!(
        rows.start <= rows.end && rows.end <= n,
        "rows {rows:?} out of range for n = {n}"
    );
    let mut out = vec![T::ZERO; rows.len() * n];
    T::sq_distance_rows_into(x, n, d, rows, kernel, &mut out);
    out
}
