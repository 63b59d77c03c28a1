//! Evaluation of frozen features: a linear probe (multinomial logistic regression), k-NN,
//! and the singular values of an embedding matrix. Plain f64, deterministic.

/// Top-1 accuracies of a probe.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProbeResult {
    pub train_accuracy: f64,
    pub test_accuracy: f64,
}

fn check(x: &[f64], y: &[u32], d: usize, what: &str) -> usize {
    assert!(d > 0, "{what}: feature width is 0");
    assert_eq!(
        x.len() % d,
        0,
        "{what}: {} values is not a multiple of d = {d}",
        x.len()
    );
    let n = x.len() / d;
    assert_eq!(
        n,
        y.len(),
        "{what}: {n} feature rows but {} labels",
        y.len()
    );
    n
}

/// Linear probe: softmax regression `p(c | x) = softmax(W x̃ + b)` on standardized features
/// x̃ (mean and standard deviation of the training split, floor 1e-8), minimizing the mean
/// cross-entropy + (l2/2)‖W‖² by full-batch gradient descent with Nesterov momentum
/// (step 1/L with L = ½·λ_max(X̃ᵀX̃/n) + l2 the gradient's Lipschitz bound, λ_max by power
/// iteration on the features with a bias column; momentum 0.9; `iterations` steps). Full-batch and fixed-order sums make it
/// deterministic; the objective is convex, so no tuning of the start is needed.
#[allow(clippy::too_many_arguments)]
pub fn linear_probe(
    train_x: &[f64],
    train_y: &[u32],
    test_x: &[f64],
    test_y: &[u32],
    d: usize,
    classes: usize,
    l2: f64,
    iterations: usize,
) -> ProbeResult {
    let n = check(train_x, train_y, d, "linear probe train split");
    let m = check(test_x, test_y, d, "linear probe test split");
    let mut mean = vec![0.0; d];
    for row in train_x.chunks_exact(d) {
        mean.iter_mut()
            .zip(row)
            .for_each(|(a, v)| *a += v / n as f64);
    }
    let mut std = vec![0.0; d];
    for row in train_x.chunks_exact(d) {
        std.iter_mut()
            .zip(row.iter().zip(&mean))
            .for_each(|(s, (v, mu))| *s += (v - mu).powi(2) / n as f64);
    }
    std.iter_mut().for_each(|s| *s = s.sqrt().max(1e-8));
    let standardize = |x: &[f64]| -> Vec<f64> {
        x.chunks_exact(d)
            .flat_map(|row| {
                row.iter()
                    .zip(mean.iter().zip(&std))
                    .map(|(v, (mu, s))| (v - mu) / s)
                    .collect::<Vec<_>>()
            })
            .collect()
    };
    let (xs, ts) = (standardize(train_x), standardize(test_x));
    let width = d + 1; // weights then bias, per class
    let logits = |w: &[f64], row: &[f64], out: &mut [f64]| {
        for (c, o) in out.iter_mut().enumerate() {
            let wc = &w[c * width..(c + 1) * width];
            *o = wc[d] + wc[..d].iter().zip(row).map(|(a, b)| a * b).sum::<f64>();
        }
    };
    let mut w = vec![0.0; classes * width];
    let mut velocity = vec![0.0; classes * width];
    let mut grad = vec![0.0; classes * width];
    let mut z = vec![0.0; classes];
    let step = 1.0 / (0.5 * largest_eigenvalue(&xs, n, d) + l2);
    let momentum = 0.9;
    for _ in 0..iterations {
        // Nesterov: the gradient at the look-ahead point.
        let ahead: Vec<f64> = w
            .iter()
            .zip(&velocity)
            .map(|(w, v)| w + momentum * v)
            .collect();
        grad.iter_mut().for_each(|g| *g = 0.0);
        for (row, &label) in xs.chunks_exact(d).zip(train_y) {
            logits(&ahead, row, &mut z);
            let max = z.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let sum: f64 = z.iter().map(|v| (v - max).exp()).sum();
            for c in 0..classes {
                let p = (z[c] - max).exp() / sum - if c as u32 == label { 1.0 } else { 0.0 };
                let g = &mut grad[c * width..(c + 1) * width];
                g[..d]
                    .iter_mut()
                    .zip(row)
                    .for_each(|(g, x)| *g += p * x / n as f64);
                g[d] += p / n as f64;
            }
        }
        for c in 0..classes {
            for k in 0..d {
                grad[c * width + k] += l2 * ahead[c * width + k];
            }
        }
        for ((w, v), g) in w.iter_mut().zip(velocity.iter_mut()).zip(&grad) {
            *v = momentum * *v - step * g;
            *w += *v;
        }
    }
    let accuracy = |x: &[f64], y: &[u32]| -> f64 {
        let mut z = vec![0.0; classes];
        let correct = x
            .chunks_exact(d)
            .zip(y)
            .filter(|(row, &label)| {
                logits(&w, row, &mut z);
                argmax(&z) == label as usize
            })
            .count();
        correct as f64 / y.len().max(1) as f64
    };
    let _ = m;
    ProbeResult {
        train_accuracy: accuracy(&xs, train_y),
        test_accuracy: accuracy(&ts, test_y),
    }
}

