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
//! Prim keeps, for every vertex `v` outside the tree, its best edge to the tree as the
//! squared length `best_d[v]` and the tree end `best_src[v]`; the edge's key is
//! `(best_d[v], packed_pair(best_src[v], v))`, where `packed_pair = (min << 32) | max`
//! makes comparing `(f, u64)` keys exactly the total order above. One step relaxes the
//! row of the vertex just added and, in the same pass, keeps a per-lane running minimum of
//! the lengths.
//!
//! The pass compares lengths only, in chunks of `LANES`: where no candidate in a chunk
//! equals the key it challenges, "key a < key b" is "a_d < b_d" (the pairs only matter on
//! equal lengths), so the common chunk is 32-bit compares and selects, no 64-bit pair in
//! sight. A chunk with an exact tie (duplicate points, grids) takes the exact comparison.
//! The running minimum is on lengths too; a second, cheap pass over `best_d` (in L1) finds
//! the vertex holding it, and when several do, an exact pass over their keys decides. Both
//! shortcuts only skip comparisons whose outcome they know, so the tree is the one exact
//! keys give (`every_relax_build_gives_the_same_tree` checks it against Kruskal on matrices
//! from all-tied to rarely tied).
//!
//! Vertices already in the tree hold `best_d = NaN`, which loses every comparison, so the
//! pass needs no mask. f32 on AVX2 runs a hand-written pass; other builds are the generic
//! one compiled for AVX-512, AVX2 or portable code, selected at run time.

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

/// `best_src` of a vertex no finite-keyed edge has reached yet.
const NO_SOURCE: u32 = u32::MAX;

/// The pair part of `v`'s key (`u64::MAX`, after every real pair, while `v` has no source).
#[inline(always)]
fn key_pair(src: u32, v: usize) -> u64 {
    if src == NO_SOURCE {
        u64::MAX
    } else {
        packed_pair(src as usize, v)
    }
}

/// The index of the only element of `xs` equal to `x`; `None` when none or several are.
#[inline(always)]
fn sole_position<T: Real>(xs: &[T], x: T) -> Option<usize> {
    let mut found = None;
    let full = xs.len() / LANES * LANES;
    let mut check = |v: usize| {
        if xs[v] == x {
            if found.is_some() {
                return false;
            }
            found = Some(v);
        }
        true
    };
    for (c, chunk) in xs[..full].chunks_exact(LANES).enumerate() {
        let mut hit = false;
        for &y in chunk {
            hit |= y == x;
        }
        if hit && !(c * LANES..(c + 1) * LANES).all(&mut check) {
            return None;
        }
    }
    if !(full..xs.len()).all(&mut check) {
        return None;
    }
    found
}

/// Relaxes `v`'s key with the edge `(u, v)` of length `cand_d` under the exact order.
#[inline(always)]
fn relax_exact<T: Real>(cand_d: T, u: usize, v: usize, best_d: &mut T, best_src: &mut u32) {
    if key_less(cand_d, packed_pair(u, v), *best_d, key_pair(*best_src, v)) {
        *best_d = cand_d;
        *best_src = u as u32;
    }
}

/// Relaxes the keys with the row of the newly added vertex `u` and returns the vertex
/// outside the tree with the smallest key (`usize::MAX` when none has a source, which a
/// NaN-free matrix never leaves).
#[inline(always)]
fn relax_row_and_argmin<T: Real>(
    row: &[T],
    u: usize,
    best_d: &mut [T],
    best_src: &mut [u32],
) -> usize {
    let n = row.len();
    let source = u as u32;
    let mut lane_min = [T::INFINITY; LANES];
    let full = n / LANES * LANES;
    let chunks = row[..full]
        .chunks_exact(LANES)
        .zip(best_d[..full].chunks_exact_mut(LANES))
        .zip(best_src[..full].chunks_exact_mut(LANES));
    for (c, ((row_c, bd_c), bs_c)) in chunks.enumerate() {
        let v0 = c * LANES;
        let mut tied = false;
        for l in 0..LANES {
            tied |= row_c[l] == bd_c[l];
        }
        if tied {
            for l in 0..LANES {
                relax_exact(row_c[l], u, v0 + l, &mut bd_c[l], &mut bs_c[l]);
            }
        } else {
            // No equal lengths: the lengths alone decide (NaN keys are never replaced).
            for l in 0..LANES {
                let better = row_c[l] < bd_c[l];
                bd_c[l] = if better { row_c[l] } else { bd_c[l] };
                bs_c[l] = if better { source } else { bs_c[l] };
            }
        }
        for l in 0..LANES {
            lane_min[l] = if bd_c[l] < lane_min[l] {
                bd_c[l]
            } else {
                lane_min[l]
            };
        }
    }
    for v in full..n {
        relax_exact(row[v], u, v, &mut best_d[v], &mut best_src[v]);
        let l = v - full;
        lane_min[l] = if best_d[v] < lane_min[l] {
            best_d[v]
        } else {
            lane_min[l]
        };
    }
    let min_d = lane_min
        .into_iter()
        .fold(T::INFINITY, |m, d| if d < m { d } else { m });
    argmin_given_min(best_d, best_src, min_d)
}

