//! Collapse and uniformity metrics of a batch of embeddings: no gradient, host f64, cheap
//! enough to log every step (one SVD of the batch, one tree, one Gram matrix).
//!
//! Every function takes the rows of an n×d matrix, row-major, `data.len() == n·d`:
//!
//! | metric | definition | reference |
//! |---|---|---|
//! | [`effective_rank`] | exp(−Σ_k p_k log p_k), p_k = σ_k/‖σ‖₁ + 1e-7, σ the singular values of z | RankMe, Garrido et al., ICML 2023 |
//! | [`uniformity`] | log mean_{i<j} exp(−t‖ẑ_i − ẑ_j‖²), ẑ normalized rows | Wang & Isola, ICML 2020 |
//! | [`alignment`] | mean_i ‖ẑ_i − ẑ2_i‖^α | Wang & Isola, ICML 2020 |
//! | [`mst_length`] | Σ_{(u,v) ∈ MST(z)} ‖z_u − z_v‖ | T-REGS, arXiv 2510.23484 |
//! | [`mst_dimension`] | 1/(1 − a), a the slope of log L_MST(m) against log m over subsamples | Steele, Ann. Probab. 1988 |
//! | [`cosine_stats`] | mean and standard deviation of ẑ_i·ẑ_j over i<j | |
//! | [`modality_gap`] | ‖mean_i â_i − mean_i b̂_i‖ | Liang et al., NeurIPS 2022 |
//!
//! Steele's theorem: the MST of m i.i.d. points with a density on a d-dimensional set has
//! length ≈ C·m^{(d−1)/d}, so the growth exponent a gives the dimension the points actually
//! fill: a collapsed cloud (points on a line) reads ≈ 1, a uniform cloud on S^{k−1} ≈ k − 1.

use serde::Serialize;
use tregs_kernels::try_minimum_spanning_tree;

/// The metrics of one batch, as `tregs eval --metrics` prints them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BatchMetrics {
    pub effective_rank: f64,
    pub uniformity: f64,
    pub mst_length: f64,
    pub mst_dimension: f64,
    pub cosine_mean: f64,
    pub cosine_std: f64,
}

impl BatchMetrics {
    /// Every single-batch metric of the rows of `data` (n×d, n ≥ 2).
    pub fn of(data: &[f64], n: usize, d: usize) -> BatchMetrics {
        let (cosine_mean, cosine_std) = cosine_stats(data, n, d);
        BatchMetrics {
            effective_rank: effective_rank(data, n, d),
            uniformity: uniformity(data, n, d, 2.0),
            mst_length: mst_length(data, n, d),
            mst_dimension: mst_dimension(data, n, d),
            cosine_mean,
            cosine_std,
        }
    }
}

fn rows(data: &[f64], n: usize, d: usize) -> impl Iterator<Item = &[f64]> {
    assert_eq!(data.len(), n * d, "data must hold n·d values");
    data.chunks_exact(d.max(1))
}

