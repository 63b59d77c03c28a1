//! Brute-force Kruskal reference (tests only: O(n^2 d + n^2 log n) time, O(n^2) memory).

/// MST of the rows of `x` (n x d, f64) by Kruskal: every pair's `d2` is computed directly
/// as `sum_k (x_u[k] - x_v[k])^2` in f64, all `n (n - 1) / 2` edges are sorted by the same
/// strict total order as [`crate::prim_mst`], `(d2, min(u, v), max(u, v))`, and accepted
/// greedily with a union-find. Returns edges `(u, v)`, `u < v`, in acceptance order.
///
/// # Panics
/// If `x.len() != n * d`, or `d2` is NaN for some pair.
pub fn kruskal_reference_f64(x: &[f64], n: usize, d: usize) -> Vec<(u32, u32)> {
    assert_eq!(x.len(), n * d, "x must hold n * d elements");
    let mut weighted: Vec<(f64, u32, u32)> = Vec::with_capacity(n * n.saturating_sub(1) / 2);
    for u in 0..n {
        for v in u + 1..n {
            let d2: f64 = (0..d)
                .map(|k| {
                    let diff = x[u * d + k] - x[v * d + k];
                    diff * diff
                })
                .sum();
            assert!(!d2.is_nan(), "kruskal_reference_f64: NaN distance");
            weighted.push((d2, u as u32, v as u32));
        }
    }
    kruskal_on_weighted_edges(n, weighted)
}

/// The root of `v` in the union-find forest `parent` (path halving on the way up).
pub(crate) fn root(parent: &mut [u32], mut v: u32) -> u32 {
    while parent[v as usize] != v {
        let grand = parent[parent[v as usize] as usize];
        parent[v as usize] = grand;
        v = grand;
    }
    v
}

/// Kruskal on explicit `(d2, u, v)` edges with `u < v`, ordered by `(d2, u, v)`.
pub(crate) fn kruskal_on_weighted_edges(
    n: usize,
    mut weighted: Vec<(f64, u32, u32)>,
) -> Vec<(u32, u32)> {
    weighted.sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
    let mut parent: Vec<u32> = (0..n as u32).collect();
    let mut edges = Vec::with_capacity(n.saturating_sub(1));
    for (_, u, v) in weighted {
        let (ru, rv) = (root(&mut parent, u), root(&mut parent, v));
        if ru != rv {
            parent[ru.max(rv) as usize] = ru.min(rv);
            edges.push((u, v));
            if edges.len() + 1 == n {
                break;
            }
        }
    }
    edges
}

/// Kruskal on a given dense `d2` matrix (n x n), with the total order of
/// [`crate::prim_mst`]. Reference for checking Prim on arbitrary (tied) matrices.
pub fn kruskal_on_matrix<T: super::Real>(d2: &[T], n: usize) -> Vec<(u32, u32)> {
    assert_eq!(d2.len(), n * n, "d2 must hold n * n elements");
    let mut weighted = Vec::with_capacity(n * n.saturating_sub(1) / 2);
    for u in 0..n {
        for v in u + 1..n {
            weighted.push((d2[u * n + v].to_f64(), u as u32, v as u32));
        }
    }
    kruskal_on_weighted_edges(n, weighted)
}