/// The vertex with the smallest key, given the smallest length `min_d` among the keys.
#[inline(always)]
fn argmin_given_min<T: Real>(best_d: &[T], best_src: &[u32], min_d: T) -> usize {
    // A sole holder of the smallest length holds the smallest key. An infinite minimum
    // (overflow, or vertices without a source) goes to the exact pass, which knows
    // NO_SOURCE.
    if min_d < T::INFINITY {
        if let Some(v) = sole_position(best_d, min_d) {
            return v;
        }
    }
    let (mut min_v, mut min_d, mut min_pair) = (usize::MAX, T::INFINITY, u64::MAX);
    for (v, (&d, &src)) in best_d.iter().zip(best_src).enumerate() {
        let pair = key_pair(src, v);
        if key_less(d, pair, min_d, min_pair) {
            (min_v, min_d, min_pair) = (v, d, pair);
        }
    }
    min_v
}

/// [`relax_row_and_argmin`] for f32 on AVX2, written with intrinsics: LLVM compiled the
/// generic chunk loop for AVX2 into scalar compares and branches (0.9 ns per entry on
/// Zen 3 at n = 1024; this pass: 0.35-0.65 ns, and at n = 4096 it waits on memory).
///
/// # Safety
/// The CPU must support AVX2; the slices must have the same length.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn relax_avx2_f32(row: &[f32], u: usize, best_d: &mut [f32], best_src: &mut [u32]) -> usize {
    use std::arch::x86_64::*;
    const W: usize = 8;
    let n = row.len();
    assert!(best_d.len() == n && best_src.len() == n);
    let full = n / (2 * W) * (2 * W);
    let (row_p, bd_p, bs_p) = (row.as_ptr(), best_d.as_mut_ptr(), best_src.as_mut_ptr());
    let source = _mm256_set1_epi32(u as i32);
    let (mut min0, mut min1) = (_mm256_set1_ps(f32::INFINITY), _mm256_set1_ps(f32::INFINITY));
    let mut v0 = 0;
    while v0 < full {
        // SAFETY: v0 + 2W <= full <= n for all three slices.
        unsafe {
            let (r0, r1) = (
                _mm256_loadu_ps(row_p.add(v0)),
                _mm256_loadu_ps(row_p.add(v0 + W)),
            );
            let (d0, d1) = (
                _mm256_loadu_ps(bd_p.add(v0)),
                _mm256_loadu_ps(bd_p.add(v0 + W)),
            );
            let tied = _mm256_or_ps(
                _mm256_cmp_ps::<_CMP_EQ_OQ>(r0, d0),
                _mm256_cmp_ps::<_CMP_EQ_OQ>(r1, d1),
            );
            if _mm256_movemask_ps(tied) != 0 {
                // Through the raw pointers, as the vector loads and stores: a `&mut
                // best_d[v]` made from the slice would be a write the pointers derived
                // from it do not know of, and their later loads undefined behaviour
                // (found by Miri: .ci/miri.sh).
                for v in v0..v0 + 2 * W {
                    relax_exact(*row_p.add(v), u, v, &mut *bd_p.add(v), &mut *bs_p.add(v));
                }
            } else {
                // Ordered compares: NaN keys (tree vertices) are never replaced.
                let (lt0, lt1) = (
                    _mm256_cmp_ps::<_CMP_LT_OQ>(r0, d0),
                    _mm256_cmp_ps::<_CMP_LT_OQ>(r1, d1),
                );
                _mm256_storeu_ps(bd_p.add(v0), _mm256_blendv_ps(d0, r0, lt0));
                _mm256_storeu_ps(bd_p.add(v0 + W), _mm256_blendv_ps(d1, r1, lt1));
                let s0 = _mm256_loadu_si256(bs_p.add(v0) as *const __m256i);
                let s1 = _mm256_loadu_si256(bs_p.add(v0 + W) as *const __m256i);
                let s0 = _mm256_blendv_epi8(s0, source, _mm256_castps_si256(lt0));
                let s1 = _mm256_blendv_epi8(s1, source, _mm256_castps_si256(lt1));
                _mm256_storeu_si256(bs_p.add(v0) as *mut __m256i, s0);
                _mm256_storeu_si256(bs_p.add(v0 + W) as *mut __m256i, s1);
            }
            // min_ps returns its second operand when either is NaN: tree vertices drop out.
            min0 = _mm256_min_ps(_mm256_loadu_ps(bd_p.add(v0)), min0);
            min1 = _mm256_min_ps(_mm256_loadu_ps(bd_p.add(v0 + W)), min1);
        }
        v0 += 2 * W;
    }
    let mut lanes = [0f32; W];
    // SAFETY: `lanes` holds W floats.
    unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), _mm256_min_ps(min0, min1)) };
    let mut min_d = lanes.into_iter().fold(f32::INFINITY, f32::min);
    for v in full..n {
        relax_exact(row[v], u, v, &mut best_d[v], &mut best_src[v]);
        if best_d[v] < min_d {
            min_d = best_d[v];
        }
    }
    argmin_given_min(best_d, best_src, min_d)
}

