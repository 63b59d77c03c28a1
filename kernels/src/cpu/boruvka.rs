//! Exact minimum spanning tree over shards of rows (distributed Borůvka).
//!
//! Each process owns a contiguous range of rows of the gathered n x d batch and computes
//! only those rows of the squared-distance matrix
//! ([`pairwise_sq_distances_rows`](super::pairwise_sq_distances_rows), bit-identical to
//! the rows of the full matrix). The processes then run Borůvka in lockstep on one
//! replicated [`ShardedBoruvka`] state; the caller does the communication, this module
//! only the steps of a round (pure functions of the replicated state, apart from each
//! process's cache of its rows' lightest edges, which only saves rescans).

use std::ops::Range;

use rayon::prelude::*;

use super::prim::{key_less, packed_pair};
use super::Real;

/// Borůvka's algorithm over shards of rows, with the state replicated on every process.
///
/// One round, on every process:
///
/// 1. [`propose`](Self::propose): for each current component, the lightest edge leaving it
///    among the edges incident to this shard's rows (one slot per component);
/// 2. the caller reduces the proposals of all shards element-wise with
///    [`combine`](Self::combine) (an all-reduce; any reduction tree gives the same result,
///    since it takes minima in a strict total order);
/// 3. [`merge`](Self::merge) with the combined proposals: each component's edge joins the
///    tree, components are merged and relabelled.
///
/// Every component merges with at least one other per round, so the number of components
/// at least halves and `ceil(log2 n)` rounds finish. The first round scans the shard's
/// whole block, `O(rows.len() * n)`; later rounds rescan only the rows whose cached
/// lightest edge was swallowed by a merge (see [`propose`](Self::propose)), `O(rows.len()
/// + rescanned * n)`. Each round communicates `O(n)` values.
///
/// Edges are compared by the strict total order of [`prim_mst`](super::prim_mst),
/// lexicographic on `(d2(u, v), min(u, v), max(u, v))`, with the pair packed as
/// `(min << 32) | max`. Under a strict order every component's lightest outgoing edge
/// belongs to the unique MST (cut property), so the edges chosen in a round never close a
/// cycle (except two components choosing the same edge, which is added once) and the final
/// tree is that unique MST: the same edge set as `prim_mst` on the full matrix, provided
/// every shard's block is bit-identical to the rows of that matrix (then shards agree
/// exactly on every weight, including the two orientations of an edge; all processes
/// must hold the same gathered batch and use the same Gram kernel).
///
/// Every process ends with the same tree because the state evolves by a pure function of
/// the combined proposals, which are the same on every process: `merge` processes the
/// slots in order, and the labels are canonical (the smallest vertex of each component),
/// independent of the order in which unions happen.
///
/// Besides that replicated state, each value holds a per-process row cache (the lightest
/// outgoing edge of every row this process owns, see [`propose`](Self::propose)). It
/// depends on which rows the process owns, so it is not replicated: equality (`==`)
/// compares the replicated state only and ignores the cache and its counter
/// ([`rows_scanned`](Self::rows_scanned)).
#[derive(Clone, Debug)]
pub struct ShardedBoruvka {
    n: usize,
    /// Component of each vertex, named by its smallest vertex.
    labels: Vec<u32>,
    /// Slot of each vertex's component: its rank among the components by root.
    slots: Vec<u32>,
    /// The component roots in increasing order (slot c is `roots[c]`).
    roots: Vec<u32>,
    /// Tree edges `(u, v)`, `u < v`, in the order they were added.
    edges: Vec<(u32, u32)>,
    /// This process's cache of each owned row's lightest outgoing edge (not replicated,
    /// not compared).
    cache: RowCache,
}

/// Equality of the replicated state (`n`, labels, slots, roots, edges in insertion
/// order); the per-process row cache is left out.
impl PartialEq for ShardedBoruvka {
    fn eq(&self, other: &Self) -> bool {
        self.n == other.n
            && self.labels == other.labels
            && self.slots == other.slots
            && self.roots == other.roots
            && self.edges == other.edges
    }
}

impl Eq for ShardedBoruvka {}

