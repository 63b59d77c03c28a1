//! Minimum spanning tree by parallel Borůvka on the complete graph of a dense distance
//! matrix, with every round on the device and no host round-trip.
//!
//! Edges are ordered by the strict total order (d², min(u,v), max(u,v)), as on the CPU:
//! the weight is compared through its f32 bits (non-negative floats order like their bit
//! patterns) and ties go to the lowest index pair, encoded as the key `min·n + max`. Under
//! a strict order the tree is unique, so Borůvka, Prim and Kruskal agree edge for edge.
//!
//! One round:
//! 1. [`boruvka_vertex_min_kernel`]: every vertex finds its lightest edge leaving its
//!    component (one cube per vertex), and lowers its component's weight with a 32-bit
//!    atomic min;
//! 2. [`boruvka_component_key_kernel`]: the vertices holding that weight lower the
//!    component's edge key (second 32-bit atomic min: WGSL has no 64-bit atomics);
//! 3. [`boruvka_hook_kernel`]: every component hooks onto the component across its edge;
//!    two components that chose the same edge hook onto the smaller id, which stays a
//!    root. A component that hooks records its edge in its own slot, so edges land in
//!    fixed places, whatever the scheduling;
//! 4. [`boruvka_jump_kernel`]: every vertex follows the hooks to its new root.
//!
//! Each round at least halves the number of components, so ⌈log₂ n⌉ rounds make one; the
//! host launches exactly that many, without reading anything back.

use super::distance::REDUCE_UNITS;
use cubecl::prelude::*;

/// Marks "no edge" in weights, keys and slots.
pub const NONE: u32 = 0xFFFF_FFFF;

#[cube(launch_unchecked)]
pub fn boruvka_init_kernel(
    comp: &mut [u32],
    comp_w: &mut [u32],
    comp_key: &mut [u32],
    slot_u: &mut [u32],
    slot_v: &mut [u32],
    n: u32,
) {
    let i = ABSOLUTE_POS_X;
    if i < n {
        let i_ = i as usize;
        comp[i_] = i;
        comp_w[i_] = NONE;
        comp_key[i_] = NONE;
        slot_u[i_] = NONE;
        slot_v[i_] = NONE;
    }
}

/// Whether (w1, k1) comes before (w2, k2) in the total order on edges.
#[cube]
fn lighter(w1: u32, k1: u32, w2: u32, k2: u32) -> bool {
    w1 < w2 || (w1 == w2 && k1 < k2)
}

/// One cube per vertex i: the lightest edge (i, j) with j in another component.
#[cube(launch_unchecked)]
pub fn boruvka_vertex_min_kernel(
    dist: &[f32],
    comp: &[u32],
    vertex_w: &mut [u32],
    vertex_key: &mut [u32],
    comp_w: &[Atomic<u32>],
    n: u32,
) {
    let i = CUBE_POS_X;
    let ci = comp[i as usize];
    let row = (i as usize) * (n as usize);
    // Literals, not `NONE`: a `let mut` from a constant path would stay a compile-time value.
    let mut best_w = 0xFFFF_FFFFu32;
    let mut best_k = 0xFFFF_FFFFu32;
    let mut j = UNIT_POS;
    while j < n {
        if comp[j as usize] != ci {
            let w = u32::reinterpret(dist[row + j as usize]);
            let key = min(i, j) * n + max(i, j);
            if lighter(w, key, best_w, best_k) {
                best_w = w;
                best_k = key;
            }
        }
        j += CUBE_DIM;
    }
    // Weights at [0, R), keys at [R, 2R): one shared allocation per kernel (with two,
    // cubecl's C++ backend orders them differently from run to run).
    let mut best = Shared::<[u32]>::new_slice(2 * REDUCE_UNITS as usize);
    best[UNIT_POS as usize] = best_w;
    best[(REDUCE_UNITS + UNIT_POS) as usize] = best_k;
    sync_cube();
    let mut stride = CUBE_DIM / 2;
    while stride > 0 {
        if UNIT_POS < stride {
            let ow = best[(UNIT_POS + stride) as usize];
            let ok = best[(REDUCE_UNITS + UNIT_POS + stride) as usize];
            let mw = best[UNIT_POS as usize];
            let mk = best[(REDUCE_UNITS + UNIT_POS) as usize];
            if lighter(ow, ok, mw, mk) {
                best[UNIT_POS as usize] = ow;
                best[(REDUCE_UNITS + UNIT_POS) as usize] = ok;
            }
        }
        sync_cube();
        stride /= 2;
    }
    if UNIT_POS == 0 {
        let w = best[0];
        vertex_w[i as usize] = w;
        vertex_key[i as usize] = best[REDUCE_UNITS as usize];
        if w != NONE {
            comp_w[ci as usize].fetch_min(w);
        }
    }
}

