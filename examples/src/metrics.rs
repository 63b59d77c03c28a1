//! Geometry of a point cloud given as row-major `n × d` data: norms, pairwise cosine
//! similarities, and the Wang–Isola uniformity. Everything is computed in f64 on the host.

use serde::Serialize;

/// Euclidean norm of every row.
pub fn row_norms(x: &[f64], d: usize) -> Vec<f64> {
    x.chunks_exact(d)
        .map(|row| row.iter().map(|v| v * v).sum::<f64>().sqrt())
        .collect()
}

/// Divides every row by its norm (a zero row stays zero).
pub fn normalize_rows(x: &mut [f64], d: usize) {
    for row in x.chunks_exact_mut(d) {
        let norm = row.iter().map(|v| v * v).sum::<f64>().sqrt();
        if norm > 0.0 {
            row.iter_mut().for_each(|v| *v /= norm);
        }
    }
}

/// A copy of `x` with unit rows.
pub fn normalized(x: &[f64], d: usize) -> Vec<f64> {
    let mut u = x.to_vec();
    normalize_rows(&mut u, d);
    u
}

/// The cosine similarity of every pair i < j, in row-major pair order.
pub fn pairwise_cosines(x: &[f64], d: usize) -> Vec<f64> {
    let u = normalized(x, d);
    let rows: Vec<&[f64]> = u.chunks_exact(d).collect();
    let n = rows.len();
    let mut out = Vec::with_capacity(n * n.saturating_sub(1) / 2);
    for i in 0..n {
        for j in i + 1..n {
            out.push(dot(rows[i], rows[j]));
        }
    }
    out
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Mean, population standard deviation, min and max of a sample.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Summary {
    pub mean: f64,
    pub std: f64,
    pub min: f64,
    pub max: f64,
}

impl Summary {
    pub fn of(values: &[f64]) -> Self {
        assert!(!values.is_empty(), "summary of an empty sample");
        let n = values.len() as f64;
        let mean = values.iter().sum::<f64>() / n;
        let var = values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
        let (min, max) = values
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
                (lo.min(v), hi.max(v))
            });
        Self {
            mean,
            std: var.sqrt(),
            min,
            max,
        }
    }
}

/// Wang & Isola's uniformity (ICML 2020, "Understanding contrastive representation learning
/// through alignment and uniformity on the hypersphere"), with t = 2, of the *normalized* rows:
///
/// U(X) = log( mean_{i<j} exp(−2 ‖u_i − u_j‖²) ),  u_i = x_i / ‖x_i‖.
///
/// Lower is more uniform. Computed with a log-sum-exp, so it never underflows.
pub fn uniformity(x: &[f64], d: usize) -> f64 {
    let u = normalized(x, d);
    let rows: Vec<&[f64]> = u.chunks_exact(d).collect();
    let n = rows.len();
    assert!(n >= 2, "uniformity needs at least two points");
    let mut exponents = Vec::with_capacity(n * (n - 1) / 2);
    for i in 0..n {
        for j in i + 1..n {
            // ‖u_i − u_j‖² = 2 − 2 cos for unit rows; the direct sum avoids cancellation.
            let sq: f64 = rows[i]
                .iter()
                .zip(rows[j])
                .map(|(a, b)| (a - b) * (a - b))
                .sum();
            exponents.push(-2.0 * sq);
        }
    }
    let max = exponents.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let sum: f64 = exponents.iter().map(|e| (e - max).exp()).sum();
    max + (sum / exponents.len() as f64).ln()
}

/// The uniformity of the uniform distribution on the circle/sphere S^{d−1}, in the limit of
/// infinitely many points, for d = 2 and d = 3 (closed forms; `None` otherwise).
///
/// On S², the cosine c of two independent uniform points is uniform on [−1, 1], so
/// E exp(−2(2 − 2c)) = (1 − e^{−8}) / 8. On S¹, E exp(−4 + 4 cos θ) = e^{−4} I₀(4).
pub fn uniformity_of_uniform_sphere(d: usize) -> Option<f64> {
    match d {
        3 => Some(((1.0 - (-8.0f64).exp()) / 8.0).ln()),
        2 => {
            // I₀(4) by its power series Σ (x/2)^{2k} / (k!)², converged well before k = 40.
            let mut term = 1.0f64;
            let mut sum = 1.0f64;
            for k in 1..40 {
                term *= 4.0 / (k * k) as f64; // (x/2)² = 4
                sum += term;
            }
            Some(-4.0 + sum.ln())
        }
        _ => None,
    }
}

/// A histogram of `values` over `[lo, hi]` in `bins` equal bins; values outside the range (and
/// NaN) are not counted. `hi` itself falls in the last bin.
pub fn histogram(values: &[f64], lo: f64, hi: f64, bins: usize) -> Vec<usize> {
    let mut counts = vec![0usize; bins];
    let width = (hi - lo) / bins as f64;
    for &v in values {
        if (lo..=hi).contains(&v) {
            let b = (((v - lo) / width).floor() as usize).min(bins - 1);
            counts[b] += 1;
        }
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regular_simplex_has_equal_cosines() {
        // The standard basis of R^n, centred, is a regular simplex with n vertices.
        let n = 5;
        let mut x = vec![0.0; n * n];
        for i in 0..n {
            for j in 0..n {
                x[i * n + j] = if i == j { 1.0 } else { 0.0 } - 1.0 / n as f64;
            }
        }
        let s = Summary::of(&pairwise_cosines(&x, n));
        assert!((s.mean + 1.0 / (n - 1) as f64).abs() < 1e-12);
        assert!(s.std < 1e-12);
    }

    #[test]
    fn uniformity_of_two_antipodal_points() {
        let x = [1.0, 0.0, 0.0, -3.0, 0.0, 0.0];
        // ‖u − v‖² = 4 after normalization.
        assert!((uniformity(&x, 3) + 8.0).abs() < 1e-12);
    }

    #[test]
    fn closed_form_uniformity_on_the_circle() {
        // e^{-4} I₀(4) with I₀(4) = 11.301921952136330...
        let expected = (-4.0f64).exp() * 11.301_921_952_136_33;
        let got = uniformity_of_uniform_sphere(2).unwrap().exp();
        assert!((got - expected).abs() < 1e-12, "{got} vs {expected}");
    }

    #[test]
    fn histogram_counts_what_is_in_range() {
        let h = histogram(&[-1.0, -0.5, 0.0, 0.49, 0.5, 1.0, 2.0], -1.0, 1.0, 4);
        assert_eq!(h, [1, 1, 2, 2]);
    }
}
