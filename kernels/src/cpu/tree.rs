//! The spanning tree with exact lengths, and the gradient of its total length.

use rayon::prelude::*;

use super::{prim_mst, Real};

/// A spanning tree of a point cloud: `edges[e] = (u, v)` with `u < v`, and
/// `lengths[e] = ||x_u - x_v||` recomputed from the coordinates in f64.
#[derive(Clone, Debug, PartialEq)]
pub struct Tree {
    /// Edges `(u, v)`, `u < v`, in the order Prim added them.
    pub edges: Vec<(u32, u32)>,
    /// Euclidean length of each edge, in f64.
    pub lengths: Vec<f64>,
}

impl Tree {
    /// Sum of the edge lengths (f64, summed in edge order: deterministic).
    pub fn total_length(&self) -> f64 {
        self.lengths.iter().sum()
    }
}

/// Edges per parallel work item of [`edge_lengths`].
const EDGES_PER_TASK: usize = 64;

/// Euclidean length `sqrt(sum_k (x_u[k] - x_v[k])^2)` of every edge, with the differences
/// and the sum taken in f64.
///
/// Unlike the Gram-based `d2` (whose absolute error scales with `|x|^2`), this keeps full
/// precision for clouds far from the origin: with coordinates near 1e4 in f32 the
/// difference of two coordinates is exact in f64.
///
/// # Panics
/// If an edge endpoint is out of range of `x` (n = x.len() / d rows).
pub fn edge_lengths<T: Real>(x: &[T], d: usize, edges: &[(u32, u32)]) -> Vec<f64> {
    let mut lengths = vec![0.0f64; edges.len()];
    if d == 0 {
        return lengths;
    }
    lengths
        .par_chunks_mut(EDGES_PER_TASK)
        .zip(edges.par_chunks(EDGES_PER_TASK))
        .for_each(|(lengths, edges)| {
            for (length, &(u, v)) in lengths.iter_mut().zip(edges) {
                *length = row_distance(row(x, d, u), row(x, d, v));
            }
        });
    lengths
}

#[inline]
fn row<T>(x: &[T], d: usize, i: u32) -> &[T] {
    let i = i as usize;
    &x[i * d..(i + 1) * d]
}

/// `||a - b||` accumulated in f64.
#[inline]
fn row_distance<T: Real>(a: &[T], b: &[T]) -> f64 {
    // Four partial sums let the compiler vectorize without reassociation concerns; the
    // order is fixed, so the result is deterministic.
    let mut partial = [0.0f64; 4];
    let mut a_chunks = a.chunks_exact(4);
    let mut b_chunks = b.chunks_exact(4);
    for (ac, bc) in (&mut a_chunks).zip(&mut b_chunks) {
        for l in 0..4 {
            let diff = ac[l].to_f64() - bc[l].to_f64();
            partial[l] += diff * diff;
        }
    }
    for (&ak, &bk) in a_chunks.remainder().iter().zip(b_chunks.remainder()) {
        let diff = ak.to_f64() - bk.to_f64();
        partial[0] += diff * diff;
    }
    ((partial[0] + partial[1]) + (partial[2] + partial[3])).sqrt()
}

/// Euclidean MST of the rows of `x` (n x d): [`pairwise_sq_distances`](super::pairwise_sq_distances), then [`prim_mst`],
/// then [`edge_lengths`]. Holds the n x n distance matrix while it runs.
///
/// # Panics
/// If `x.len() != n * d`.
pub fn minimum_spanning_tree<T: Real>(x: &[T], n: usize, d: usize) -> Tree {
    assert_eq!(x.len(), n * d, "x must hold n * d elements");
    let edges = super::scratch::with_distance_buffer(n * n, |d2: &mut [T]| {
        super::pairwise_sq_distances_into(x, n, d, super::GramKernel::Auto, d2);
        prim_mst(d2, n)
    });
    let lengths = edge_lengths(x, d, &edges);
    Tree { edges, lengths }
}

/// Adds `scale * dL/dx` to `grad` (n x d, like `x`) where `L = sum_e ||x_u - x_v||` is
/// the tree length with the tree held fixed:
///
/// ```text
/// for each edge (u, v) of length l > 0:  f = (x_u - x_v) / l
///     grad_u += scale * f,   grad_v -= scale * f
/// ```
///
/// With `scale = -c / n` this accumulates the gradient of `c * L_E`,
/// `L_E = -(1/n) * L`. Edges of length 0 (duplicate points) add nothing: the length is
/// not differentiable there and 0 is a valid subgradient, so no NaN can appear.
/// Differences and `scale * f` are formed in f64; each update is rounded once into `T`.
///
/// # Panics
/// If `grad.len() != x.len()` or the tree does not match `x`.
pub fn accumulate_tree_gradient<T: Real>(
    x: &[T],
    d: usize,
    tree: &Tree,
    scale: f64,
    grad: &mut [T],
) {
    assert_eq!(grad.len(), x.len(), "grad must have the shape of x");
    assert_eq!(tree.edges.len(), tree.lengths.len(), "one length per edge");
    if d == 0 {
        return;
    }
    for (&(u, v), &length) in tree.edges.iter().zip(&tree.lengths) {
        if length <= 0.0 || !length.is_finite() {
            continue;
        }
        let coeff = scale / length;
        let (u, v) = (u as usize, v as usize);
        for k in 0..d {
            let step = coeff * (x[u * d + k].to_f64() - x[v * d + k].to_f64());
            let gu = &mut grad[u * d + k];
            *gu = T::from_f64(gu.to_f64() + step);
            let gv = &mut grad[v * d + k];
            *gv = T::from_f64(gv.to_f64() - step);
        }
    }
}
