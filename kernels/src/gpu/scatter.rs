//! The backward: the tree's adjacency (CSR, built without float atomics, which WGSL lacks)
//! and one fused kernel per input that writes that input's whole gradient.
//!
//! The gradient kernel is specialized at compile time (cubecl `comptime`) on a
//! [`GradientPlan`]: which terms of the expression read the input. Term weights (the
//! coefficient times the upstream gradient) stay runtime values read from the device,
//! since autodiff produces them there; so a `loss!` expression compiles one kernel per
//! input shape of its plan, whatever the coefficients.

use super::distance::REDUCE_UNITS;
use cubecl::prelude::*;

/// Number of `u32` fields at the start of the fused kernel's `meta` buffer; the offsets
/// of the `mse` partners follow.
pub const META_FIELDS: usize = 8;
/// `meta[..]` fields: the input's offset in its buffer (and in its gradient's), n, d, where
/// its row norms and edge lengths start in `saved`, where its CSR starts, where its edges
/// start.
pub const META_X_OFFSET: usize = 0;
pub const META_N: usize = 1;
pub const META_D: usize = 2;
pub const META_NORMS: usize = 3;
pub const META_LENGTHS: usize = 4;
pub const META_CSR_START: usize = 5;
pub const META_CSR_ADJ: usize = 6;
pub const META_EDGES: usize = 7;

/// Which terms of an expression read one input, fixed when the kernel is compiled.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct GradientPlan {
    /// `mst_len(x)`: the index of its term gradient, if the expression has the term.
    pub tree_term: Option<u32>,
    /// `sphere(x)`: likewise.
    pub sphere_term: Option<u32>,
    /// `mse(x, y)` or `mse(y, x)`: term gradient index of each; partner offsets follow
    /// [`META_FIELDS`] in `meta`, in the same order.
    pub mse_terms: Vec<u32>,
    /// Per `mse` entry: whether the partner y sits in the same input buffer as x (`x`) or in
    /// the other one (`other`). The operation receives its inputs in two buffers, the
    /// first input and the rest, and reads them where they are.
    pub mse_partner_in_own_buffer: Vec<bool>,
}

// The adjacency kernels build the CSR of several trees on n points at once, tree t in cube
// row `CUBE_POS_Y = t`: its m = n − 1 edges at `edge_offset + t·m` in `edges`, its degrees
// and cursors at t·n, its start offsets at t·(n + 1), its adjacency at t·2m. Offsets in
// `start` and edge indices in `adjacency` are relative to the tree's own block.

/// deg[u] += 1 and deg[v] += 1 for tree t's edge e = (u, v).
#[cube]
fn count_edge(edges: &[i32], degree: &[Atomic<u32>], edge_offset: u32, m: u32, t: u32, e: u32) {
    let at = (2 * (edge_offset + t * m + e)) as usize;
    let own = (t * (m + 1)) as usize; // t·n
    degree[own + edges[at] as usize].fetch_add(1u32);
    degree[own + edges[at + 1] as usize].fetch_add(1u32);
}

/// `deg[u] += 1` and `deg[v] += 1` for every tree edge (u, v).
#[cube(launch_unchecked)]
pub fn tree_degree_kernel(edges: &[i32], degree: &[Atomic<u32>], edge_offset: u32, m: u32) {
    let e = ABSOLUTE_POS_X;
    if e < m {
        count_edge(edges, degree, edge_offset, m, CUBE_POS_Y, e);
    }
}

/// `out[i] = Σ_{j<i} values[j]` for i ≤ n, tree t's, by the whole cube: each unit sums a
/// contiguous chunk, the chunk sums are scanned in shared memory, then each unit writes
/// its chunk. Every unit must call it.
#[cube]
fn exclusive_scan_cube(values: &[Atomic<u32>], out: &mut [u32], n: u32, t: u32) {
    let (from, to) = ((t * n) as usize, (t * (n + 1)) as usize);
    let chunk = (n + CUBE_DIM - 1) / CUBE_DIM;
    let begin = min(UNIT_POS * chunk, n);
    let end = min(begin + chunk, n);
    let mut own = 0u32;
    for i in begin..end {
        own += values[from + i as usize].load();
    }
    let mut sums = Shared::<[u32]>::new_slice(REDUCE_UNITS as usize);
    sums[UNIT_POS as usize] = own;
    sync_cube();
    // Hillis–Steele inclusive scan of the chunk sums.
    let mut offset = 1u32;
    while offset < CUBE_DIM {
        let mut add = 0u32;
        if UNIT_POS >= offset {
            add = sums[(UNIT_POS - offset) as usize];
        }
        sync_cube();
        sums[UNIT_POS as usize] += add;
        sync_cube();
        offset *= 2;
    }
    let mut running = sums[UNIT_POS as usize] - own;
    for i in begin..end {
        out[to + i as usize] = running;
        running += values[from + i as usize].load();
    }
    if UNIT_POS == CUBE_DIM - 1 {
        out[to + n as usize] = sums[UNIT_POS as usize];
    }
}

