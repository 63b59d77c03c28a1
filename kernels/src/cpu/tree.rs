//! The spanning tree with exact lengths, and the gradient of its total length.

use rayon::prelude::*;

use super::{rows, try_prim_mst, Real};

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

/// `||a - b||` accumulated in f64; for f64 rows so close (or so far apart) that the sum
/// of squares leaves f64's normal range, again with the differences scaled by a power of
/// two (at 1e-170 apart the squares underflow to 0).
#[inline]
fn row_distance<T: Real>(a: &[T], b: &[T]) -> f64 {
    let sq = rows::sq_distance(a, b);
    if (1e-290..=1e290).contains(&sq) {
        return sq.sqrt();
    }
    let largest = a
        .iter()
        .zip(b)
        .fold(0.0f64, |m, (x, y)| m.max((x.to_f64() - y.to_f64()).abs()));
    if largest == 0.0 {
        return 0.0;
    }
    let scale = power_of_two_below_one(largest);
    let scaled: f64 = a
        .iter()
        .zip(b)
        .map(|(x, y)| ((x.to_f64() - y.to_f64()) * scale).powi(2))
        .sum();
    scaled.sqrt() / scale
}

/// Euclidean MST of the rows of `x` (n x d): [`pairwise_sq_distances`](super::pairwise_sq_distances), then [`prim_mst`](super::prim_mst),
/// then [`edge_lengths`]. Holds the n x n distance matrix while it runs.
///
/// # Panics
/// If `x.len() != n * d`, or where [`try_minimum_spanning_tree`] finds no tree.
pub fn minimum_spanning_tree<T: Real>(x: &[T], n: usize, d: usize) -> Tree {
    try_minimum_spanning_tree(x, n, d)
        .expect("minimum_spanning_tree: a row holds NaN or Inf, or the squared distances overflow")
}

/// [`minimum_spanning_tree`], or `None` where the squared distances do not order the edges:
/// a row holds NaN or Inf, or they may overflow `T` ([`distances_fit`]: in f32, rows of
/// norm past about 4.6e18, where the Gram trick's inf − inf would read as any distance).
///
/// # Panics
/// If `x.len() != n * d`.
pub fn try_minimum_spanning_tree<T: Real>(x: &[T], n: usize, d: usize) -> Option<Tree> {
    assert_eq!(x.len(), n * d, "x must hold n * d elements");
    if !distances_fit(x, d) {
        return None;
    }
    let scaled = scaled_up_if_tiny(x);
    let y = scaled.as_deref().unwrap_or(x);
    let edges = super::scratch::with_distance_buffer(n * n, |d2: &mut [T]| {
        super::pairwise_sq_distances_into(y, n, d, super::GramKernel::Auto, d2);
        let edges = try_prim_mst(d2, n)?;
        super::close_pairs::exact_close_pairs(y, n, d, d2, edges)
    })?;
    let lengths = edge_lengths(x, d, &edges);
    Some(Tree { edges, lengths })
}

/// Coordinates below this (in absolute value, all of them) are scaled up before the tree is
/// searched: in f32 their squares would be subnormal or zero (at 1e-22 the Gram matrix
/// read as ties, and Prim broke them by index).
const TINY_COORDINATES: f64 = 1.0 / (1u64 << 32) as f64;

/// `x · 2^k` with the largest |coordinate| in [0.5, 1), where every coordinate of `x` is
/// below `TINY_COORDINATES` = 2⁻³² (and not all zero); otherwise `None`. A power of two: every
/// coordinate, subnormal ones included, scales exactly, so the tree is the one of `x`.
/// Every path that searches a tree does this first (one process, sharded).
pub fn scaled_up_if_tiny<T: Real>(x: &[T]) -> Option<Vec<T>> {
    let largest = x.iter().fold(0.0f64, |m, v| m.max(v.to_f64().abs()));
    if largest == 0.0 || largest >= TINY_COORDINATES {
        return None;
    }
    let scale = power_of_two_below_one(largest);
    Some(x.iter().map(|&v| T::from_f64(v.to_f64() * scale)).collect())
}

/// The power of two that takes `largest` (> 0) into [0.5, 1): multiplying by it is exact.
fn power_of_two_below_one(largest: f64) -> f64 {
    (-(largest.log2().floor()) - 1.0).exp2()
}

