//! Minimum spanning tree by parallel Borůvka on the complete graph of a dense distance
//! matrix, with every round on the device and no host round-trip.
//!
//! Edges are ordered by the strict total order (d², min(u,v), max(u,v)), as on the CPU:
//! the weight is compared through its f32 bits (non-negative floats order like their bit
//! patterns) and ties go to the lowest index pair, encoded as the key `min·n + max`. Under
//! a strict order the tree is unique, so Borůvka, Prim and Kruskal agree edge for edge.
//!
//! One round, two launches:
//! 1. [`boruvka_vertex_min_kernel()`]: every vertex finds its lightest edge leaving its
//!    component (one cube per vertex), and lowers its component's edge to it. A vertex whose
//!    lightest edge of the previous round still leaves its component keeps it without
//!    reading its row: the edges leaving a component only ever get fewer, so the lightest
//!    one that is left stays the lightest. The component's edge is one 32-bit word, the
//!    edge's key, lowered by compare-and-swap: the weight of the key it holds is read back
//!    from the matrix (`dist[key]` is the edge's weight, the matrix being read-only here),
//!    so the whole (weight, key) order is compared with no 64-bit atomic (WGSL has none)
//!    and no second pass over the vertices;
//! 2. [`boruvka_hook_jump_kernel()`]: every vertex follows the hooks from its component to
//!    the new root, computing each hook from the edges as it goes (a component hooks onto
//!    the component across its edge; of two components that chose the same edge, the
//!    smaller id stays a root). The root of a component that hooks records the edge in its
//!    own slot, so edges land in fixed places, whatever the scheduling. The walks shorten
//!    the hook forest as they go (path halving in `parents`): a walk of one hook per step
//!    would cost the last vertex of a chain of hooks n − 1 dependent reads.
//!
//! The first round needs no initialisation launch before it: in round 0 every component is
//! one vertex, so [`boruvka_first_round_kernel()`] scans every other vertex's entry without
//! reading component ids, and each vertex's cube writes its own starting state (its id, its
//! component's edge, its empty slots) and, in vertex 0's cube, the tree's counters, whose
//! round-0 values are known (no hooks yet, n rows read, one round). The state is exactly what
//! initialisation followed by a generic round leaves, so [`boruvka_vertex_min_kernel()`] and
//! [`boruvka_hook_jump_kernel()`] follow it unchanged.
//!
//! Component ids and edges are double-buffered by round parity (`cur` = 0 or 1): round r
//! reads half `cur` while it writes the other, so the hook walk of step 2 never sees a
//! half-updated round. Each round at least halves the number of components, so ⌈log₂ n⌉
//! rounds make one; the host launches exactly that many without reading anything back, and
//! the rounds after the tree is complete (a device counter of hooks reaches n − 1) read no
//! rows.
//!
//! For small n ([`super::ONE_CUBE_MAX_ROWS`]) [`boruvka_one_cube_kernel()`] runs all of it in
//! one launch, one cube per tree, through the same per-vertex functions, a storage barrier
//! standing where a launch ends.
//!
//! Several trees on the same number of points (the two views of an SSL loss) are built in
//! the same launches: tree t is cube row `CUBE_POS_Y = t`, and every buffer holds one block
//! per tree. Per tree: `dist` (n², at t·n²), `comp` (2n: ids of rounds of parity 0 and 1),
//! `comp_edge` (2n: the key of each component's lightest outgoing edge, rounds of parity 0
//! and 1), `parents` (2n: an ancestor of each root in the round's hook forest, once a walk has
//! found one, rounds of parity 0 and 1), `vertex_best` (2n: each vertex's lightest outgoing
//! edge, weight then key), `slots` (2n: edge ends u, then v, per hooked root), `counters`
//! ([`COUNTERS_PER_TREE`]: hooks so far, then, for tests and benchmarks, rows read, rounds
//! that read any and the longest walk).

use super::distance::REDUCE_UNITS;
use cubecl::prelude::*;

/// Marks "no edge" in weights, keys and slots, and "not known yet" in `parents`.
pub const NONE: u32 = 0xFFFF_FFFF;

/// Device counters per tree: hooks made, matrix rows read, rounds that read rows, and the
/// longest hook walk of any vertex in any round (steps, each a jump to a grandparent).
pub const COUNTERS_PER_TREE: u32 = 4;