/// `out[i] = Σ_{j<i} values[j]` for i ≤ n, by one cube per tree.
#[cube(launch_unchecked)]
pub fn exclusive_scan_kernel(values: &[Atomic<u32>], out: &mut [u32], n: u32) {
    exclusive_scan_cube(values, out, n, CUBE_POS_Y);
}

/// Places tree t's edge e in both endpoints' adjacency lists (in arrival order; see
/// [`order_adjacency_kernel()`]).
#[cube]
fn place_edge(
    edges: &[i32],
    start: &mut [u32],
    cursor: &[Atomic<u32>],
    adjacency: &mut [u32],
    edge_offset: u32,
    m: u32,
    t: u32,
    e: u32,
) {
    let at = (2 * (edge_offset + t * m + e)) as usize;
    // t·n, t·(n + 1), t·2m
    let (own, starts, lists) = (
        (t * (m + 1)) as usize,
        (t * (m + 2)) as usize,
        (t * 2 * m) as usize,
    );
    let u = edges[at] as usize;
    let v = edges[at + 1] as usize;
    let pu = cursor[own + u].fetch_add(1u32);
    adjacency[lists + (start[starts + u] + pu) as usize] = e;
    let pv = cursor[own + v].fetch_add(1u32);
    adjacency[lists + (start[starts + v] + pv) as usize] = e;
}

/// Places every edge index in both endpoints' adjacency lists (in arrival order; see
/// [`order_adjacency_kernel()`]).
#[cube(launch_unchecked)]
pub fn tree_fill_kernel(
    edges: &[i32],
    start: &mut [u32],
    cursor: &[Atomic<u32>],
    adjacency: &mut [u32],
    edge_offset: u32,
    m: u32,
) {
    let e = ABSOLUTE_POS_X;
    if e < m {
        place_edge(
            edges,
            start,
            cursor,
            adjacency,
            edge_offset,
            m,
            CUBE_POS_Y,
            e,
        );
    }
}

