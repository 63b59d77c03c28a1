//! Exact minimum spanning tree of a dense squared-distance matrix (Prim, O(n^2)).
//!
//! Edges are compared by ONE strict total order, lexicographic on
//!
//! ```text
//! (d2(u, v), min(u, v), max(u, v))
//! ```
//!
//! Under a strict total order the MST is unique (cut property: the minimum edge across
//! any cut belongs to every MST), so Prim, Kruskal or a Borůvka variant fed the same `d2`
//! return the same edge set, ties (duplicate points, grids) included.
//!
//! Prim keeps, for every vertex `v` outside the tree, its best edge to the tree as a key
//! `(best_d[v], best_pair[v])` where `best_pair = (min << 32) | max` packs the endpoint
//! pair so that comparing two keys as `(f, u64)` is exactly the total order above. One
//! step relaxes the row of the vertex just added and, in the same pass, keeps a per-lane
//! running minimum of the keys; the lanes are reduced at the end of the row. Vertices
//! already in the tree hold `best_d = NaN`, which loses every comparison, so the pass
//! needs no mask and vectorizes (AVX-512 / AVX2 versions are selected at run time).

use super::Real;

/// Lanes of the running key minimum (one AVX-512 register of f32).
const LANES: usize = 16;

/// Packs an edge's endpoints as `(min << 32) | max`: comparing packed pairs as integers is
/// comparing `(min, max)` lexicographically.
#[inline(always)]
pub(crate) fn packed_pair(u: usize, v: usize) -> u64 {
    let (lo, hi) = if u < v { (u, v) } else { (v, u) };
    ((lo as u64) << 32) | hi as u64
}

/// Strict "key a < key b" in the total order `(d2, min, max)`.
#[inline(always)]
pub(crate) fn key_less<T: Real>(a_d: T, a_pair: u64, b_d: T, b_pair: u64) -> bool {
    (a_d < b_d) | ((a_d == b_d) & (a_pair < b_pair))
}

/// Relaxes the keys with the row of the newly added vertex `u` and returns the smallest
/// key among vertices outside the tree (`(INFINITY, u64::MAX)` when none is finite-keyed).
#[inline(always)]
fn relax_row_and_argmin<T: Real>(
    row: &[T],
    u: usize,
    best_d: &mut [T],
    best_pair: &mut [u64],
) -> (T, u64) {
    let n = row.len();
    let mut lane_d = [T::INFINITY; LANES];
    let mut lane_pair = [u64::MAX; LANES];
    let full = n / LANES * LANES;
    let chunks = row[..full]
        .chunks_exact(LANES)
        .zip(best_d[..full].chunks_exact_mut(LANES))
        .zip(best_pair[..full].chunks_exact_mut(LANES));
    for (c, ((row_c, bd_c), bp_c)) in chunks.enumerate() {
        let v0 = c * LANES;
        for l in 0..LANES {
            let cand_d = row_c[l];
            let cand_pair = packed_pair(u, v0 + l);
            let (kd, kp) = (bd_c[l], bp_c[l]);
            // NaN keys (tree vertices) never compare less or equal: never updated.
            let better = key_less(cand_d, cand_pair, kd, kp);
            let nd = if better { cand_d } else { kd };
            let np = if better { cand_pair } else { kp };
            bd_c[l] = nd;
            bp_c[l] = np;
            let lane_better = key_less(nd, np, lane_d[l], lane_pair[l]);
            lane_d[l] = if lane_better { nd } else { lane_d[l] };
            lane_pair[l] = if lane_better { np } else { lane_pair[l] };
        }
    }
    let (mut min_d, mut min_pair) = (T::INFINITY, u64::MAX);
    for v in full..n {
        let cand_pair = packed_pair(u, v);
        if key_less(row[v], cand_pair, best_d[v], best_pair[v]) {
            best_d[v] = row[v];
            best_pair[v] = cand_pair;
        }
        if key_less(best_d[v], best_pair[v], min_d, min_pair) {
            (min_d, min_pair) = (best_d[v], best_pair[v]);
        }
    }
    for l in 0..LANES {
        if key_less(lane_d[l], lane_pair[l], min_d, min_pair) {
            (min_d, min_pair) = (lane_d[l], lane_pair[l]);
        }
    }
    (min_d, min_pair)
}