/// Vertex i of tree t before the first round: its own component, no edge chosen yet.
#[cube]
fn init_vertex(
    comp: &mut [u32],
    comp_edge: &[Atomic<u32>],
    parents: &[Atomic<u32>],
    vertex_best: &mut [u32],
    slots: &mut [u32],
    counters: &[Atomic<u32>],
    n: u32,
    t: u32,
    i: u32,
) {
    let pairs = (t * 2 * n + i) as usize;
    let n_ = n as usize;
    comp[pairs] = i;
    comp_edge[pairs].store(NONE);
    comp_edge[pairs + n_].store(NONE);
    parents[pairs].store(NONE);
    parents[pairs + n_].store(NONE);
    vertex_best[pairs] = NONE;
    vertex_best[pairs + n_] = NONE;
    slots[pairs] = NONE;
    slots[pairs + n_] = NONE;
    if i == 0 {
        let c = (COUNTERS_PER_TREE * t) as usize;
        counters[c].store(0);
        counters[c + 1].store(0);
        counters[c + 2].store(0);
        counters[c + 3].store(0);
    }
}

/// Whether (w1, k1) comes before (w2, k2) in the total order on edges.
#[cube]
fn lighter(w1: u32, k1: u32, w2: u32, k2: u32) -> bool {
    w1 < w2 || (w1 == w2 && k1 < k2)
}

/// Whether vertex i of tree t, in component `ci`, skips its row this round: the tree is
/// complete (the hook counter reached n − 1), or the edge it kept from the round before
/// still leaves its component.
#[cube]
fn skips_its_row(
    comp: &mut [u32],
    vertex_best: &mut [u32],
    counters: &[Atomic<u32>],
    n: u32,
    t: u32,
    cur: u32,
    i: u32,
    ci: u32,
) -> (bool, bool) {
    let base = t * 2 * n + cur * n;
    let done = counters[(COUNTERS_PER_TREE * t) as usize].load() + 1 == n;
    let cached_k = vertex_best[(t * 2 * n + n + i) as usize];
    let mut keep = false;
    if cached_k != NONE {
        let a = cached_k / n;
        let mut other = a;
        if a == i {
            other = cached_k % n;
        }
        keep = comp[(base + other) as usize] != ci;
    }
    (done, keep)
}

/// The lightest edge (i, j) over j = first, first + step, … < n with j in another
/// component than i's (`ci`): (weight bits, key), or (NONE, NONE). In round 0
/// (`first_round`) every component is one vertex and the ids are not written yet: j ≠ i
/// is the test, and `comp` is not read.
#[cube]
fn scan_row(
    dist: &[f32],
    comp: &mut [u32],
    n: u32,
    t: u32,
    cur: u32,
    i: u32,
    ci: u32,
    first: u32,
    step: u32,
    #[comptime] first_round: bool,
) -> (u32, u32) {
    let base = t * 2 * n + cur * n;
    let row = (t as usize) * (n as usize) * (n as usize) + (i as usize) * (n as usize);
    // Literals, not `NONE`: a `let mut` from a constant path would stay a compile-time value.
    let mut best_w = 0xFFFF_FFFFu32;
    let mut best_k = 0xFFFF_FFFFu32;
    let mut j = first;
    while j < n {
        let other_component = if first_round {
            j != i
        } else {
            comp[(base + j) as usize] != ci
        };
        if other_component {
            let w = u32::reinterpret(dist[row + j as usize]);
            let key = min(i, j) * n + max(i, j);
            if lighter(w, key, best_w, best_k) {
                best_w = w;
                best_k = key;
            }
        }
        j += step;
    }
    (best_w, best_k)
}

/// Vertex i's lightest outgoing edge this round: the one it kept from the round before
/// (already in `vertex_best`) when `keep`, else `scanned` (weight bits, key) from its row,
/// recorded and counted; either way it lowers the edge of i's component `ci` to it.
#[cube]
fn record_vertex_best(
    dist: &[f32],
    vertex_best: &mut [u32],
    comp_edge: &[Atomic<u32>],
    counters: &[Atomic<u32>],
    n: u32,
    t: u32,
    cur: u32,
    i: u32,
    ci: u32,
    scanned: (u32, u32),
    keep: bool,
) {
    let c = COUNTERS_PER_TREE * t;
    let own = t * 2 * n;
    if !keep {
        counters[(c + 1) as usize].fetch_add(1);
        let (w, k) = scanned;
        vertex_best[(own + i) as usize] = w;
        vertex_best[(own + n + i) as usize] = k;
    }
    if i == 0 {
        counters[(c + 2) as usize].fetch_add(1);
    }
    let w = vertex_best[(own + i) as usize];
    if w != NONE {
        let k = vertex_best[(own + n + i) as usize];
        lower_component_edge(dist, comp_edge, n, t, own + cur * n + ci, w, k);
    }
}