/// Per-process cache of [`ShardedBoruvka::propose`]: for each owned row `u`, its lightest
/// edge `(u, v)` with `v` outside the component of `u`, in the order
/// `(d2, packed_pair(u, v))`, as found by the last scan of the row.
///
/// Components only grow, so the candidates of `u` (the vertices outside its component)
/// only shrink: while the cached `v` is still outside the component of `u` it is still the
/// minimum, and only the rows whose `v` has joined their component need a rescan. A row
/// with no candidate (`v == NO_VERTEX`: every entry outside its component is NaN) keeps
/// none.
#[derive(Clone, Debug, Default)]
struct RowCache {
    /// What the entries were computed for: the rows, and the block's address and length
    /// in bytes; `None` before the first scan. A different key refills the cache.
    key: Option<(Range<usize>, usize, usize)>,
    /// One entry per owned row, in row order.
    best: Vec<Candidate>,
    /// Rows scanned against all n columns since the state was created.
    rows_scanned: u64,
}

/// A row's lightest outgoing edge: weight (widened exactly to f64), packed pair and the
/// other end (`NO_VERTEX` and `(INFINITY, u64::MAX)` when the row has none).
#[derive(Clone, Copy, Debug)]
struct Candidate {
    weight: f64,
    pair: u64,
    other: u32,
}

/// The other end of a row with no outgoing edge.
const NO_VERTEX: u32 = u32::MAX;

/// The entry of a row with no outgoing edge (also the placeholder before a scan).
const NO_CANDIDATE: Candidate = Candidate {
    weight: f64::INFINITY,
    pair: u64::MAX,
    other: NO_VERTEX,
};

/// Lanes of the running minimum in a row scan (one AVX-512 register of f32, as in Prim).
const LANES: usize = 16;

/// Rows per rayon task in [`ShardedBoruvka::propose`].
const ROWS_PER_TASK: usize = 8;

impl ShardedBoruvka {
    /// The initial state for `n` vertices: every vertex its own component, no edge.
    ///
    /// # Panics
    /// If `n > 2^32` (vertex ids must fit in u32).
    pub fn new(n: usize) -> Self {
        assert!(n as u64 <= 1u64 << 32, "vertex ids must fit in u32");
        let ids: Vec<u32> = (0..n).map(|v| v as u32).collect();
        ShardedBoruvka {
            n,
            labels: ids.clone(),
            slots: ids.clone(),
            roots: ids,
            edges: Vec::with_capacity(n.saturating_sub(1)),
            cache: RowCache::default(),
        }
    }

    /// Whether one component is left (`n <= 1` is done from the start).
    pub fn is_done(&self) -> bool {
        self.roots.len() <= 1
    }

    /// Number of current components (the length of the proposal vectors).
    pub fn components(&self) -> usize {
        self.roots.len()
    }

    /// The component of every vertex, named by its smallest vertex.
    pub fn labels(&self) -> &[u32] {
        &self.labels
    }

    /// This shard's lightest outgoing edge per current component: slot `c` (the `c`-th
    /// component in increasing root order) holds `(weight as f64, (min << 32) | max)`, or
    /// `(f64::INFINITY, u64::MAX)` when no row of the shard lies in that component.
    /// `block` is the `rows.len() x n` block of
    /// [`pairwise_sq_distances_rows`](super::pairwise_sq_distances_rows) for `rows`.
    ///
    /// Only the shard's rows are considered: the lightest edge leaving a component has an
    /// endpoint in it, so it is found by the shard owning that endpoint's row. The weight
    /// is widened exactly to f64, which preserves the order.
    ///
    /// Each owned row's lightest outgoing edge is kept in a per-process cache between
    /// rounds. The first call scans every row; a later call rescans only the rows whose
    /// cached other end has since joined the row's component (components only grow, so a
    /// cached edge that still leaves the component is still the row's lightest one). The
    /// proposals are exactly those of a full rescan. The cache is refilled by a full scan
    /// whenever `rows` or the block's address or length differ from the previous call, so
    /// between the rounds of one tree the block must keep its contents (it is only read).
    /// The rows to scan are scanned in parallel; each row's edge is the minimum of a strict
    /// total order and the rows are reduced in order, so the result is deterministic.
    ///
    /// # Panics
    /// If `rows` is not inside `0..n` or `block.len() != rows.len() * n`.
    pub fn propose<T: Real>(&mut self, block: &[T], rows: Range<usize>) -> (Vec<f64>, Vec<u64>) {
        let n = self.n;
        assert!(
            rows.start <= rows.end && rows.end <= n,
            "rows {rows:?} out of range for n = {n}"
        );
        assert_eq!(
            block.len(),
            rows.len() * n,
            "block must hold rows.len() * n elements"
        );
        let comps = self.components();
        let mut weights = vec![f64::INFINITY; comps];
        let mut pairs = vec![u64::MAX; comps];
        if comps <= 1 || rows.is_empty() {
            return (weights, pairs);
        }
        let slots = &self.slots;
        let cache = &mut self.cache;
        let key = (
            rows.clone(),
            block.as_ptr() as usize,
            std::mem::size_of_val(block),
        );
        let stale: Vec<usize> = if cache.key.as_ref() == Some(&key) {
            (0..rows.len())
                .filter(|&r| {
                    let v = cache.best[r].other;
                    v != NO_VERTEX && slots[v as usize] == slots[rows.start + r]
                })
                .collect()
        } else {
            cache.key = Some(key);
            cache.best.clear();
            cache.best.resize(rows.len(), NO_CANDIDATE);
            (0..rows.len()).collect()
        };
        let scan = select_scan::<T>();
        let fresh: Vec<(T, u64)> = stale
            .par_iter()
            .with_min_len(ROWS_PER_TASK)
            .map(|&r| scan(&block[r * n..(r + 1) * n], slots, rows.start + r))
            .collect();
        cache.rows_scanned += stale.len() as u64;
        for (&r, (w, pair)) in stale.iter().zip(fresh) {
            cache.best[r] = Candidate {
                weight: w.to_f64(),
                pair,
                other: other_end(pair, rows.start + r),
            };
        }
        for (i, c) in rows.zip(&cache.best) {
            let s = slots[i] as usize;
            if key_less(c.weight, c.pair, weights[s], pairs[s]) {
                (weights[s], pairs[s]) = (c.weight, c.pair);
            }
        }
        (weights, pairs)
    }