type RelaxFn<T> = fn(&[T], usize, &mut [T], &mut [u32]) -> usize;

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vl,avx512bw,avx512dq")]
fn relax_avx512<T: Real>(row: &[T], u: usize, bd: &mut [T], bs: &mut [u32]) -> usize {
    relax_row_and_argmin(row, u, bd, bs)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn relax_avx2<T: Real>(row: &[T], u: usize, bd: &mut [T], bs: &mut [u32]) -> usize {
    relax_row_and_argmin(row, u, bd, bs)
}

fn relax_portable<T: Real>(row: &[T], u: usize, bd: &mut [T], bs: &mut [u32]) -> usize {
    relax_row_and_argmin(row, u, bd, bs)
}

/// Picks the relax pass for this CPU: the hand-written AVX2 pass for f32, else the widest
/// build of the generic one (all give the same tree, so the choice only sets the speed).
fn select_relax<T: Real>() -> RelaxFn<T> {
    #[cfg(target_arch = "x86_64")]
    {
        // f32 with AVX2 (AVX-512 machines included): the hand-written 8-lane pass.
        if std::any::TypeId::of::<T>() == std::any::TypeId::of::<f32>()
            && std::arch::is_x86_feature_detected!("avx2")
        {
            return |row, u, bd, bs| {
                // SAFETY: T is f32 (checked above), so the casts only rename the type,
                // and AVX2 was detected at run time.
                unsafe {
                    let row = &*(row as *const [T] as *const [f32]);
                    let bd = &mut *(bd as *mut [T] as *mut [f32]);
                    relax_avx2_f32(row, u, bd, bs)
                }
            };
        }
        if std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512vl")
            && std::arch::is_x86_feature_detected!("avx512bw")
            && std::arch::is_x86_feature_detected!("avx512dq")
        {
            // SAFETY: the features were detected at run time.
            return |row, u, bd, bs| unsafe { relax_avx512(row, u, bd, bs) };
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            // SAFETY: the features were detected at run time.
            return |row, u, bd, bs| unsafe { relax_avx2(row, u, bd, bs) };
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
/// If `d2.len() != n * n`, `n >= 2^32`, or `d2` leaves a vertex with no finite entry to
/// the tree (see [`try_prim_mst`]).
pub fn prim_mst<T: Real>(d2: &[T], n: usize) -> Vec<(u32, u32)> {
    try_prim_mst(d2, n).expect("prim_mst: d2 contains NaN or Inf")
}

/// [`prim_mst`], or `None` where no tree is found: at some step, every entry from the tree
/// to the vertices left is NaN or +Inf (NaN input rows, or squared distances that
/// overflow).
///
/// # Panics
/// If `d2.len() != n * n` or `n >= 2^32`.
pub fn try_prim_mst<T: Real>(d2: &[T], n: usize) -> Option<Vec<(u32, u32)>> {
    assert_eq!(d2.len(), n * n, "d2 must hold n * n elements");
    // Vertex ids are u32 and u32::MAX is the NO_SOURCE sentinel.
    assert!((n as u64) < 1u64 << 32, "vertex ids must fit in u32");
    prim_with_relax(d2, n, select_relax::<T>())
}

/// Prim's loop with a given build of the relax pass.
fn prim_with_relax<T: Real>(d2: &[T], n: usize, relax: RelaxFn<T>) -> Option<Vec<(u32, u32)>> {
    if n < 2 {
        return Some(Vec::new());
    }
    let mut best_d = vec![T::INFINITY; n];
    let mut best_src = vec![NO_SOURCE; n];
    let mut edges = Vec::with_capacity(n - 1);
    let mut newest = 0usize;
    best_d[0] = T::NAN;
    for _ in 1..n {
        let row = &d2[newest * n..(newest + 1) * n];
        let added = relax(row, newest, &mut best_d, &mut best_src);
        if added == usize::MAX {
            return None;
        }
        let pair = packed_pair(best_src[added] as usize, added);
        edges.push(((pair >> 32) as u32, pair as u32));
        best_d[added] = T::NAN;
        newest = added;
    }
    Some(edges)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A symmetric matrix with entries `k / levels`, k uniform in `0..levels` (few levels:
    /// ties everywhere; many: a tie here and there, also between lanes of one row).
    fn tied_matrix<T: Real>(n: usize, levels: u64, seed: u64) -> Vec<T> {
        let mut d2 = vec![T::ZERO; n * n];
        let mut state = seed;
        for i in 0..n {
            for j in 0..i {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let v = T::from_f64(((state >> 33) % levels) as f64 / levels as f64);
                d2[i * n + j] = v;
                d2[j * n + i] = v;
            }
        }
        d2
    }

    fn check_against_kruskal<T: Real>(d2: &[T], n: usize) {
        let expected = prim_mst(d2, n);
        assert_eq!(expected.len(), n.saturating_sub(1));
        assert_eq!(
            prim_with_relax(d2, n, relax_portable::<T>).as_ref(),
            Some(&expected)
        );
        assert_eq!(
            prim_with_relax(d2, n, select_relax::<T>()).as_ref(),
            Some(&expected)
        );
        let kruskal: std::collections::BTreeSet<_> =
            crate::kruskal_on_matrix(d2, n).into_iter().collect();
        assert_eq!(kruskal, expected.iter().copied().collect(), "n = {n}");
    }

    #[test]
    fn every_relax_build_gives_the_same_tree() {
        // n around and off multiples of LANES; from all-ties to rare ties.
        for n in [2usize, 15, 16, 17, 61, 100, 257] {
            for (s, levels) in [1u64, 2, 5, 40, 1000, 1 << 20].into_iter().enumerate() {
                let seed = 12345 + n as u64 * 7 + s as u64;
                check_against_kruskal(&tied_matrix::<f32>(n, levels, seed), n);
                check_against_kruskal(&tied_matrix::<f64>(n, levels, seed), n);
            }
        }
    }

    #[test]
    fn equal_minima_in_different_lanes_pick_the_lowest_pair() {
        // After (0, 7), vertices 10 and 30 both have keys of length 1, in different lanes
        // and with no tie inside any chunk: (7, 10) is met first in the scan, (0, 30) is
        // the lower pair and must win.
        let n = 40;
        let mut d2 = vec![0.0f32; n * n];
        for i in 0..n {
            for j in 0..n {
                if i != j {
                    d2[i * n + j] = 10.0 + (i + j) as f32 + (i * j) as f32 * 1e-3;
                }
            }
        }
        for (a, b, len) in [(0, 7, 0.5), (0, 30, 1.0), (7, 10, 1.0)] {
            d2[a * n + b] = len;
            d2[b * n + a] = len;
        }
        let tree = prim_mst(&d2, n);
        assert_eq!(tree[..3], [(0, 7), (0, 30), (7, 10)]);
        check_against_kruskal(&d2, n);
    }
}
