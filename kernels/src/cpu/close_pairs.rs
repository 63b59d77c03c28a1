//! Exact squared distances for the close pairs that the Gram trick cannot order.
//!
//! `d²_ij = N_i + N_j − 2 G_ij` (rows shifted by `c`: `y = x − c`, `N = ‖y‖²`,
//! `G = ⟨y_i, y_j⟩`) has an absolute error of order `ε (N_i + N_j)`. Next to far pairs
//! that is nothing; for points much closer to each other than to `c` (clusters on the unit
//! sphere, where the sphere term puts T-REGS's embeddings; a collapsed batch) it is as
//! large as the distance itself, and Prim orders those edges at random: in f32, four
//! points 1e-4 apart on the unit sphere got a tree 0.3% too long and gradients off by
//! their own size. So, after Prim on the Gram matrix:
//!
//! 1. a tree edge with `d² < θ = TRUST · ε · 2 max_i N_i` is *close*. The close edges form
//!    a forest whose components hold every close pair of the whole matrix: by the cycle
//!    property the tree joins such a pair by edges no longer than it, all close. Every pair
//!    across components has `d² ≥ θ`, where the relative error is at most about
//!    `GRAM_ERROR / TRUST` (measured below).
//! 2. Within each component the squared distances are recomputed in f64: directly from the
//!    coordinates for small components, by an f64 Gram product with the component's own
//!    column mean as the shift for large ones (a collapsed batch), so that the points'
//!    spread, not their distance to `c`, sets the error. They overwrite the matrix entries
//!    and Prim runs again on it.
//!
//! On spread-out clouds no tree edge is close and this costs one pass over the rows. It
//! is deterministic (components, their order and every sum are fixed by the input).

use rayon::prelude::*;
use std::ops::Range;

use super::kruskal::root;
use super::{rows, try_prim_mst, Real};

/// How far above the Gram trick's error bound `ε (N_i + N_j)` an entry must be to be
/// trusted as it is: entries above `θ` are off by at most `GRAM_ERROR / TRUST` relative
/// (16/4096: 0.4% in d², 0.2% in the distance, at `θ`, and less the longer the edge), so
/// only near-ties of edges longer than `sqrt(θ)` (3% of the cloud's radius about `c`) can
/// still be broken the wrong way; entries below `θ` are recomputed. A larger `TRUST`
/// recomputes more pairs: low-dimensional clouds of thousands of points would then
/// recompute most of their matrix.
const TRUST: f64 = 4096.0;

/// The Gram trick's largest error measured on this crate's kernels, in units of
/// `ε (N_i + N_j)`, rounded up (test `gram_error_is_a_few_units_of_its_bound` sees about
/// 10 with d up to 2048).
#[cfg(test)]
const GRAM_ERROR: f64 = 16.0;

/// Components up to this many points get their distances directly from the coordinates
/// (`m²d/2` f64 operations); larger ones by an f64 Gram product on their rows.
const DIRECT_MAX_POINTS: usize = 64;

/// Components up to this many points get their f64 matrix whole (32 MiB at most);
/// larger ones in blocks of [`GRAM_BLOCK_ROWS`] rows.
const WHOLE_MATRIX_MAX_POINTS: usize = 2048;

/// Rows of a large component's f64 distance block computed at a time (bounds its memory).
const GRAM_BLOCK_ROWS: usize = 256;

/// The tree of the n × n matrix `d2` of Gram-trick squared distances between the rows of
/// `x` (n × d), with the close pairs' entries made exact first where the tree found on
/// `d2` as it is has close edges (see the module). `edges` is Prim's tree on `d2`; `None`
/// where Prim finds no tree on the patched matrix (it found one before, so: never).
pub(crate) fn exact_close_pairs<T: Real>(
    x: &[T],
    n: usize,
    d: usize,
    d2: &mut [T],
    edges: Vec<(u32, u32)>,
) -> Option<Vec<(u32, u32)>> {
    let theta = close_threshold::<T>(x, n, d);
    let close: Vec<(u32, u32)> = edges
        .iter()
        .copied()
        .filter(|&(u, v)| d2[u as usize * n + v as usize].to_f64() < theta)
        .collect();
    if close.is_empty() {
        return Some(edges);
    }
    patch_close_pairs(x, n, d, d2, 0..n, &close_pair_components(n, &close));
    try_prim_mst(d2, n)
}