/// Lowers the edge key in `comp_edge[slot]` (tree t) to `k`, of weight bits `w`, if (w, k)
/// comes first in the order on edges. The weight of the key held is read from the matrix
/// (key `min·n + max` is the index of its entry in row min), so one 32-bit word carries the
/// whole order. The compare-and-swap is WGSL's weak one, which may fail without saying so
/// (cubecl returns only the old value): the loop reads the word again after every attempt
/// and stops only once the word holds `k` or an edge that comes first.
#[cube]
fn lower_component_edge(
    dist: &[f32],
    comp_edge: &[Atomic<u32>],
    n: u32,
    t: u32,
    slot: u32,
    w: u32,
    k: u32,
) {
    let matrix = (t as usize) * (n as usize) * (n as usize);
    let slot = slot as usize;
    let mut held = comp_edge[slot].load();
    let mut lowering = true;
    while lowering {
        lowering = held == NONE;
        if !lowering {
            let held_w = u32::reinterpret(dist[matrix + held as usize]);
            lowering = lighter(w, k, held_w, held);
        }
        if lowering {
            comp_edge[slot].compare_exchange_weak(held, k);
            held = comp_edge[slot].load();
        }
    }
}

/// The lightest of the cube's units' (weight bits, key) pairs, valid in unit 0. `skip`
/// (the same in every unit) ends the reduction after its first barrier, for a cube with
/// nothing to compare; every unit still reaches that barrier.
#[cube]
fn lightest_in_cube(best_w: u32, best_k: u32, skip: bool) -> (u32, u32) {
    // Weights at [0, R), keys at [R, 2R): one shared allocation per kernel (with two,
    // cubecl's C++ backend orders them differently from run to run).
    let mut best = Shared::<[u32]>::new_slice(2 * REDUCE_UNITS as usize);
    best[UNIT_POS as usize] = best_w;
    best[(REDUCE_UNITS + UNIT_POS) as usize] = best_k;
    sync_cube();
    let mut stride = CUBE_DIM / 2;
    if skip {
        stride = 0;
    }
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
    (best[0], best[REDUCE_UNITS as usize])
}

/// Round 0, with the initialisation folded in (see the module's doc), one cube per vertex
/// i: its lightest edge (i, j) over every j ≠ i, since every component is one vertex; then
/// unit 0 initialises i (`init_vertex`) and writes what [`boruvka_vertex_min_kernel()`]
/// would in round 0: i's lightest edge, which is its component's (no other vertex shares
/// the component, so a store replaces the compare-and-swap), and in vertex 0's cube the
/// tree's counters with their round-0 values.
#[cube(launch_unchecked)]
pub fn boruvka_first_round_kernel(
    dist: &[f32],
    comp: &mut [u32],
    comp_edge: &[Atomic<u32>],
    parents: &[Atomic<u32>],
    vertex_best: &mut [u32],
    slots: &mut [u32],
    counters: &[Atomic<u32>],
    n: u32,
) {
    let i = CUBE_POS_X;
    let t = CUBE_POS_Y;
    let (best_w, best_k) = scan_row(dist, comp, n, t, 0, i, i, UNIT_POS, CUBE_DIM, true);
    let (w, k) = lightest_in_cube(best_w, best_k, false);
    if UNIT_POS == 0 {
        init_vertex(
            comp,
            comp_edge,
            parents,
            vertex_best,
            slots,
            counters,
            n,
            t,
            i,
        );
        // Round 0's choice. The counters are set, not added to: another cube may count
        // before this one has initialised them.
        let own = (t * 2 * n + i) as usize;
        comp_edge[own].store(k);
        vertex_best[own] = w;
        vertex_best[own + n as usize] = k;
        if i == 0 {
            let c = (COUNTERS_PER_TREE * t) as usize;
            counters[c + 1].store(n);
            counters[c + 2].store(1);
        }
    }
}

/// One cube per vertex i: the lightest edge (i, j) with j in another component.
#[cube(launch_unchecked)]
pub fn boruvka_vertex_min_kernel(
    dist: &[f32],
    comp: &mut [u32],
    vertex_best: &mut [u32],
    comp_edge: &[Atomic<u32>],
    counters: &[Atomic<u32>],
    n: u32,
    cur: u32,
) {
    let i = CUBE_POS_X;
    let t = CUBE_POS_Y;
    let ci = comp[(t * 2 * n + cur * n + i) as usize];
    let (done, keep) = skips_its_row(comp, vertex_best, counters, n, t, cur, i, ci);
    // The scan is skipped by its bounds, not by a branch around it: the barriers below stay
    // in uniform control flow.
    let mut first = UNIT_POS;
    if done || keep {
        first = n;
    }
    let (best_w, best_k) = scan_row(dist, comp, n, t, cur, i, ci, first, CUBE_DIM, false);
    let scanned = lightest_in_cube(best_w, best_k, done || keep);
    if UNIT_POS == 0 && !done {
        record_vertex_best(
            dist,
            vertex_best,
            comp_edge,
            counters,
            n,
            t,
            cur,
            i,
            ci,
            scanned,
            keep,
        );
    }
}