    /// Rows scanned against all `n` columns by [`propose`](Self::propose) on this value
    /// since [`new`](Self::new) (cloned along with the cache): `rows.len()` for the first
    /// round, then only the rescanned rows. Per-process bookkeeping, ignored by `==`.
    pub fn rows_scanned(&self) -> u64 {
        self.cache.rows_scanned
    }

    /// Element-wise minimum of two proposals in the `(weight, pair)` order, into `acc`:
    /// associative and commutative, so the shards may be reduced in any order or tree.
    ///
    /// # Panics
    /// If the four slices do not have the same length.
    pub fn combine(acc_w: &mut [f64], acc_p: &mut [u64], w: &[f64], p: &[u64]) {
        assert!(
            acc_w.len() == acc_p.len() && acc_w.len() == w.len() && w.len() == p.len(),
            "proposals must have one slot per component"
        );
        for (((aw, ap), &w), &p) in acc_w.iter_mut().zip(acc_p.iter_mut()).zip(w).zip(p) {
            if key_less(w, p, *aw, *ap) {
                (*aw, *ap) = (w, p);
            }
        }
    }

    /// Adds the chosen edges (the proposals combined over every shard, one per component)
    /// and merges the components.
    ///
    /// Slots are processed in order with a union-find over the components; an edge whose
    /// ends are already joined is skipped (two components can choose the same edge). Unions
    /// hang the larger slot under the smaller one, so every group's representative is its
    /// smallest slot, whose root is the group's smallest vertex: the new labels are
    /// canonical. `weights` only serve to check that every slot holds an edge.
    ///
    /// # Panics
    /// If the slices do not have one slot per component, or a slot holds no edge leaving
    /// its component (a shard's proposal is missing, or the distances contain NaN).
    pub fn merge(&mut self, weights: &[f64], pairs: &[u64]) {
        let comps = self.components();
        assert!(
            weights.len() == comps && pairs.len() == comps,
            "proposals must have one slot per component"
        );
        if comps <= 1 {
            return;
        }
        let mut parent: Vec<u32> = (0..comps as u32).collect();
        for (s, (&w, &pair)) in weights.iter().zip(pairs).enumerate() {
            assert!(
                pair != u64::MAX && !w.is_nan(),
                "component {s} has no outgoing edge: a shard's proposal is missing or the \
                 distances contain NaN"
            );
            let (u, v) = ((pair >> 32) as usize, (pair & 0xffff_ffff) as usize);
            assert!(u < v && v < self.n, "bad edge ({u}, {v}) in slot {s}");
            let (su, sv) = (self.slots[u], self.slots[v]);
            assert!(
                su != sv && (su as usize == s || sv as usize == s),
                "edge ({u}, {v}) does not leave component {s}"
            );
            let (a, b) = (find(&mut parent, su), find(&mut parent, sv));
            if a == b {
                continue;
            }
            parent[a.max(b) as usize] = a.min(b);
            self.edges.push((u as u32, v as u32));
        }
        // New slots: the surviving representatives, in increasing (root) order.
        let mut new_slot = vec![u32::MAX; comps];
        let mut roots = Vec::new();
        for s in 0..comps as u32 {
            if find(&mut parent, s) == s {
                new_slot[s as usize] = roots.len() as u32;
                roots.push(self.roots[s as usize]);
            }
        }
        let group: Vec<u32> = (0..comps as u32)
            .map(|s| new_slot[find(&mut parent, s) as usize])
            .collect();
        for (slot, label) in self.slots.iter_mut().zip(self.labels.iter_mut()) {
            *slot = group[*slot as usize];
            *label = roots[*slot as usize];
        }
        self.roots = roots;
    }