/// λ_max of (1/n)·[X 1]ᵀ[X 1] by power iteration (60 steps from the all-ones vector, a
/// slight over-estimate does no harm: it only shortens the step).
fn largest_eigenvalue(x: &[f64], n: usize, d: usize) -> f64 {
    let mut v = vec![1.0; d + 1];
    let mut lambda = 1.0;
    for _ in 0..60 {
        let norm = v.iter().map(|a| a * a).sum::<f64>().sqrt().max(1e-300);
        v.iter_mut().for_each(|a| *a /= norm);
        let mut next = vec![0.0; d + 1];
        for row in x.chunks_exact(d) {
            let dot = v[d] + row.iter().zip(&v).map(|(a, b)| a * b).sum::<f64>();
            next[..d]
                .iter_mut()
                .zip(row)
                .for_each(|(o, a)| *o += dot * a / n as f64);
            next[d] += dot / n as f64;
        }
        lambda = next.iter().map(|a| a * a).sum::<f64>().sqrt();
        v = next;
    }
    1.05 * lambda.max(1e-12)
}

/// The first index of the largest value.
fn argmax(v: &[f64]) -> usize {
    let mut best = 0;
    for (i, &x) in v.iter().enumerate() {
        if x > v[best] {
            best = i;
        }
    }
    best
}

fn unit_rows(x: &[f64], d: usize) -> Vec<f64> {
    x.chunks_exact(d)
        .flat_map(|row| {
            let norm = row.iter().map(|v| v * v).sum::<f64>().sqrt().max(1e-12);
            row.iter().map(move |v| v / norm)
        })
        .collect()
}

/// k-NN top-1: cosine similarity on L2-normalized features; the k most similar training
/// points vote with their similarity as weight (ties of the vote go to the lowest class id).
pub fn knn_accuracy(
    train_x: &[f64],
    train_y: &[u32],
    test_x: &[f64],
    test_y: &[u32],
    d: usize,
    classes: usize,
    k: usize,
) -> f64 {
    check(train_x, train_y, d, "k-NN train split");
    check(test_x, test_y, d, "k-NN test split");
    let (tr, te) = (unit_rows(train_x, d), unit_rows(test_x, d));
    let k = k.min(train_y.len()).max(1);
    let mut correct = 0;
    for (row, &label) in te.chunks_exact(d).zip(test_y) {
        let mut sims: Vec<(f64, usize)> = tr
            .chunks_exact(d)
            .enumerate()
            .map(|(j, t)| (row.iter().zip(t).map(|(a, b)| a * b).sum::<f64>(), j))
            .collect();
        // Most similar first; equal similarities in index order, so the result is fixed.
        sims.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        let mut votes = vec![0.0; classes];
        for &(s, j) in &sims[..k] {
            votes[train_y[j] as usize] += s;
        }
        correct += usize::from(argmax(&votes) == label as usize);
    }
    correct as f64 / test_y.len().max(1) as f64
}