/// Entry p of tree t's filled adjacency (`filled`, in arrival order) moved to its place in
/// `sorted`, where each vertex's list ascends by edge index: its place is its list's start
/// plus the number of smaller entries in that list. Every entry is placed by its own unit,
/// so a long list (the star of a collapsed batch, where all points coincide and the tree
/// hangs from vertex 0) costs its length per unit, in parallel, instead of the square of
/// its length in one unit for an insertion sort.
#[cube]
fn place_in_order(
    start: &mut [u32],
    filled: &mut [u32],
    sorted: &mut [u32],
    n: u32,
    t: u32,
    p: u32,
) {
    let lists = t * 2 * (n - 1);
    let starts = t * (n + 1);
    // The vertex whose list holds p: the last v with start[v] ≤ p (every vertex of a tree
    // has an edge, so the starts increase strictly).
    let mut lo = 0u32;
    let mut hi = n;
    while hi - lo > 1 {
        let mid = (lo + hi) / 2;
        if start[(starts + mid) as usize] <= p {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    let begin = start[(starts + lo) as usize];
    let end = start[(starts + lo + 1) as usize];
    let item = filled[(lists + p) as usize];
    let mut rank = 0u32;
    for q in begin..end {
        if filled[(lists + q) as usize] < item {
            rank += 1;
        }
    }
    sorted[(lists + begin + rank) as usize] = item;
}

/// Each vertex's adjacency list in ascending edge index, so that the gradient sums its
/// edges in the same order every run (the atomic fill order is not reproducible): one unit
/// per entry (see `place_in_order`).
#[cube(launch_unchecked)]
pub fn order_adjacency_kernel(start: &mut [u32], filled: &mut [u32], sorted: &mut [u32], n: u32) {
    let p = ABSOLUTE_POS_X;
    if p < 2 * (n - 1) {
        place_in_order(start, filled, sorted, n, CUBE_POS_Y, p);
    }
}

/// The four steps above for small n in one launch, one cube per tree (`CUBE_POS_Y`), on
/// the same buffers, with a storage barrier where a launch ended: the same CSR (the lists
/// are ordered, so the fill order does not show).
#[cube(launch_unchecked)]
pub fn tree_adjacency_one_cube_kernel(
    edges: &[i32],
    degree: &[Atomic<u32>],
    start: &mut [u32],
    cursor: &[Atomic<u32>],
    filled: &mut [u32],
    sorted: &mut [u32],
    edge_offset: u32,
    n: u32,
) {
    let t = CUBE_POS_Y;
    let m = n - 1;
    let mut e = UNIT_POS;
    while e < m {
        count_edge(edges, degree, edge_offset, m, t, e);
        e += CUBE_DIM;
    }
    sync_storage();
    exclusive_scan_cube(degree, start, n, t);
    sync_storage();
    let mut e = UNIT_POS;
    while e < m {
        place_edge(edges, start, cursor, filled, edge_offset, m, t, e);
        e += CUBE_DIM;
    }
    sync_storage();
    let mut p = UNIT_POS;
    while p < 2 * m {
        place_in_order(start, filled, sorted, n, t, p);
        p += CUBE_DIM;
    }
}

/// Writes the whole gradient of one input, one unit per element (r, k):
///
/// * `mst_len`: −(w/n) Σ_{edges (r,o)} (x_rk − x_ok)/‖x_r − x_o‖ (zero-length edges: 0);
/// * `sphere`: w (2/n)(‖x_r‖ − 1) x_rk/‖x_r‖ (0 at x_r = 0);
/// * each `mse` with partner y: w (2/(n·d)) (x_rk − y_rk), y read from `x` or `other`.
///
/// `x` and `grad` are the buffers that hold the input and its gradient; `other` is the
/// other input buffer (the operation's inputs come in two).
#[cube(launch_unchecked)]
pub fn fused_gradient_kernel(
    x: &[f32],
    other: &[f32],
    grad: &mut [f32],
    term_grads: &[f32],
    saved: &[f32],
    edges: &[i32],
    csr_start: &[u32],
    csr_adjacency: &[u32],
    meta: &[u32],
    #[comptime] plan: GradientPlan,
) {
    let x_offset = meta[META_X_OFFSET];
    let n = meta[META_N];
    let d = meta[META_D];
    let pos = ABSOLUTE_POS;
    if pos < (n as usize) * (d as usize) {
        let r = (pos / d as usize) as u32;
        let k = (pos % d as usize) as u32;
        let xv = x[x_offset as usize + pos];
        let inv_n = 1.0f32 / f32::cast_from(n);
        let mut g = 0.0f32;
        if comptime!(plan.sphere_term.is_some()) {
            let term = comptime!(plan.sphere_term.unwrap_or(0));
            let norm = saved[(meta[META_NORMS] + r) as usize];
            if norm > 0.0 {
                g += term_grads[term as usize] * 2.0 * (norm - 1.0) / norm * inv_n * xv;
            }
        }
        if comptime!(plan.tree_term.is_some()) {
            let term = comptime!(plan.tree_term.unwrap_or(0));
            let csr_start_at = meta[META_CSR_START] + r;
            let begin = csr_start[csr_start_at as usize];
            let end = csr_start[(csr_start_at + 1) as usize];
            let mut force = 0.0f32;
            for s in begin..end {
                let e = csr_adjacency[(meta[META_CSR_ADJ] + s) as usize];
                let at = (2 * (meta[META_EDGES] + e)) as usize;
                let a = u32::cast_from(edges[at]);
                let b = u32::cast_from(edges[at + 1]);
                let mut other = a;
                if a == r {
                    other = b;
                }
                let length = saved[(meta[META_LENGTHS] + e) as usize];
                if length > 0.0 {
                    force += (xv - x[(x_offset + other * d + k) as usize]) / length;
                }
            }
            g -= term_grads[term as usize] * inv_n * force;
        }
        let mse_scale = 2.0f32 / (f32::cast_from(n) * f32::cast_from(d));
        #[unroll]
        for p in 0..plan.mse_terms.len() {
            let term = comptime!(plan.mse_terms[p]);
            let partner = meta[META_FIELDS + p] as usize + pos;
            if comptime!(plan.mse_partner_in_own_buffer[p]) {
                g += term_grads[term as usize] * mse_scale * (xv - x[partner]);
            } else {
                g += term_grads[term as usize] * mse_scale * (xv - other[partner]);
            }
        }
        grad[x_offset as usize + pos] = g;
    }
}