/// `θ = TRUST · ε_T · 2 max_i ‖x_i − c‖²`, `c` the Gram kernel's own shift: a tree edge of
/// the Gram-trick matrix with `d² < θ` is close, and its component's pairs are recomputed
/// ([`patch_close_pairs`]). The same bits for the same `x`, whatever the thread count.
pub fn close_threshold<T: Real>(x: &[T], n: usize, d: usize) -> f64 {
    let shift = super::gram::centering_shift(x, n, d);
    let largest = x
        .par_chunks_exact(d.max(1))
        .map(|row| rows::sq_distance(row, &shift))
        .reduce(|| 0.0, f64::max);
    TRUST * T::EPSILON.to_f64() * 2.0 * largest
}

/// The connected components of the forest of close tree edges `close` on `0..n` (its
/// points with an edge), each sorted, in the order of their smallest point: the point sets
/// within which [`patch_close_pairs`] recomputes every pair.
pub fn close_pair_components(n: usize, close: &[(u32, u32)]) -> Vec<Vec<u32>> {
    let mut parent: Vec<u32> = (0..n as u32).collect();
    for &(u, v) in close {
        let (a, b) = (root(&mut parent, u), root(&mut parent, v));
        parent[a.max(b) as usize] = a.min(b);
    }
    let mut index_of_root = vec![usize::MAX; n];
    let mut members: Vec<Vec<u32>> = Vec::new();
    let touched: std::collections::BTreeSet<u32> =
        close.iter().flat_map(|&(u, v)| [u, v]).collect();
    for v in touched {
        let r = root(&mut parent, v) as usize;
        if index_of_root[r] == usize::MAX {
            index_of_root[r] = members.len();
            members.push(Vec::new());
        }
        members[index_of_root[r]].push(v);
    }
    members
}

/// Overwrites, in `block` (rows `rows` of the n × n Gram-trick matrix of `x`, n × d), the
/// squared distance of every pair within each of the `components` by one computed in f64
/// (see the module): small components directly from the coordinates, large ones by an
/// f64 Gram product on their own rows. Every entry gets the same bits whichever rows the
/// block holds, so processes that each patch their rows of the matrix
/// (`mst_len(z, scope = sharded)`) patch it as one process patches the whole.
///
/// # Panics
/// If `block` does not hold `rows.len() × n` entries.
pub fn patch_close_pairs<T: Real>(
    x: &[T],
    n: usize,
    d: usize,
    block: &mut [T],
    rows: Range<usize>,
    components: &[Vec<u32>],
) {
    assert_eq!(
        block.len(),
        rows.len() * n,
        "block must hold rows × n entries"
    );
    let (small, large): (Vec<&[u32]>, Vec<&[u32]>) = components
        .iter()
        .map(Vec::as_slice)
        .partition(|members| members.len() <= DIRECT_MAX_POINTS);
    patch_directly(x, n, d, block, &rows, &small);
    for members in large {
        patch_by_gram(x, n, d, block, &rows, members);
    }
}

/// Writes `‖x_a − x_b‖²` (differences and sum in f64, rounded once to `T`) for every pair
/// within each of the `components`, in one pass: the block's rows of their points in
/// parallel, each row by one task (`(a, b)` and `(b, a)` get the same bits: the lane sums
/// are symmetric).
fn patch_directly<T: Real>(
    x: &[T],
    n: usize,
    d: usize,
    block: &mut [T],
    rows: &Range<usize>,
    components: &[&[u32]],
) {
    let mut component_of = vec![u32::MAX; n];
    for (c, members) in components.iter().enumerate() {
        for &v in members.iter() {
            component_of[v as usize] = c as u32;
        }
    }
    let row = |i: usize| &x[i * d..(i + 1) * d];
    block
        .par_chunks_mut(n)
        .enumerate()
        .map(|(local, out)| (rows.start + local, out))
        .filter(|(a, _)| component_of[*a] != u32::MAX)
        .for_each(|(a, out)| {
            for &b in components[component_of[a] as usize] {
                out[b as usize] = if a == b as usize {
                    T::ZERO
                } else {
                    T::from_f64(rows::sq_distance(row(a), row(b as usize)))
                };
            }
        });
}