/// Whether every squared distance between rows of `x` (d columns), and every intermediate
/// of the shifted Gram trick that computes it, is finite in `T`: every row finite and
/// 16·max‖x_i‖² within `T`'s range (the shift μ is a mean of rows, so ‖x_i − μ‖² ≤
/// 4·max‖x‖², and d² = N_i + N_j − 2G_ij ≤ 4·max‖x_i − μ‖²). One pass over `x`.
pub fn distances_fit<T: Real>(x: &[T], d: usize) -> bool {
    let mut largest = 0.0f64;
    for row in x.chunks_exact(d.max(1)) {
        let sq = rows::sq_norm(row);
        if !sq.is_finite() {
            return false;
        }
        largest = largest.max(sq);
    }
    T::from_f64(16.0 * largest).to_f64().is_finite()
}

/// The edges incident to each vertex of a tree, in edge order, as compressed rows: what a
/// row-parallel gradient pass reads, so that every row's update belongs to one thread and
/// is summed in a fixed order (deterministic on any number of threads).
#[derive(Clone, Debug)]
pub struct TreeAdjacency {
    /// `incident[start[v]..start[v + 1]]` are the edges at vertex v.
    start: Vec<usize>,
    /// (the other end, the edge's index), in edge order per vertex.
    incident: Vec<(u32, u32)>,
}

impl TreeAdjacency {
    /// Adjacency of `edges` over vertices `0..n`.
    ///
    /// # Panics
    /// If an endpoint is `>= n`.
    pub fn new(n: usize, edges: &[(u32, u32)]) -> TreeAdjacency {
        let mut start = vec![0usize; n + 1];
        for &(u, v) in edges {
            assert!(
                (u as usize) < n && (v as usize) < n,
                "edge ({u}, {v}) out of 0..{n}"
            );
            start[u as usize + 1] += 1;
            start[v as usize + 1] += 1;
        }
        for v in 0..n {
            start[v + 1] += start[v];
        }
        let mut fill = start.clone();
        let mut incident = vec![(0u32, 0u32); 2 * edges.len()];
        for (e, &(u, v)) in edges.iter().enumerate() {
            for (a, b) in [(u, v), (v, u)] {
                incident[fill[a as usize]] = (b, e as u32);
                fill[a as usize] += 1;
            }
        }
        TreeAdjacency { start, incident }
    }

    /// `(other end, edge index)` of every edge at `v`, in edge order.
    pub fn incident(&self, v: usize) -> &[(u32, u32)] {
        &self.incident[self.start[v]..self.start[v + 1]]
    }
}

/// Adds to `acc` (row r of a gradient, in f64) `scale * d||x_r - x_s||/dx_r` for every tree
/// edge (r, s): `scale * (x_r - x_s) / l`, with `l = lengths[edge]`. Edges of length 0 or
/// a non-finite length add nothing.
#[inline]
pub fn add_tree_row_gradient<T: Real>(
    x: &[T],
    d: usize,
    r: usize,
    adjacency: &TreeAdjacency,
    lengths: &[f64],
    scale: f64,
    acc: &mut [f64],
) {
    let x_r = &x[r * d..(r + 1) * d];
    for &(s, e) in adjacency.incident(r) {
        let length = lengths[e as usize];
        if length > 0.0 && length.is_finite() {
            rows::add_scaled_difference(acc, scale / length, x_r, row(x, d, s));
        }
    }
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
/// Rows are gathered in parallel ([`TreeAdjacency`]); each row's sum is formed in f64 in
/// edge order and rounded once into `T`.
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
    let adjacency = TreeAdjacency::new(x.len() / d, &tree.edges);
    grad.par_chunks_mut(d).enumerate().for_each_init(
        || vec![0.0f64; d],
        |acc, (r, out)| {
            if adjacency.incident(r).is_empty() {
                return;
            }
            for (slot, &g) in acc.iter_mut().zip(out.iter()) {
                *slot = g.to_f64();
            }
            add_tree_row_gradient(x, d, r, &adjacency, &tree.lengths, scale, acc);
            rows::store_rounded(out, acc);
        },
    );
}