type RelaxFn<T> = fn(&[T], usize, &mut [T], &mut [u64]) -> (T, u64);

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vl,avx512bw,avx512dq")]
fn relax_avx512<T: Real>(row: &[T], u: usize, bd: &mut [T], bp: &mut [u64]) -> (T, u64) {
    relax_row_and_argmin(row, u, bd, bp)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn relax_avx2<T: Real>(row: &[T], u: usize, bd: &mut [T], bp: &mut [u64]) -> (T, u64) {
    relax_row_and_argmin(row, u, bd, bp)
}

fn relax_portable<T: Real>(row: &[T], u: usize, bd: &mut [T], bp: &mut [u64]) -> (T, u64) {
    relax_row_and_argmin(row, u, bd, bp)
}

/// Picks the widest vectorized build of the relax pass this CPU runs (all compute the
/// same exact comparisons, so the tree does not depend on the choice).
fn select_relax<T: Real>() -> RelaxFn<T> {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512vl")
            && std::arch::is_x86_feature_detected!("avx512bw")
            && std::arch::is_x86_feature_detected!("avx512dq")
        {
            // SAFETY: the features were detected at run time.
            return |row, u, bd, bp| unsafe { relax_avx512(row, u, bd, bp) };
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            // SAFETY: the features were detected at run time.
            return |row, u, bd, bp| unsafe { relax_avx2(row, u, bd, bp) };
        }
    }
    relax_portable::<T>
}

/// Exact MST of the complete graph whose edge weights are the squared distances `d2`
/// (n x n, row-major, symmetric; only the rows of added vertices are read).
///
/// Returns the `n - 1` edges `(u, v)` with `u < v`, in the order Prim adds them starting
/// from vertex 0; empty for `n <= 1`. The tree is the unique MST under the strict total
/// order `(d2(u, v), min(u, v), max(u, v))` (see the module docs), so it is deterministic
/// bit for bit and equals Kruskal's tree on the same `d2`.
///
/// Squared distances give the same tree as distances (monotone), and skip `n^2` square
/// roots.
///
/// # Panics
/// If `d2.len() != n * n`, `n > 2^32`, or `d2` contains NaN.
pub fn prim_mst<T: Real>(d2: &[T], n: usize) -> Vec<(u32, u32)> {
    assert_eq!(d2.len(), n * n, "d2 must hold n * n elements");
    assert!(n as u64 <= 1u64 << 32, "vertex ids must fit in u32");
    if n < 2 {
        return Vec::new();
    }
    let relax = select_relax::<T>();
    let mut best_d = vec![T::INFINITY; n];
    let mut best_pair = vec![u64::MAX; n];
    let mut edges = Vec::with_capacity(n - 1);
    let mut in_tree = vec![false; n];
    let mut newest = 0usize;
    in_tree[0] = true;
    best_d[0] = T::NAN;
    for _ in 1..n {
        let row = &d2[newest * n..(newest + 1) * n];
        let (_, pair) = relax(row, newest, &mut best_d, &mut best_pair);
        assert!(pair != u64::MAX, "prim_mst: d2 contains NaN");
        let (a, b) = ((pair >> 32) as usize, (pair & 0xffff_ffff) as usize);
        let added = if in_tree[a] { b } else { a };
        debug_assert!(in_tree[a] != in_tree[b]);
        edges.push((a as u32, b as u32));
        in_tree[added] = true;
        best_d[added] = T::NAN;
        newest = added;
    }
    edges
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Prim with a given build of the relax pass (to compare the vectorized builds).
    fn prim_with(d2: &[f32], n: usize, relax: RelaxFn<f32>) -> Vec<(u32, u32)> {
        let mut best_d = vec![f32::INFINITY; n];
        let mut best_pair = vec![u64::MAX; n];
        let mut in_tree = vec![false; n];
        let (mut newest, mut edges) = (0usize, Vec::new());
        in_tree[0] = true;
        best_d[0] = f32::NAN;
        for _ in 1..n {
            let (_, pair) = relax(
                &d2[newest * n..(newest + 1) * n],
                newest,
                &mut best_d,
                &mut best_pair,
            );
            let (a, b) = ((pair >> 32) as usize, (pair & 0xffff_ffff) as usize);
            let added = if in_tree[a] { b } else { a };
            edges.push((a as u32, b as u32));
            in_tree[added] = true;
            best_d[added] = f32::NAN;
            newest = added;
        }
        edges
    }

    #[test]
    fn every_relax_build_gives_the_same_tree() {
        // Coarse values in {0, .., 4}: many exact ties, n not a multiple of LANES.
        for n in [2usize, 15, 16, 17, 61, 100] {
            let mut d2 = vec![0.0f32; n * n];
            let mut state = 12345u64 + n as u64;
            for i in 0..n {
                for j in 0..i {
                    state = state
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    let v = ((state >> 33) % 5) as f32;
                    d2[i * n + j] = v;
                    d2[j * n + i] = v;
                }
            }
            let expected = prim_mst(&d2, n);
            assert_eq!(prim_with(&d2, n, relax_portable::<f32>), expected);
            assert_eq!(prim_with(&d2, n, select_relax::<f32>()), expected);
            assert_eq!(crate::kruskal_on_matrix(&d2, n).len(), expected.len());
            let kruskal: std::collections::BTreeSet<_> =
                crate::kruskal_on_matrix(&d2, n).into_iter().collect();
            assert_eq!(kruskal, expected.iter().copied().collect());
        }
    }
}