/// Singular values (descending) of the centred n × d matrix: square roots of the
/// eigenvalues of its d × d Gram matrix, found by cyclic Jacobi rotations.
pub fn singular_values(x: &[f64], n: usize, d: usize) -> Vec<f64> {
    assert_eq!(
        x.len(),
        n * d,
        "singular_values: {} values for {n} x {d}",
        x.len()
    );
    let mut mean = vec![0.0; d];
    for row in x.chunks_exact(d) {
        mean.iter_mut()
            .zip(row)
            .for_each(|(m, v)| *m += v / n as f64);
    }
    let mut a = vec![0.0; d * d];
    for row in x.chunks_exact(d) {
        for i in 0..d {
            let ri = row[i] - mean[i];
            for j in 0..d {
                a[i * d + j] += ri * (row[j] - mean[j]);
            }
        }
    }
    for _sweep in 0..100 {
        let off: f64 = (0..d)
            .flat_map(|i| (0..d).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| a[i * d + j].powi(2))
            .sum();
        let scale: f64 = (0..d)
            .map(|i| a[i * d + i].powi(2))
            .sum::<f64>()
            .max(1e-300);
        if off <= 1e-24 * scale {
            break;
        }
        for p in 0..d {
            for q in p + 1..d {
                let apq = a[p * d + q];
                if apq.abs() < 1e-300 {
                    continue;
                }
                let theta = (a[q * d + q] - a[p * d + p]) / (2.0 * apq);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..d {
                    let (akp, akq) = (a[k * d + p], a[k * d + q]);
                    a[k * d + p] = c * akp - s * akq;
                    a[k * d + q] = s * akp + c * akq;
                }
                for k in 0..d {
                    let (apk, aqk) = (a[p * d + k], a[q * d + k]);
                    a[p * d + k] = c * apk - s * aqk;
                    a[q * d + k] = s * apk + c * aqk;
                }
            }
        }
    }
    let mut values: Vec<f64> = (0..d).map(|i| a[i * d + i].max(0.0).sqrt()).collect();
    values.sort_by(|a, b| b.total_cmp(a));
    values
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SplitMix64;

    /// `classes` Gaussian blobs in R^d, centres 4 apart, unit noise.
    fn blobs(n_per: usize, classes: usize, d: usize, seed: u64) -> (Vec<f64>, Vec<u32>) {
        let mut rng = SplitMix64::new(seed);
        let mut x = Vec::new();
        let mut y = Vec::new();
        for c in 0..classes {
            for _ in 0..n_per {
                for k in 0..d {
                    x.push(if k == c { 4.0 } else { 0.0 } + rng.normal());
                }
                y.push(c as u32);
            }
        }
        (x, y)
    }

    #[test]
    fn separable_blobs_are_probed_and_voted_correctly() {
        let (x, y) = blobs(50, 4, 8, 1);
        let (t, ty) = blobs(30, 4, 8, 2);
        let probe = linear_probe(&x, &y, &t, &ty, 8, 4, 1e-4, 300);
        assert!(probe.test_accuracy > 0.95, "{probe:?}");
        assert!(knn_accuracy(&x, &y, &t, &ty, 8, 4, 10) > 0.95);
        // Deterministic: the same bits twice.
        assert_eq!(probe, linear_probe(&x, &y, &t, &ty, 8, 4, 1e-4, 300));
    }

    #[test]
    fn random_labels_give_chance_on_the_test_split() {
        let (x, _) = blobs(100, 4, 8, 3);
        let (t, _) = blobs(100, 4, 8, 4);
        let mut rng = SplitMix64::new(5);
        let y: Vec<u32> = (0..400).map(|_| (rng.next_u64() % 4) as u32).collect();
        let ty: Vec<u32> = (0..400).map(|_| (rng.next_u64() % 4) as u32).collect();
        let probe = linear_probe(&x, &y, &t, &ty, 8, 4, 1e-4, 300);
        assert!((probe.test_accuracy - 0.25).abs() < 0.08, "{probe:?}");
    }

    #[test]
    fn singular_values_of_a_rank_two_matrix() {
        // Rows a·u + b·v with orthogonal u, v of norms 1 and 2: the centred matrix has rank 2.
        let mut rng = SplitMix64::new(9);
        let (n, d) = (40, 5);
        let mut x = Vec::new();
        let (mut sa, mut sb) = (Vec::new(), Vec::new());
        for _ in 0..n {
            let (a, b) = (rng.normal(), rng.normal());
            sa.push(a);
            sb.push(b);
            x.extend([a, 2.0 * b, 0.0, 0.0, 0.0]);
        }
        let s = singular_values(&x, n, d);
        let centred_norm = |v: &[f64], scale: f64| {
            let m = v.iter().sum::<f64>() / n as f64;
            (v.iter().map(|a| (scale * (a - m)).powi(2)).sum::<f64>()).sqrt()
        };
        let mut expected = [centred_norm(&sa, 1.0), centred_norm(&sb, 2.0)];
        expected.sort_by(|a, b| b.total_cmp(a));
        // The two columns are not exactly orthogonal over 40 samples: compare the Frobenius
        // norm (exact) and the rank.
        let frob = (s.iter().map(|v| v * v).sum::<f64>()).sqrt();
        let frob_expected = (expected[0].powi(2) + expected[1].powi(2)).sqrt();
        assert!((frob - frob_expected).abs() < 1e-9 * frob_expected, "{s:?}");
        assert!(s[2] < 1e-6 && s[1] > 1.0, "{s:?}");
    }
}