/// The component that root r hooks onto this round (r itself if it stays a root), and the
/// key of r's chosen edge: a root hooks onto the component across its edge, except that of
/// two components that chose the same edge the smaller id stays a root. `base` is the
/// tree's half of this round's ids and edges.
#[cube]
fn hook_of(comp: &mut [u32], comp_edge: &[Atomic<u32>], n: u32, base: u32, r: u32) -> (u32, u32) {
    let key = comp_edge[(base + r) as usize].load();
    let mut p = r;
    if key != NONE {
        let ca = comp[(base + key / n) as usize];
        let mut other = ca;
        if ca == r {
            other = comp[(base + key % n) as usize];
        }
        let mutual = comp_edge[(base + other) as usize].load() == key;
        if !(mutual && r < other) {
            p = other;
        }
    }
    (p, key)
}

/// An ancestor of root r in this round's hook forest, r itself only if r stays a root:
/// `parents[base + r]` if a walk has written one, else r's hook, computed and written.
#[cube]
fn parent_of(
    comp: &mut [u32],
    comp_edge: &[Atomic<u32>],
    parents: &[Atomic<u32>],
    n: u32,
    base: u32,
    r: u32,
) -> u32 {
    let known = parents[(base + r) as usize].load();
    let mut p = known;
    if known == NONE {
        let (hook, _key) = hook_of(comp, comp_edge, n, base, r);
        // Only where nothing is known yet: a walk may have shortened it already.
        parents[(base + r) as usize].compare_exchange_weak(NONE, hook);
        p = hook;
    }
    p
}

/// Vertex v walks from its component along the hooks to its new root (see
/// [`boruvka_hook_jump_kernel()`]), and empties its entries of the next round's edges and
/// parents (the other parity, which nothing reads in this round).
#[cube]
fn hook_jump_vertex(
    comp: &mut [u32],
    comp_edge: &[Atomic<u32>],
    parents: &[Atomic<u32>],
    slots: &mut [u32],
    counters: &[Atomic<u32>],
    n: u32,
    t: u32,
    cur: u32,
    v: u32,
) {
    let base = t * 2 * n + cur * n;
    let next = t * 2 * n + (1 - cur) * n;
    let own = t * 2 * n;
    comp_edge[(next + v) as usize].store(NONE);
    parents[(next + v) as usize].store(NONE);
    let mut r = comp[(base + v) as usize];
    if r == v {
        // A root records its own hook: each hook once, in its root's slot, whatever the
        // scheduling.
        let (hook, key) = hook_of(comp, comp_edge, n, base, v);
        if hook != v {
            slots[(own + v) as usize] = key / n;
            slots[(own + n + v) as usize] = key % n;
            counters[(COUNTERS_PER_TREE * t) as usize].fetch_add(1);
        }
        parents[(base + v) as usize].compare_exchange_weak(NONE, hook);
    }
    // Path halving: each step jumps to the grandparent and points the root left behind at
    // it, so that walks passing there later skip a level. Whatever the interleaving, every
    // value in `parents` is an ancestor, so every walk ends at its root.
    let mut steps = 0u32;
    let mut walking = true;
    while walking {
        let p = parent_of(comp, comp_edge, parents, n, base, r);
        if p == r {
            walking = false;
        } else {
            let g = parent_of(comp, comp_edge, parents, n, base, p);
            if g != p {
                parents[(base + r) as usize].store(g);
            }
            r = g;
            steps += 1;
        }
    }
    comp[(next + v) as usize] = r;
    counters[(COUNTERS_PER_TREE * t + 3) as usize].fetch_max(steps);
}

/// Every vertex walks from its component along the hooks to its new root, each hook
/// computed from the components' edges when a walk first reaches it (`hook_of`). The
/// hooks form trees (the order is strict, so the only cycles would be the mutual pairs,
/// which were broken), so the walk ends. The root vertex of a component that hooks records
/// the edge in its slot and counts the hook. The walks shorten the forest as they go (path
/// halving in `parents`, as in ECL-MST's union-find on GPUs): on a chain of n hooks, where
/// one hook per step costs the last vertex n − 1 dependent reads, walks running together
/// halve each other's paths.
#[cube(launch_unchecked)]
pub fn boruvka_hook_jump_kernel(
    comp: &mut [u32],
    comp_edge: &[Atomic<u32>],
    parents: &[Atomic<u32>],
    slots: &mut [u32],
    counters: &[Atomic<u32>],
    n: u32,
    cur: u32,
) {
    let v = ABSOLUTE_POS_X;
    if v < n {
        hook_jump_vertex(
            comp, comp_edge, parents, slots, counters, n, CUBE_POS_Y, cur, v,
        );
    }
}

