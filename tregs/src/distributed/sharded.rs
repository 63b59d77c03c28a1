//! `mst_len(z, scope = sharded)`: the tree of the global batch by distributed Borůvka.
//!
//! Each of the P processes holds the gathered batch (n × d, O(n d) memory) but computes
//! only the squared distances of its own rows against it (`rows × n`: the n × n matrix is
//! never built, its work and memory are divided by P). A Borůvka round: every process
//! proposes, per component, the lightest outgoing edge it sees from its rows; the
//! proposals are all-gathered and reduced to the minimum in the total order
//! (d², min index, max index) — the order Prim's uses on one process; every process merges
//! the same edges the same way. The distance block is bit-identical to those rows of the
//! single-process matrix ([`tregs_kernels::pairwise_sq_distances_rows`]), so the tree is
//! the single-process tree, edge for edge. At most ⌈log₂ n⌉ rounds, each moving
//! 16 bytes × components × P. Where the tree has close edges (points much nearer each
//! other than the Gram trick resolves: clusters on the sphere), every process recomputes
//! those pairs in its rows as one process would ([`tregs_kernels::patch_close_pairs`]) and
//! the rounds run again.

use super::Communicator;
use burn::tensor::{DType, Int, Tensor, TensorData};
use std::ops::Range;
use tregs_kernels::{
    close_pair_components, close_threshold, edge_lengths, pairwise_sq_distances_rows,
    patch_close_pairs, scaled_up_if_tiny, Real, ShardedBoruvka,
};

/// The minimum spanning tree of the n × d rows `x` (the same on every process), computed
/// from this process's `rows` only: `(u, v)` edges with u < v, sorted. The steps of the
/// one-process tree ([`tregs_kernels::try_minimum_spanning_tree`]), each on this process's
/// rows: tiny coordinates scaled up, Borůvka on the Gram-trick rows, then, where the tree
/// has close edges, those pairs recomputed ([`tregs_kernels::patch_close_pairs`]: the same
/// bits whichever rows a process holds) and Borůvka again; so the tree is the one-process
/// tree, edge for edge.
///
/// # Panics
/// If a squared distance is NaN (a NaN row, or values that overflow `T`): [`mst_len`]
/// checks the batch first and returns a NaN value instead, which `evaluate` reports.
pub fn tree<T: Real>(
    x: &[T],
    n: usize,
    d: usize,
    rows: Range<usize>,
    comm: &dyn Communicator,
) -> Vec<(u32, u32)> {
    let scaled = scaled_up_if_tiny(x);
    let x = scaled.as_deref().unwrap_or(x);
    let mut block = pairwise_sq_distances_rows(x, n, d, rows.clone());
    let edges = boruvka(&block, n, rows.clone(), comm);
    // Each tree edge's Gram-trick d² lives on the process holding its first end's row;
    // the others add an exact zero, so every process sees the same bits and picks the
    // same close edges.
    let mut sq_lengths: Vec<f64> = edges
        .iter()
        .map(|&(u, v)| {
            if rows.contains(&(u as usize)) {
                block[(u as usize - rows.start) * n + v as usize].to_f64()
            } else {
                0.0
            }
        })
        .collect();
    comm.all_reduce_sum_f64(&mut sq_lengths);
    let theta = close_threshold(x, n, d);
    let close: Vec<(u32, u32)> = edges
        .iter()
        .zip(&sq_lengths)
        .filter(|&(_, &sq)| sq < theta)
        .map(|(&edge, _)| edge)
        .collect();
    if close.is_empty() {
        return edges;
    }
    let components = close_pair_components(n, &close);
    patch_close_pairs(x, n, d, &mut block, rows.clone(), &components);
    boruvka(&block, n, rows, comm)
}

/// Borůvka rounds on the rows × n `block` of the squared-distance matrix, every process
/// its own rows: the tree's edges, sorted.
fn boruvka<T: Real>(
    block: &[T],
    n: usize,
    rows: Range<usize>,
    comm: &dyn Communicator,
) -> Vec<(u32, u32)> {
    let mut state = ShardedBoruvka::new(n);
    while !state.is_done() {
        let (weights, pairs) = state.propose(block, rows.clone());
        let k = weights.len();
        let all_weights = comm.all_gather_f64(&weights);
        let all_pairs = comm.all_gather_u64(&pairs);
        let (mut best_w, mut best_p) = (all_weights[..k].to_vec(), all_pairs[..k].to_vec());
        for r in 1..comm.size() {
            let span = r * k..(r + 1) * k;
            ShardedBoruvka::combine(
                &mut best_w,
                &mut best_p,
                &all_weights[span.clone()],
                &all_pairs[span],
            );
        }
        state.merge(&best_w, &best_p);
    }
    state.edges()
}