/// [`patch_directly`] for a large component: its rows gathered in f64 and their squared
/// distances computed by the f64 Gram kernel, whose shift is then their own column mean.
/// Only the members among the block's rows are computed (a row of the component's matrix
/// has the same bits whichever rows are computed with it: `pairwise_sq_distances_rows`).
fn patch_by_gram<T: Real>(
    x: &[T],
    n: usize,
    d: usize,
    block: &mut [T],
    rows: &Range<usize>,
    members: &[u32],
) {
    let m = members.len();
    // Members are sorted, so the block's own are one run of them.
    let first = members.partition_point(|&v| (v as usize) < rows.start);
    let last = members.partition_point(|&v| (v as usize) < rows.end);
    if first == last {
        return;
    }
    let gathered: Vec<f64> = members
        .iter()
        .flat_map(|&i| {
            x[i as usize * d..(i as usize + 1) * d]
                .iter()
                .map(|v| v.to_f64())
        })
        .collect();
    // The whole matrix takes one triangle of work; blocks of rows bound the memory of a
    // very large component.
    let rows_per_block = if m <= WHOLE_MATRIX_MAX_POINTS {
        m
    } else {
        GRAM_BLOCK_ROWS
    };
    for start in (first..last).step_by(rows_per_block) {
        let local_rows = start..(start + rows_per_block).min(last);
        let distances = if local_rows.len() == m {
            super::pairwise_sq_distances(&gathered, m, d)
        } else {
            super::pairwise_sq_distances_rows(&gathered, m, d, local_rows.clone())
        };
        let block_members = &members[local_rows.clone()];
        for_member_rows(n, block, rows.start, block_members, |a, out| {
            let local = block_members
                .binary_search(&a)
                .expect("a member of this block");
            for (k, &b) in members.iter().enumerate() {
                out[b as usize] = T::from_f64(distances[local * m + k]);
            }
        });
    }
}