/// Slot s of tree t into the edge list (every vertex but the final root has one).
#[cube]
fn tree_edge_of_slot(
    comp: &mut [u32],
    slots: &mut [u32],
    edges: &mut [i32],
    n: u32,
    t: u32,
    cur: u32,
    edge_offset: u32,
    s: u32,
) {
    let own = t * 2 * n;
    let root = comp[(own + cur * n) as usize];
    if s != root {
        let mut idx = s;
        if s > root {
            idx = s - 1;
        }
        let at = (2 * (edge_offset + t * (n - 1) + idx)) as usize;
        edges[at] = i32::cast_from(slots[(own + s) as usize]);
        edges[at + 1] = i32::cast_from(slots[(own + n + s) as usize]);
    }
}

/// Gathers each tree's n − 1 recorded slots (every vertex but the final root) into an edge
/// list of `(min, max)` index pairs: tree t's at `edge_offset + t·(n − 1)` edges into
/// `edges`; `cur` is the parity of the component ids after the last round.
#[cube(launch_unchecked)]
pub fn tree_edges_kernel(
    comp: &mut [u32],
    slots: &mut [u32],
    edges: &mut [i32],
    n: u32,
    cur: u32,
    edge_offset: u32,
) {
    let s = ABSOLUTE_POS_X;
    if s < n {
        tree_edge_of_slot(comp, slots, edges, n, CUBE_POS_Y, cur, edge_offset, s);
    }
}

/// The whole of Borůvka for small n in one launch, one cube per tree (`CUBE_POS_Y`): the
/// same steps as the kernels above, in the same order and on the same buffers, each unit
/// taking vertices `UNIT_POS`, `UNIT_POS + CUBE_DIM`, …, and scanning its vertices' rows
/// alone; a storage barrier stands where the launches above end (round 0 is initialisation
/// then a generic round, which leaves the state [`boruvka_first_round_kernel()`] writes). So
/// the tree, the edge list and the counters are those of the multi-launch path, in one
/// launch instead of 1 + 2·⌈log₂ n⌉.
#[cube(launch_unchecked)]
pub fn boruvka_one_cube_kernel(
    dist: &[f32],
    comp: &mut [u32],
    comp_edge: &[Atomic<u32>],
    parents: &[Atomic<u32>],
    vertex_best: &mut [u32],
    slots: &mut [u32],
    counters: &[Atomic<u32>],
    edges: &mut [i32],
    n: u32,
    rounds: u32,
    edge_offset: u32,
) {
    let t = CUBE_POS_Y;
    let mut i = UNIT_POS;
    while i < n {
        init_vertex(
            comp,
            comp_edge,
            parents,
            vertex_best,
            slots,
            counters,
            n,
            t,
            i,
        );
        i += CUBE_DIM;
    }
    sync_storage();
    for round in 0..rounds {
        // Component ids and edges of this round are in half `cur`, as on the host.
        let cur = round % 2;
        // Every unit reads `done` before any of this round's hooks can change it.
        let mut v = UNIT_POS;
        while v < n {
            let ci = comp[(t * 2 * n + cur * n + v) as usize];
            let (done, keep) = skips_its_row(comp, vertex_best, counters, n, t, cur, v, ci);
            if !done {
                // A kept edge is not read again: the scan's bounds leave it out.
                let mut first = 0u32;
                if keep {
                    first = n;
                }
                let scanned = scan_row(dist, comp, n, t, cur, v, ci, first, 1, false);
                record_vertex_best(
                    dist,
                    vertex_best,
                    comp_edge,
                    counters,
                    n,
                    t,
                    cur,
                    v,
                    ci,
                    scanned,
                    keep,
                );
            }
            v += CUBE_DIM;
        }
        sync_storage();
        let mut v = UNIT_POS;
        while v < n {
            hook_jump_vertex(comp, comp_edge, parents, slots, counters, n, t, cur, v);
            v += CUBE_DIM;
        }
        sync_storage();
    }
    let mut s = UNIT_POS;
    while s < n {
        tree_edge_of_slot(comp, slots, edges, n, t, rounds % 2, edge_offset, s);
        s += CUBE_DIM;
    }
}