    /// The tree edges as `(u, v)` with `u < v`, sorted (the full MST once
    /// [`is_done`](Self::is_done)).
    pub fn edges(&self) -> Vec<(u32, u32)> {
        let mut edges = self.edges.clone();
        edges.sort_unstable();
        edges
    }
}

/// The end of the packed edge `pair` that is not `u` (`NO_VERTEX` for no edge).
fn other_end(pair: u64, u: usize) -> u32 {
    let (lo, hi) = ((pair >> 32) as u32, pair as u32);
    if pair == u64::MAX {
        NO_VERTEX
    } else if lo as usize == u {
        hi
    } else {
        lo
    }
}

/// Union-find root of slot `s`, with path halving.
fn find(parent: &mut [u32], mut s: u32) -> u32 {
    while parent[s as usize] != s {
        let grand = parent[parent[s as usize] as usize];
        parent[s as usize] = grand;
        s = grand;
    }
    s
}

/// The lightest edge `(i, j)` in the total order with `j` outside the component of `i`,
/// `(INFINITY, u64::MAX)` if none. `row` is row `i` of the distance matrix.
///
/// Same-component entries (the diagonal included) are replaced by NaN, which loses every
/// comparison, so the scan needs no branch and keeps a per-lane running minimum, as in
/// Prim's relax pass.
#[inline(always)]
fn lightest_outgoing<T: Real>(row: &[T], slots: &[u32], i: usize) -> (T, u64) {
    let n = row.len();
    let own = slots[i];
    let mut lane_d = [T::INFINITY; LANES];
    let mut lane_pair = [u64::MAX; LANES];
    let full = n / LANES * LANES;
    let chunks = row[..full]
        .chunks_exact(LANES)
        .zip(slots[..full].chunks_exact(LANES));
    for (c, (row_c, slots_c)) in chunks.enumerate() {
        for l in 0..LANES {
            let w = if slots_c[l] == own { T::NAN } else { row_c[l] };
            let pair = packed_pair(i, c * LANES + l);
            let better = key_less(w, pair, lane_d[l], lane_pair[l]);
            lane_d[l] = if better { w } else { lane_d[l] };
            lane_pair[l] = if better { pair } else { lane_pair[l] };
        }
    }
    let (mut best_d, mut best_pair) = (T::INFINITY, u64::MAX);
    for j in full..n {
        let pair = packed_pair(i, j);
        if slots[j] != own && key_less(row[j], pair, best_d, best_pair) {
            (best_d, best_pair) = (row[j], pair);
        }
    }
    for l in 0..LANES {
        if key_less(lane_d[l], lane_pair[l], best_d, best_pair) {
            (best_d, best_pair) = (lane_d[l], lane_pair[l]);
        }
    }
    (best_d, best_pair)
}