/// The vertices whose lightest edge has their component's weight lower its key.
#[cube(launch_unchecked)]
pub fn boruvka_component_key_kernel(
    vertex_w: &[u32],
    vertex_key: &[u32],
    comp: &[u32],
    comp_w: &[u32],
    comp_key: &[Atomic<u32>],
    n: u32,
) {
    let i = ABSOLUTE_POS_X;
    if i < n {
        let c = comp[i as usize];
        let w = vertex_w[i as usize];
        if w != NONE && w == comp_w[c as usize] {
            comp_key[c as usize].fetch_min(vertex_key[i as usize]);
        }
    }
}

/// Every root hooks onto the component across its chosen edge and records the edge in its
/// slot; of two components that chose the same edge, the smaller id stays a root.
#[cube(launch_unchecked)]
pub fn boruvka_hook_kernel(
    comp: &[u32],
    comp_w: &[u32],
    comp_key: &[u32],
    parent: &mut [u32],
    slot_u: &mut [u32],
    slot_v: &mut [u32],
    n: u32,
) {
    let r = ABSOLUTE_POS_X;
    if r < n && comp[r as usize] == r {
        let mut p = r;
        if comp_w[r as usize] != NONE {
            let key = comp_key[r as usize];
            let u = key / n;
            let v = key % n;
            let cu = comp[u as usize];
            let mut other = cu;
            if cu == r {
                other = comp[v as usize];
            }
            let mutual = comp_key[other as usize] == key;
            if !(mutual && r < other) {
                p = other;
                slot_u[r as usize] = u;
                slot_v[r as usize] = v;
            }
        }
        parent[r as usize] = p;
    }
}

/// Every vertex follows the hooks to its root; the per-component minima are reset for the
/// next round. The hooks form trees (the order is strict, so the only cycles would be the
/// mutual pairs, which were broken), so the walk ends.
#[cube(launch_unchecked)]
pub fn boruvka_jump_kernel(
    comp: &mut [u32],
    parent: &[u32],
    comp_w: &mut [u32],
    comp_key: &mut [u32],
    n: u32,
) {
    let v = ABSOLUTE_POS_X;
    if v < n {
        let mut r = comp[v as usize];
        let mut p = parent[r as usize];
        while p != r {
            r = p;
            p = parent[r as usize];
        }
        comp[v as usize] = r;
        comp_w[v as usize] = NONE;
        comp_key[v as usize] = NONE;
    }
}

/// Gathers the n − 1 recorded slots (every vertex but the final root) into an edge list
/// `[n − 1, 2]` of `(min, max)` index pairs, at `edge_offset` edges into `edges`.
#[cube(launch_unchecked)]
pub fn tree_edges_kernel(
    comp: &[u32],
    slot_u: &[u32],
    slot_v: &[u32],
    edges: &mut [i32],
    n: u32,
    edge_offset: u32,
) {
    let s = ABSOLUTE_POS_X;
    if s < n {
        let root = comp[0];
        if s != root {
            let mut idx = s;
            if s > root {
                idx = s - 1;
            }
            let at = (2 * (edge_offset + idx)) as usize;
            edges[at] = i32::cast_from(slot_u[s as usize]);
            edges[at + 1] = i32::cast_from(slot_v[s as usize]);
        }
    }
}