/// Runs `write(a, row a)` for every `a` in `members` (sorted, all among the block's rows,
/// which start at row `first_row`), rows in parallel.
fn for_member_rows<T: Real>(
    n: usize,
    block: &mut [T],
    first_row: usize,
    members: &[u32],
    write: impl Fn(u32, &mut [T]) + Sync,
) {
    block
        .par_chunks_mut(n)
        .enumerate()
        .map(|(local, out)| ((first_row + local) as u32, out))
        .filter(|(a, _)| members.binary_search(a).is_ok())
        .for_each(|(a, out)| write(a, out));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clouds::{antipodal_clusters, great_circle_groups, to_f32};
    use crate::{kruskal_reference_f64, pairwise_sq_distances, prim_mst};

    fn exact_tree<T: Real>(x: &[T], n: usize, d: usize) -> Vec<(u32, u32)> {
        let x64: Vec<f64> = x.iter().map(|v| v.to_f64()).collect();
        let mut edges = kruskal_reference_f64(&x64, n, d);
        edges.sort_unstable();
        edges
    }

    fn sorted(mut edges: Vec<(u32, u32)>) -> Vec<(u32, u32)> {
        edges.sort_unstable();
        edges
    }

    #[test]
    fn clusters_on_the_sphere_get_the_exact_tree() {
        for gap in [1e-4, 3e-4, 1e-3] {
            let (n, d) = (128, 64);
            let x = to_f32(&great_circle_groups(n / 4, gap, d));
            let mut d2 = pairwise_sq_distances(&x, n, d);
            let edges = prim_mst(&d2, n);
            let refined = exact_close_pairs(&x, n, d, &mut d2, edges).unwrap();
            let expected: Vec<(u32, u32)> = (1..n as u32).map(|v| (v - 1, v)).collect();
            assert_eq!(exact_tree(&x, n, d), expected, "the reference at gap {gap}");
            assert_eq!(sorted(refined), expected, "gap {gap}");
        }
    }

    /// Without the repair the same matrix gives another tree: the test above checks the
    /// repair, not an input the Gram trick orders anyway.
    #[test]
    fn the_gram_matrix_alone_gets_those_clusters_wrong() {
        let (n, d) = (128, 64);
        let x = to_f32(&great_circle_groups(n / 4, 1e-4, d));
        let edges = prim_mst(&pairwise_sq_distances(&x, n, d), n);
        assert_ne!(sorted(edges), exact_tree(&x, n, d));
    }

    /// Two clusters of 100 (components past `DIRECT_MAX_POINTS`: the f64 Gram branch) and
    /// 50 clusters of 4 (the direct branch), in f32 and f64, each spread so that the Gram
    /// matrix alone gets the tree wrong (checked: the cases do exercise the repair).
    #[test]
    fn clustered_batches_get_the_exact_tree() {
        let (n, d) = (200, 96);
        for (name, groups, spread32, spread64) in [
            ("2 clusters", 2, 1e-4, 1e-9),
            ("50 clusters", 50, 1e-3, 1e-9),
        ] {
            let x32 = to_f32(&antipodal_clusters(n, d, groups, spread32, 7));
            let x64 = antipodal_clusters(n, d, groups, spread64, 7);
            fn check<T: Real>(x: &[T], n: usize, d: usize, what: &str) {
                let mut d2 = pairwise_sq_distances(x, n, d);
                let edges = prim_mst(&d2, n);
                let expected = exact_tree(x, n, d);
                assert_ne!(sorted(edges.clone()), expected, "{what}: no repair needed");
                let refined = exact_close_pairs(x, n, d, &mut d2, edges).unwrap();
                assert_eq!(sorted(refined), expected, "{what}");
            }
            check(&x32, n, d, &format!("{name}, f32"));
            check(&x64, n, d, &format!("{name}, f64"));
        }
    }

    /// The Gram trick's error in units of `ε (N_i + N_j)`, largest over a few clouds: what
    /// `TRUST` is measured against.
    #[test]
    fn gram_error_is_a_few_units_of_its_bound() {
        let mut worst = 0.0f64;
        for (d, seed) in [(3, 1), (128, 2), (2048, 3)] {
            let n = 48;
            let x = to_f32(&antipodal_clusters(n, d, 3, 0.3, seed));
            let d2 = pairwise_sq_distances(&x, n, d);
            let shift = crate::cpu::gram::centering_shift(&x, n, d);
            let norm = |i: usize| rows::sq_distance(&x[i * d..(i + 1) * d], &shift);
            for i in 0..n {
                for j in 0..n {
                    let exact = rows::sq_distance(&x[i * d..(i + 1) * d], &x[j * d..(j + 1) * d]);
                    let bound = f32::EPSILON as f64 * (norm(i) + norm(j));
                    worst = worst.max((d2[i * n + j] as f64 - exact).abs() / bound);
                }
            }
        }
        eprintln!("worst Gram error: {worst} units");
        assert!(worst <= GRAM_ERROR, "{worst} units of ε (N_i + N_j)");
    }

    #[test]
    fn components_are_the_forest_s_with_two_points_or_more() {
        let edges = [(5, 6), (1, 2), (6, 9), (2, 0)];
        assert_eq!(
            close_pair_components(10, &edges),
            vec![vec![0, 1, 2], vec![5, 6, 9]]
        );
        assert!(close_pair_components(4, &[]).is_empty());
    }

    /// Patching the matrix in row blocks (as the processes of a sharded tree do, each its
    /// rows) gives the bits of patching it whole: a direct component, one through the whole
    /// f64 matrix and one past `WHOLE_MATRIX_MAX_POINTS` (blocks of `GRAM_BLOCK_ROWS`).
    #[test]
    fn patching_row_blocks_gives_the_whole_matrix_bits() {
        let (n, d) = (2300, 5);
        let x = to_f32(&antipodal_clusters(n, d, 4, 0.2, 11));
        let components: Vec<Vec<u32>> = vec![
            (0..2100).collect(),
            (2100..2200).collect(),
            (2200..2230).step_by(3).collect(),
        ];
        assert!(components[0].len() > WHOLE_MATRIX_MAX_POINTS);
        assert!(components[1].len() > DIRECT_MAX_POINTS);
        let mut whole = pairwise_sq_distances(&x, n, d);
        let before = whole.clone();
        patch_close_pairs(&x, n, d, &mut whole, 0..n, &components);
        assert_ne!(whole, before, "the patch changes entries");
        let mut blocks = Vec::new();
        for rows in [0..700, 700..2150, 2150..2210, 2210..n] {
            let mut block = crate::pairwise_sq_distances_rows(&x, n, d, rows.clone());
            patch_close_pairs(&x, n, d, &mut block, rows, &components);
            blocks.extend(block);
        }
        let bits = |m: &[f32]| m.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        assert!(
            bits(&blocks) == bits(&whole),
            "row blocks differ from the whole"
        );
    }
}