type ScanFn<T> = fn(&[T], &[u32], usize) -> (T, u64);

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vl,avx512bw,avx512dq")]
fn scan_avx512<T: Real>(row: &[T], slots: &[u32], i: usize) -> (T, u64) {
    lightest_outgoing(row, slots, i)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn scan_avx2<T: Real>(row: &[T], slots: &[u32], i: usize) -> (T, u64) {
    lightest_outgoing(row, slots, i)
}

fn scan_portable<T: Real>(row: &[T], slots: &[u32], i: usize) -> (T, u64) {
    lightest_outgoing(row, slots, i)
}

/// Picks the widest vectorized build of the row scan this CPU runs (all make the same
/// exact comparisons, so the proposals do not depend on the choice).
fn select_scan<T: Real>() -> ScanFn<T> {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512vl")
            && std::arch::is_x86_feature_detected!("avx512bw")
            && std::arch::is_x86_feature_detected!("avx512dq")
        {
            // SAFETY: the features were detected at run time.
            return |row, slots, i| unsafe { scan_avx512(row, slots, i) };
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            // SAFETY: the features were detected at run time.
            return |row, slots, i| unsafe { scan_avx2(row, slots, i) };
        }
    }
    scan_portable::<T>
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{pairwise_sq_distances, pairwise_sq_distances_rows, prim_mst};

    /// SplitMix64 (as in the integration tests' clouds).
    struct SplitMix(u64);

    impl SplitMix {
        fn next_u64(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        }
        fn unit(&mut self) -> f64 {
            ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
        }
        fn gaussian(&mut self) -> f64 {
            let (a, b) = (self.unit(), self.unit());
            (-2.0 * a.ln()).sqrt() * (std::f64::consts::TAU * b).cos()
        }
        fn below(&mut self, bound: usize) -> usize {
            (self.next_u64() % bound as u64) as usize
        }
    }

    fn gaussian(n: usize, d: usize, seed: u64) -> Vec<f64> {
        let mut rng = SplitMix(seed);
        (0..n * d).map(|_| rng.gaussian()).collect()
    }

    /// `n` rows drawn from `n / 3 + 1` distinct Gaussian points (zero-length edges).
    fn duplicates(n: usize, d: usize, seed: u64) -> Vec<f64> {
        let mut rng = SplitMix(seed);
        let distinct = n / 3 + 1;
        let base = gaussian(distinct, d, seed ^ 0x5555);
        (0..n)
            .flat_map(|_| {
                let b = rng.below(distinct);
                base[b * d..(b + 1) * d].to_vec()
            })
            .collect()
    }

    /// Every point of the grid `{0, .., side - 1}^dims`, in lexicographic order.
    fn grid(side: usize, dims: usize) -> Vec<f64> {
        let n = side.pow(dims as u32);
        (0..n)
            .flat_map(|mut v| {
                (0..dims)
                    .map(|_| {
                        let c = v % side;
                        v /= side;
                        c as f64
                    })
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    /// `p + 1` boundaries of `p` uneven shards of `0..n` (some possibly empty).
    fn uneven_bounds(n: usize, p: usize, seed: u64) -> Vec<usize> {
        let mut rng = SplitMix(seed);
        let mut cuts: Vec<usize> = (1..p).map(|_| rng.below(n + 1)).collect();
        cuts.sort_unstable();
        let mut bounds = vec![0];
        bounds.extend(cuts);
        bounds.push(n);
        bounds
    }

    fn ceil_log2(n: usize) -> usize {
        if n <= 1 {
            0
        } else {
            (usize::BITS - (n - 1).leading_zeros()) as usize
        }
    }

    /// The proposals by definition: every owned row against every column, in f64.
    fn brute_force_proposals<T: Real>(
        state: &ShardedBoruvka,
        block: &[T],
        rows: Range<usize>,
    ) -> (Vec<f64>, Vec<u64>) {
        let (n, comps) = (state.n, state.components());
        let (mut w, mut p) = (vec![f64::INFINITY; comps], vec![u64::MAX; comps]);
        for (r, i) in rows.enumerate() {
            let s = state.slots[i] as usize;
            for j in (0..n).filter(|&j| state.slots[j] != state.slots[i]) {
                let (d2, pair) = (block[r * n + j].to_f64(), packed_pair(i, j));
                if key_less(d2, pair, w[s], p[s]) {
                    (w[s], p[s]) = (d2, pair);
                }
            }
        }
        (w, p)
    }

    /// The proposals of a full rescan: the same replicated state with an empty cache.
    fn full_rescan_proposals<T: Real>(
        state: &ShardedBoruvka,
        block: &[T],
        rows: Range<usize>,
    ) -> (Vec<f64>, Vec<u64>) {
        let mut fresh = state.clone();
        fresh.cache = RowCache::default();
        let before = fresh.rows_scanned();
        let proposals = fresh.propose(block, rows.clone());
        let expected = if state.components() > 1 {
            rows.len()
        } else {
            0
        };
        assert_eq!(
            fresh.rows_scanned() - before,
            expected as u64,
            "a full rescan"
        );
        proposals
    }

    fn assert_same_proposals(a: &(Vec<f64>, Vec<u64>), b: &(Vec<f64>, Vec<u64>), what: &str) {
        assert_eq!(a.1, b.1, "{what}: pairs");
        assert_eq!(
            a.0.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            b.0.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            "{what}: weights"
        );
    }

    /// Runs the shards in lockstep as separate processes would: own block, own state (and
    /// row cache), proposals all-reduced (in two different orders, which must agree). In
    /// every round each shard's cached proposals must equal a full rescan and the
    /// brute-force definition. Returns the sorted tree, the number of rounds and each
    /// shard's [`ShardedBoruvka::rows_scanned`] after every round.
    fn sharded_run<T: Real>(
        x: &[T],
        n: usize,
        d: usize,
        bounds: &[usize],
    ) -> (Vec<(u32, u32)>, usize, Vec<Vec<u64>>) {
        let shards: Vec<Range<usize>> = bounds.windows(2).map(|w| w[0]..w[1]).collect();
        let blocks: Vec<Vec<T>> = shards
            .iter()
            .map(|rows| pairwise_sq_distances_rows(x, n, d, rows.clone()))
            .collect();
        let mut states: Vec<ShardedBoruvka> =
            shards.iter().map(|_| ShardedBoruvka::new(n)).collect();
        let mut scanned = vec![Vec::new(); shards.len()];
        let mut rounds = 0;
        while !states[0].is_done() {
            let proposals: Vec<(Vec<f64>, Vec<u64>)> = states
                .iter_mut()
                .zip(&shards)
                .zip(&blocks)
                .zip(&mut scanned)
                .map(|(((state, rows), block), scanned)| {
                    let cached = state.propose(block, rows.clone());
                    scanned.push(state.rows_scanned());
                    let what = format!("round {rounds}, rows {rows:?}");
                    let full = full_rescan_proposals(state, block, rows.clone());
                    assert_same_proposals(&cached, &full, &what);
                    let defined = brute_force_proposals(state, block, rows.clone());
                    assert_same_proposals(&cached, &defined, &what);
                    cached
                })
                .collect();
            let (mut w, mut p) = proposals[0].clone();
            for (wi, pi) in &proposals[1..] {
                ShardedBoruvka::combine(&mut w, &mut p, wi, pi);
            }
            let (mut w_rev, mut p_rev) = proposals[proposals.len() - 1].clone();
            for (wi, pi) in proposals.iter().rev().skip(1) {
                ShardedBoruvka::combine(&mut w_rev, &mut p_rev, wi, pi);
            }
            assert_eq!(p, p_rev);
            assert_eq!(
                w.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                w_rev.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
            );
            let before = states[0].components();
            for state in &mut states {
                state.merge(&w, &p);
            }
            assert!(
                states[0].components() * 2 <= before,
                "a round must halve the components"
            );
            rounds += 1;
        }
        for state in &states {
            assert!(state.is_done());
            assert_eq!(state, &states[0], "every process ends in the same state");
        }
        if n > 0 {
            assert!(states[0].labels().iter().all(|&l| l == 0));
        }
        (states[0].edges(), rounds, scanned)
    }

    fn sharded_mst<T: Real>(
        x: &[T],
        n: usize,
        d: usize,
        bounds: &[usize],
    ) -> (Vec<(u32, u32)>, usize) {
        let (edges, rounds, _) = sharded_run(x, n, d, bounds);
        (edges, rounds)
    }

    /// Sharded Borůvka equals Prim on the full matrix for P in {1, 2, 3, 5} shards (an
    /// even split and two uneven ones each), within ceil(log2 n) rounds.
    fn check_cloud<T: Real>(x64: &[f64], n: usize, d: usize, what: &str) {
        let x: Vec<T> = x64.iter().map(|&v| T::from_f64(v)).collect();
        let mut expected = prim_mst(&pairwise_sq_distances(&x, n, d), n);
        expected.sort_unstable();
        for p in [1usize, 2, 3, 5] {
            let mut splits = vec![(0..=p).map(|s| s * n / p).collect::<Vec<_>>()];
            splits.push(uneven_bounds(n, p, (n * 31 + p) as u64));
            splits.push(uneven_bounds(n, p, (n * 77 + d + p) as u64));
            for bounds in &splits {
                let (edges, rounds) = sharded_mst(&x, n, d, bounds);
                assert_eq!(edges, expected, "{what} n={n} d={d} shards {bounds:?}");
                assert!(
                    rounds <= ceil_log2(n),
                    "{what} n={n}: {rounds} rounds > ceil(log2 n)"
                );
            }
        }
    }

    fn check_both(x64: &[f64], n: usize, d: usize, what: &str) {
        assert_eq!(x64.len(), n * d);
        check_cloud::<f32>(x64, n, d, what);
        check_cloud::<f64>(x64, n, d, what);
    }

    #[test]
    fn sharded_boruvka_equals_prim_on_gaussian_clouds() {
        for (n, d) in [
            (2, 3),
            (3, 2),
            (10, 1),
            (47, 5),
            (100, 2),
            (257, 16),
            (500, 3),
            (300, 64),
        ] {
            check_both(&gaussian(n, d, (n * 1000 + d) as u64), n, d, "gaussian");
        }
    }

    #[test]
    fn sharded_boruvka_equals_prim_with_duplicates() {
        for (n, d) in [(2, 1), (3, 4), (40, 1), (97, 3), (200, 8)] {
            check_both(&duplicates(n, d, n as u64), n, d, "duplicates");
        }
        // All rows identical: every edge has weight 0, the order is the index order.
        check_both(&vec![1.5; 60 * 3], 60, 3, "identical rows");
    }

    /// The 7×7 integer grid with its rows in a scrambled order (row r holds point 17r mod
    /// 49), so that tied edges join rows of different shards.
    fn scrambled_grid() -> Vec<f64> {
        let g = grid(7, 2);
        (0..49)
            .flat_map(|r| {
                let v = (r * 17) % 49;
                g[2 * v..2 * v + 2].to_vec()
            })
            .collect()
    }

    #[test]
    fn sharded_boruvka_equals_prim_on_grids_with_ties() {
        check_both(&grid(6, 2), 36, 2, "6x6 grid");
        check_both(&grid(4, 3), 64, 3, "4x4x4 grid");
        check_both(&grid(50, 1), 50, 1, "integer line");
        // Ties that cross the shards.
        check_both(&scrambled_grid(), 49, 2, "scrambled 7x7 grid");
    }

    #[test]
    fn sharded_boruvka_equals_prim_far_from_origin() {
        for (n, d) in [(64, 2), (150, 10)] {
            let x: Vec<f64> = gaussian(n, d, 7 + n as u64)
                .iter()
                .map(|v| v + 1e4)
                .collect();
            check_both(&x, n, d, "offset 1e4");
        }
    }

    #[test]
    fn every_scan_build_gives_the_same_minimum() {
        // Coarse weights in {0, .., 3} (many ties), a few components, n around LANES.
        for n in [1usize, 15, 16, 17, 40, 100] {
            let mut rng = SplitMix(n as u64);
            let slots: Vec<u32> = (0..n).map(|_| rng.below(4) as u32).collect();
            for i in 0..n {
                let row: Vec<f32> = (0..n).map(|_| rng.below(4) as f32).collect();
                let expected = (0..n)
                    .filter(|&j| slots[j] != slots[i])
                    .map(|j| (row[j], packed_pair(i, j)))
                    .fold((f32::INFINITY, u64::MAX), |a, b| {
                        if key_less(b.0, b.1, a.0, a.1) {
                            b
                        } else {
                            a
                        }
                    });
                assert_eq!(scan_portable(&row, &slots, i), expected);
                assert_eq!(select_scan::<f32>()(&row, &slots, i), expected);
            }
        }
    }

    #[test]
    fn cached_proposals_equal_a_full_rescan_every_round() {
        // `sharded_run` checks every round of every shard against a full rescan (same
        // state, empty cache) and the brute-force definition; here on clouds with many
        // ties, whose cached edges are decided by the index order.
        let scrambled = scrambled_grid();
        let clouds: Vec<(Vec<f64>, usize, usize, &str)> = vec![
            (gaussian(400, 6, 11), 400, 6, "gaussian"),
            (duplicates(300, 3, 12), 300, 3, "duplicates"),
            (vec![0.25; 70 * 2], 70, 2, "identical rows"),
            (grid(9, 2), 81, 2, "9x9 tie grid"),
            (grid(5, 3), 125, 3, "5x5x5 tie grid"),
            (scrambled, 49, 2, "scrambled 7x7 grid"),
        ];
        for (x64, n, d, what) in &clouds {
            let (n, d) = (*n, *d);
            let x32: Vec<f32> = x64.iter().map(|&v| v as f32).collect();
            let mut expected = prim_mst(&pairwise_sq_distances(x64, n, d), n);
            expected.sort_unstable();
            for bounds in [
                vec![0, n],
                vec![0, n / 2, n],
                uneven_bounds(n, 3, n as u64 + 5),
            ] {
                let (edges, rounds, scanned) = sharded_run(x64, n, d, &bounds);
                assert_eq!(edges, expected, "{what} {bounds:?}");
                for (rows, scanned) in bounds.windows(2).zip(&scanned) {
                    // The first round scans every row once.
                    let first = rows[1] - rows[0];
                    assert_eq!(scanned[0], first as u64, "{what} {bounds:?}");
                    assert_eq!(scanned.len(), rounds);
                }
                sharded_run(&x32, n, d, &bounds);
            }
        }
    }

    #[test]
    fn row_cache_rescans_fewer_rows_after_the_first_round() {
        let (n, d) = (2000, 8);
        let x = gaussian(n, d, 2024);
        for bounds in [vec![0, n], vec![0, n / 2, n], vec![0, 700, n]] {
            let (_, rounds, scanned) = sharded_run(&x, n, d, &bounds);
            assert!(rounds >= 3, "{rounds} rounds: the cache is not exercised");
            for (rows, scanned) in bounds.windows(2).zip(&scanned) {
                let rows = (rows[1] - rows[0]) as u64;
                let rescans = scanned[rounds - 1] - scanned[0];
                assert_eq!(scanned[0], rows);
                assert!(
                    rescans < rows * (rounds as u64 - 1),
                    "{rescans} rows rescanned after round 1, {rows} rows x {} rounds",
                    rounds - 1
                );
                // Never more than one scan per row and round.
                assert!(scanned.windows(2).all(|w| w[1] - w[0] <= rows));
            }
        }
    }

    #[test]
    fn row_cache_refills_for_other_rows_or_another_block() {
        let (n, d) = (120, 4);
        let x: Vec<f32> = gaussian(n, d, 99).iter().map(|&v| v as f32).collect();
        let (a, b) = (0..50, 50..n);
        let block_a = pairwise_sq_distances_rows(&x, n, d, a.clone());
        let block_b = pairwise_sq_distances_rows(&x, n, d, b.clone());
        let mut state = ShardedBoruvka::new(n);
        let first = state.propose(&block_a, a.clone());
        assert_eq!(state.rows_scanned(), 50);
        // The same call again is served from the cache.
        assert_same_proposals(&state.propose(&block_a, a.clone()), &first, "repeat");
        assert_eq!(state.rows_scanned(), 50);
        // The cache is per-process: equality ignores it.
        assert_eq!(state, ShardedBoruvka::new(n));
        // Other rows: refilled, and correct.
        let other = state.propose(&block_b, b.clone());
        assert_eq!(state.rows_scanned(), 50 + 70);
        assert_same_proposals(&other, &brute_force_proposals(&state, &block_b, b), "rows");
        // The same rows in another buffer: refilled.
        let copy = block_a.clone();
        assert_same_proposals(&state.propose(&copy, a.clone()), &first, "copy");
        assert_eq!(state.rows_scanned(), 50 + 70 + 50);
        // After a merge, the cache only rescans and still agrees with the definition.
        let (w, p) =
            ShardedBoruvka::new(n).propose(&pairwise_sq_distances_rows(&x, n, d, 0..n), 0..n);
        state.merge(&w, &p);
        let before = state.rows_scanned();
        let merged = state.propose(&copy, a.clone());
        assert!(state.rows_scanned() - before <= 50);
        assert_same_proposals(&merged, &brute_force_proposals(&state, &copy, a), "merged");
    }

    #[test]
    fn tiny_inputs() {
        for n in [0usize, 1] {
            let mut state = ShardedBoruvka::new(n);
            assert!(state.is_done());
            assert_eq!(state.components(), n);
            let block = vec![0.0f32; n * n];
            let (w, p) = state.propose(&block, 0..n);
            assert_eq!((w.len(), p.len()), (n, n));
            state.merge(&w, &p);
            assert!(state.edges().is_empty());
        }
        // n = 2: one round, one edge.
        let x = [0.0f64, 3.0];
        let (edges, rounds) = sharded_mst(&x, 2, 1, &[0, 1, 2]);
        assert_eq!((edges, rounds), (vec![(0, 1)], 1));
        // A shard with no row of a component proposes nothing for it.
        let mut state = ShardedBoruvka::new(3);
        let block = pairwise_sq_distances_rows(&[0.0f32, 1.0, 5.0], 3, 1, 1..2);
        let (w, p) = state.propose(&block, 1..2);
        assert_eq!(w, vec![f64::INFINITY, 1.0, f64::INFINITY]);
        assert_eq!(p, vec![u64::MAX, 1, u64::MAX]);
    }

    #[test]
    #[should_panic(expected = "no outgoing edge")]
    fn merge_rejects_missing_proposals() {
        let mut state = ShardedBoruvka::new(4);
        let block = pairwise_sq_distances_rows(&[0.0f32, 1.0, 2.0, 3.0], 4, 1, 0..2);
        let (w, p) = state.propose(&block, 0..2);
        state.merge(&w, &p);
    }
}