/// L_E of the gathered batch `all` (n × d; this process's `rows` carry the gradient, see
/// [`super::gather_rows`]) on the sharded tree, as a 1-element tensor.
///
/// With the tree held fixed, `‖z_u − z_v‖ = (z_u − z_v) · e_uv` for the unit vector
/// `e_uv` of the edge, so the value is `−(1/n) Σ (z_u − z_v) · e_uv` with `e_uv` a constant:
/// its gradient is exactly L_E's, zero-length edges (duplicates) give a zero force, and the
/// whole computation is O(n d) tensor work. The value itself is the f64 sum of the edge
/// lengths, as on one process.
pub fn mst_len(all: &Tensor<2>, rows: Range<usize>, comm: &dyn Communicator) -> Tensor<1> {
    let [n, d] = all.dims();
    let data = all.to_data();
    let device = all.device();
    let tree = if data.dtype() == DType::F64 {
        let x: Vec<f64> = data.convert::<f64>().try_to_vec().expect("float data");
        edges_and_directions(&x, n, d, rows, comm)
    } else {
        let x: Vec<f32> = data.convert::<f32>().try_to_vec().expect("float data");
        edges_and_directions(&x, n, d, rows, comm)
    };
    let Some(SparseTree {
        edges,
        lengths,
        directions,
    }) = tree
    else {
        // No tree exists: the value is NaN, which `evaluate` reports (the row at fault, or
        // the overflow). Every process holds the same batch, so every one decides the same,
        // before any exchange.
        return Tensor::<1>::from_data(
            TensorData::new(vec![f64::NAN], [1]),
            (&device, all.dtype()),
        );
    };
    let m = edges.len();
    let ends = |pick: fn(&(u32, u32)) -> u32| {
        let idx: Vec<i64> = edges.iter().map(|e| pick(e) as i64).collect();
        Tensor::<1, Int>::from_data(TensorData::new(idx, [m]), &device)
    };
    let diff = all.clone().select(0, ends(|e| e.0)) - all.clone().select(0, ends(|e| e.1));
    let directions =
        Tensor::<2>::from_data(TensorData::new(directions, [m, d]), (&device, all.dtype()));
    // The tensor expression carries the gradient; its f32 sum of n·d products would be
    // off by ~1e-6 relative, so the value is the f64 sum of the lengths (`x − x.detach()`
    // adds an exact zero and keeps the gradient).
    let surrogate = (diff * directions).sum() * (-1.0 / n as f64);
    let value = -lengths.iter().sum::<f64>() / n as f64;
    (surrogate.clone() - surrogate.detach()).add_scalar(value)
}

/// A tree's edges `(u, v)`, their lengths (f64, from the coordinates) and their unit
/// directions, row-major m × d.
struct SparseTree {
    edges: Vec<(u32, u32)>,
    lengths: Vec<f64>,
    directions: Vec<f64>,
}

/// The sharded tree's edges and each edge's unit direction `(x_u − x_v)/‖x_u − x_v‖`
/// (zero for a zero-length edge), row-major m × d, in f64; `None` where the squared
/// distances order no tree ([`tregs_kernels::distances_fit`]: a NaN or Inf row, or
/// overflow), decided from `x` alone, before any exchange.
fn edges_and_directions<T: Real>(
    x: &[T],
    n: usize,
    d: usize,
    rows: Range<usize>,
    comm: &dyn Communicator,
) -> Option<SparseTree> {
    if !tregs_kernels::distances_fit(x, d) {
        return None;
    }
    let edges = tree(x, n, d, rows, comm);
    let lengths = edge_lengths(x, d, &edges);
    let mut directions = vec![0.0f64; edges.len() * d];
    for ((&(u, v), &l), out) in edges
        .iter()
        .zip(&lengths)
        .zip(directions.chunks_exact_mut(d))
    {
        if l > 0.0 {
            let (a, b) = (u as usize * d, v as usize * d);
            for (k, o) in out.iter_mut().enumerate() {
                *o = (x[a + k].to_f64() - x[b + k].to_f64()) / l;
            }
        }
    }
    Some(SparseTree {
        edges,
        lengths,
        directions,
    })
}