fn normalized(data: &[f64], n: usize, d: usize) -> Vec<f64> {
    rows(data, n, d)
        .flat_map(|r| {
            let norm = r.iter().map(|v| v * v).sum::<f64>().sqrt().max(1e-12);
            r.iter().map(move |v| v / norm)
        })
        .collect()
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// RankMe: the exponential of the entropy of the normalized singular values (between 1 for
/// a rank-one batch and min(n, d) for a perfectly spread one).
pub fn effective_rank(data: &[f64], n: usize, d: usize) -> f64 {
    assert_eq!(data.len(), n * d, "data must hold n·d values");
    let singular = nalgebra::DMatrix::from_row_slice(n, d, data).singular_values();
    let total: f64 = singular.iter().sum();
    if total <= 0.0 {
        return 1.0;
    }
    let entropy: f64 = singular
        .iter()
        .map(|s| {
            let p = s / total + 1e-7;
            -p * p.ln()
        })
        .sum();
    entropy.exp()
}

/// Wang–Isola uniformity with scale t (lower is more uniform); n ≥ 2.
pub fn uniformity(data: &[f64], n: usize, d: usize, t: f64) -> f64 {
    let u = normalized(data, n, d);
    let mut terms = Vec::with_capacity(n * (n - 1) / 2);
    for i in 0..n {
        for j in i + 1..n {
            let sq: f64 = u[i * d..(i + 1) * d]
                .iter()
                .zip(&u[j * d..(j + 1) * d])
                .map(|(a, b)| (a - b) * (a - b))
                .sum();
            terms.push(-t * sq);
        }
    }
    let max = terms.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    max + (terms.iter().map(|x| (x - max).exp()).sum::<f64>() / terms.len() as f64).ln()
}

/// Wang–Isola alignment of paired rows with exponent α (lower is better aligned).
pub fn alignment(a: &[f64], b: &[f64], n: usize, d: usize, alpha: f64) -> f64 {
    let (ua, ub) = (normalized(a, n, d), normalized(b, n, d));
    (0..n)
        .map(|i| {
            let sq: f64 = ua[i * d..(i + 1) * d]
                .iter()
                .zip(&ub[i * d..(i + 1) * d])
                .map(|(x, y)| (x - y) * (x - y))
                .sum();
            sq.sqrt().powf(alpha)
        })
        .sum::<f64>()
        / n as f64
}

/// Total length of the Euclidean minimum spanning tree (n ≥ 2); NaN where no tree exists
/// (a row holds NaN or Inf, or the squared distances overflow f64).
pub fn mst_length(data: &[f64], n: usize, d: usize) -> f64 {
    try_minimum_spanning_tree(data, n, d).map_or(f64::NAN, |tree| tree.total_length())
}

/// The intrinsic dimension implied by the MST's growth: L(m) is averaged over 4 fixed
/// subsamples at each of m = n/8, n/4, n/2 (at least 8 points) and n, and a least-squares
/// line through (log m, log L) gives the slope a ≈ (k−1)/k, so k = 1/(1 − a). Needs n ≥ 16;
/// returns NaN below, and where no tree exists (NaN or Inf rows). A subsample size whose
/// trees have length 0 (its rows coincide) has no logarithm and is left out of the fit;
/// with fewer than two sizes left the batch is one point, up to a few rows: 0.
/// Deterministic (fixed-seed subsamples).
pub fn mst_dimension(data: &[f64], n: usize, d: usize) -> f64 {
    if n < 16 {
        return f64::NAN;
    }
    let mut state = 0x5eed_u64;
    let mut next = move |bound: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % bound as u64) as usize
    };
    let mut points = Vec::new();
    for m in [n / 8, n / 4, n / 2, n].into_iter().filter(|&m| m >= 8) {
        let draws = if m == n { 1 } else { 4 };
        let mut total = 0.0;
        for _ in 0..draws {
            // A partial Fisher–Yates shuffle picks m distinct rows.
            let mut order: Vec<usize> = (0..n).collect();
            for i in 0..m {
                let j = i + next(n - i);
                order.swap(i, j);
            }
            let sample: Vec<f64> = order[..m]
                .iter()
                .flat_map(|&r| data[r * d..(r + 1) * d].iter().copied())
                .collect();
            total += mst_length(&sample, m, d);
        }
        points.push((m as f64, total / draws as f64));
    }
    if points.iter().any(|p| p.1.is_nan()) {
        return f64::NAN;
    }
    let points: Vec<(f64, f64)> = points
        .into_iter()
        .filter(|p| p.1 > 0.0)
        .map(|(m, length)| (m.ln(), length.ln()))
        .collect();
    if points.len() < 2 {
        return 0.0;
    }
    let k = points.len() as f64;
    let (mx, my) = (
        points.iter().map(|p| p.0).sum::<f64>() / k,
        points.iter().map(|p| p.1).sum::<f64>() / k,
    );
    let slope = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum::<f64>()
        / points.iter().map(|p| (p.0 - mx).powi(2)).sum::<f64>();
    1.0 / (1.0 - slope).max(1e-9)
}

/// Mean and standard deviation of the pairwise cosine similarities over i<j (n ≥ 2).
pub fn cosine_stats(data: &[f64], n: usize, d: usize) -> (f64, f64) {
    let u = normalized(data, n, d);
    let mut values = Vec::with_capacity(n * (n - 1) / 2);
    for i in 0..n {
        for j in i + 1..n {
            values.push(dot(&u[i * d..(i + 1) * d], &u[j * d..(j + 1) * d]));
        }
    }
    let mean = values.iter().sum::<f64>() / values.len() as f64;
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / values.len() as f64;
    (mean, var.sqrt())
}

/// CLIP's modality gap: the distance between the centroids of the two modalities'
/// normalized embeddings (a: n_a×d, b: n_b×d).
pub fn modality_gap(a: &[f64], n_a: usize, b: &[f64], n_b: usize, d: usize) -> f64 {
    let centroid = |x: &[f64], n: usize| -> Vec<f64> {
        let u = normalized(x, n, d);
        (0..d)
            .map(|k| (0..n).map(|i| u[i * d + k]).sum::<f64>() / n as f64)
            .collect()
    };
    let (ca, cb) = (centroid(a, n_a), centroid(b, n_b));
    ca.iter()
        .zip(&cb)
        .map(|(x, y)| (x - y) * (x - y))
        .sum::<f64>()
        .sqrt()
}
