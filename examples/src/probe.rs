//! Evaluation of frozen features: a linear probe, k-nearest-neighbour accuracy and the
//! singular-value spectrum of an embedding matrix.
//!
//! Every matrix is row-major `f64` (`n` rows of `d` values) and labels are class ids in
//! `0..classes`. All results are bit-for-bit deterministic: parallel work is split into
//! fixed-size pieces whose partial results are combined in a fixed order, so neither the
//! thread count nor scheduling changes a single bit.

use rayon::prelude::*;

/// Top-1 accuracies of a classifier on the split it was fitted on and on held-out data.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProbeResult {
    /// Fraction of training points whose arg-max logit is their label.
    pub train_accuracy: f64,
    /// Fraction of test points whose arg-max logit is their label (NaN for an empty test set).
    pub test_accuracy: f64,
}

/// Rows per parallel work item. Fixed (not derived from the thread count) so that the order
/// in which partial sums are added, and hence every bit of the result, never changes.
const ROWS_PER_CHUNK: usize = 64;

/// Standard-deviation floor: a constant feature becomes 0 instead of dividing by zero.
const STD_FLOOR: f64 = 1e-8;

/// Panics (a programmer error) unless `x` holds `y.len()` rows of `d` values and every label
/// is below `classes`.
fn check_split(split: &str, x: &[f64], y: &[u32], d: usize, classes: usize) {
    assert!(d > 0, "{split}: the feature dimension d must be positive");
    assert_eq!(
        x.len(),
        y.len() * d,
        "{split}: features hold {} values but labels.len() × d = {} × {d} = {}",
        x.len(),
        y.len(),
        y.len() * d
    );
    if let Some(&bad) = y.iter().find(|&&c| c as usize >= classes) {
        panic!("{split}: label {bad} is not below classes = {classes}");
    }
}

/// Dot product with eight independent accumulators: a fixed summation order (so results are
/// reproducible) that the compiler can still vectorize, unlike one serial accumulator.
fn dot(a: &[f64], b: &[f64]) -> f64 {
    debug_assert_eq!(a.len(), b.len());
    let mut acc = [0.0f64; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f64 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ca.zip(cb) {
        for k in 0..8 {
            acc[k] += x[k] * y[k];
        }
    }
    ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + tail
}

/// `y += a · x`.
fn axpy(a: f64, x: &[f64], y: &mut [f64]) {
    for (yi, xi) in y.iter_mut().zip(x) {
        *yi += a * xi;
    }
}

/// Per-feature mean and standard deviation (population, floored at [`STD_FLOOR`]) of `x`.
fn moments(x: &[f64], d: usize) -> (Vec<f64>, Vec<f64>) {
    let n = (x.len() / d).max(1) as f64;
    let mut mean = vec![0.0; d];
    for row in x.chunks_exact(d) {
        axpy(1.0, row, &mut mean);
    }
    mean.iter_mut().for_each(|m| *m /= n);
    let mut var = vec![0.0; d];
    for row in x.chunks_exact(d) {
        for ((v, &xi), &m) in var.iter_mut().zip(row).zip(&mean) {
            *v += (xi - m) * (xi - m);
        }
    }
    let std = var.iter().map(|v| (v / n).sqrt().max(STD_FLOOR)).collect();
    (mean, std)
}

/// `(x − mean) / std`, feature by feature.
fn standardize(x: &[f64], mean: &[f64], std: &[f64]) -> Vec<f64> {
    let d = mean.len();
    let mut out = x.to_vec();
    out.par_chunks_mut(d).for_each(|row| {
        for ((v, m), s) in row.iter_mut().zip(mean).zip(std) {
            *v = (*v - m) / s;
        }
    });
    out
}

/// Logits `z_ic = w_c · x_i + b_c` of the rows `xs` into `z` (rows × classes); `theta` is
/// `W` (classes × d, row-major) then `b`.
///
/// Rows go four at a time so each loaded weight serves four rows: the weights then stream
/// from cache a quarter as often, which is what bounds this loop.
fn chunk_logits(theta: &[f64], xs: &[f64], d: usize, classes: usize, z: &mut [f64]) {
    let (w, b) = theta.split_at(classes * d);
    let mut blocks = xs.chunks_exact(4 * d);
    let mut zb = z.chunks_exact_mut(4 * classes);
    for (x4, z4) in (&mut blocks).zip(&mut zb) {
        let (x0, rest) = x4.split_at(d);
        let (x1, rest) = rest.split_at(d);
        let (x2, x3) = rest.split_at(d);
        for c in 0..classes {
            let wc = &w[c * d..(c + 1) * d];
            let mut acc = [[0.0f64; 4]; 4];
            let lanes = wc
                .chunks_exact(4)
                .zip(x0.chunks_exact(4))
                .zip(x1.chunks_exact(4))
                .zip(x2.chunks_exact(4))
                .zip(x3.chunks_exact(4));
            for ((((wv, a), bb), cc), dd) in lanes {
                for k in 0..4 {
                    acc[0][k] += wv[k] * a[k];
                    acc[1][k] += wv[k] * bb[k];
                    acc[2][k] += wv[k] * cc[k];
                    acc[3][k] += wv[k] * dd[k];
                }
            }
            let tail = d - d % 4;
            for (r, xr) in [x0, x1, x2, x3].into_iter().enumerate() {
                let t = dot(&wc[tail..], &xr[tail..]);
                let a = acc[r];
                z4[r * classes + c] = ((a[0] + a[2]) + (a[1] + a[3])) + t + b[c];
            }
        }
    }
    for (row, zr) in blocks
        .remainder()
        .chunks_exact(d)
        .zip(zb.into_remainder().chunks_exact_mut(classes))
    {
        for (c, zc) in zr.iter_mut().enumerate() {
            *zc = dot(&w[c * d..(c + 1) * d], row) + b[c];
        }
    }
}

/// `g_c += Σ_i r_ic · x_i` for the rows `xs` and residuals `r` (rows × classes); `g` is
/// classes × d. Four rows per pass over `g_c`, for the same cache reason as [`chunk_logits`].
fn accumulate_gradient(r: &[f64], xs: &[f64], d: usize, classes: usize, g: &mut [f64]) {
    let mut blocks = xs.chunks_exact(4 * d);
    let mut rb = r.chunks_exact(4 * classes);
    for (x4, r4) in (&mut blocks).zip(&mut rb) {
        let (x0, rest) = x4.split_at(d);
        let (x1, rest) = rest.split_at(d);
        let (x2, x3) = rest.split_at(d);
        for (c, gc) in g.chunks_exact_mut(d).enumerate() {
            let (a, b, cc, dd) = (
                r4[c],
                r4[classes + c],
                r4[2 * classes + c],
                r4[3 * classes + c],
            );
            for ((((gj, p), q), s), t) in gc.iter_mut().zip(x0).zip(x1).zip(x2).zip(x3) {
                *gj += (a * p + b * q) + (cc * s + dd * t);
            }
        }
    }
    for (row, rr) in blocks
        .remainder()
        .chunks_exact(d)
        .zip(rb.remainder().chunks_exact(classes))
    {
        for (gc, &rc) in g.chunks_exact_mut(d).zip(rr) {
            axpy(rc, row, gc);
        }
    }
}

/// Index of the largest value, the lowest index on ties (NaN never wins).
fn argmax(v: &[f64]) -> usize {
    let mut best = 0;
    for (k, &x) in v.iter().enumerate() {
        if x > v[best] || v[best].is_nan() && !x.is_nan() {
            best = k;
        }
    }
    best
}

/// Fraction of rows whose arg-max logit equals the label; NaN for no rows.
fn accuracy(theta: &[f64], x: &[f64], y: &[u32], d: usize, classes: usize) -> f64 {
    if y.is_empty() {
        return f64::NAN;
    }
    let correct: usize = x
        .par_chunks(ROWS_PER_CHUNK * d)
        .zip(y.par_chunks(ROWS_PER_CHUNK))
        .map(|(xs, ys)| {
            let mut z = vec![0.0; ys.len() * classes];
            chunk_logits(theta, xs, d, classes, &mut z);
            z.chunks_exact(classes)
                .zip(ys)
                .filter(|(zr, &label)| argmax(zr) == label as usize)
                .count()
        })
        .sum();
    correct as f64 / y.len() as f64
}

/// The probe's objective: mean softmax cross-entropy plus `l2/2 · ‖W‖²` (bias unpenalized).
/// Writes the gradient into `grad` and returns the value.
fn objective(
    theta: &[f64],
    grad: &mut [f64],
    x: &[f64],
    y: &[u32],
    d: usize,
    classes: usize,
    l2: f64,
) -> f64 {
    let n = y.len();
    let len = theta.len();
    // One pass per chunk computes the loss and that chunk's gradient while its rows are in
    // cache; the chunk partials are then added in chunk order for determinism.
    let partials: Vec<(f64, Vec<f64>)> = x
        .par_chunks(ROWS_PER_CHUNK * d)
        .zip(y.par_chunks(ROWS_PER_CHUNK))
        .map(|(xs, ys)| {
            let mut g = vec![0.0; len];
            let mut z = vec![0.0; ys.len() * classes];
            chunk_logits(theta, xs, d, classes, &mut z);
            let mut loss = 0.0;
            for (zr, &label) in z.chunks_exact_mut(classes).zip(ys) {
                let m = zr.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let mut total = 0.0;
                for zc in zr.iter_mut() {
                    *zc = (*zc - m).exp();
                    total += *zc;
                }
                // −log p_y = log Σ exp(z_c − m) − (z_y − m); zr now holds exp(z_c − m).
                loss += total.ln() - zr[label as usize].ln();
                // Overwrite with the residual ∂/∂z_c = p_c − [c = y].
                for (c, e) in zr.iter_mut().enumerate() {
                    *e = *e / total - f64::from(u8::from(c == label as usize));
                }
                for (gb, &r) in g[classes * d..].iter_mut().zip(zr.iter()) {
                    *gb += r;
                }
            }
            accumulate_gradient(&z, xs, d, classes, &mut g[..classes * d]);
            (loss, g)
        })
        .collect();
    grad.iter_mut().for_each(|g| *g = 0.0);
    let mut loss = 0.0;
    for (l, g) in &partials {
        loss += l;
        axpy(1.0, g, grad);
    }
    let inv_n = 1.0 / n as f64;
    grad.iter_mut().for_each(|g| *g *= inv_n);
    let w = &theta[..classes * d];
    axpy(l2, w, &mut grad[..classes * d]);
    loss * inv_n + 0.5 * l2 * dot(w, w)
}

/// Minimizes `f` (which writes its gradient into the second argument and returns its value)
/// from `x` by L-BFGS with a backtracking Armijo line search, for at most `iterations`
/// iterations. Deterministic: no randomness, fixed memory (`M` pairs) and step rules.
fn lbfgs(f: impl Fn(&[f64], &mut [f64]) -> f64, mut x: Vec<f64>, iterations: usize) -> Vec<f64> {
    const M: usize = 10;
    const ARMIJO: f64 = 1e-4;
    let len = x.len();
    let mut g = vec![0.0; len];
    let mut fx = f(&x, &mut g);
    let mut history: Vec<(Vec<f64>, Vec<f64>, f64)> = Vec::with_capacity(M); // (s, y, 1/s·y)
    let mut dir = vec![0.0; len];
    let mut x_new = vec![0.0; len];
    let mut g_new = vec![0.0; len];
    let mut alpha = [0.0; M];
    for _ in 0..iterations {
        let g_inf = g.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        if g_inf <= 1e-10 || g_inf.is_nan() {
            break; // converged (or NaN: nothing sensible left to do)
        }
        // Two-loop recursion: dir = −H·g with H the L-BFGS inverse-Hessian estimate.
        dir.iter_mut().zip(&g).for_each(|(d, gi)| *d = -gi);
        for (k, (s, y, rho)) in history.iter().enumerate().rev() {
            alpha[k] = rho * dot(s, &dir);
            axpy(-alpha[k], y, &mut dir);
        }
        let first_step = match history.last() {
            Some((s, y, _)) => {
                let gamma = dot(s, y) / dot(y, y);
                dir.iter_mut().for_each(|d| *d *= gamma);
                1.0
            }
            // No curvature yet: a unit step along −g could be huge, so start at length 1.
            None => 1.0 / dot(&g, &g).sqrt(),
        };
        for (k, (s, y, rho)) in history.iter().enumerate() {
            let beta = rho * dot(y, &dir);
            axpy(alpha[k] - beta, s, &mut dir);
        }
        let mut slope = dot(&g, &dir);
        if slope >= 0.0 || slope.is_nan() {
            // The estimate lost positive definiteness numerically: fall back to steepest descent.
            history.clear();
            dir.iter_mut().zip(&g).for_each(|(d, gi)| *d = -gi);
            slope = -dot(&g, &g);
        }
        let mut step = first_step;
        let mut accepted = None;
        for _ in 0..60 {
            x_new
                .iter_mut()
                .zip(&x)
                .zip(&dir)
                .for_each(|((xn, xi), di)| *xn = xi + step * di);
            let f_new = f(&x_new, &mut g_new);
            if f_new <= fx + ARMIJO * step * slope {
                accepted = Some(f_new);
                break;
            }
            step *= 0.5;
        }
        let Some(f_new) = accepted else {
            break; // no decrease representable along dir: at the optimum to working precision
        };
        let s: Vec<f64> = x_new.iter().zip(&x).map(|(a, b)| a - b).collect();
        let y: Vec<f64> = g_new.iter().zip(&g).map(|(a, b)| a - b).collect();
        let sy = dot(&s, &y);
        // Keep only pairs with positive curvature so that H stays positive definite.
        if sy > 1e-12 * dot(&y, &y).sqrt() * dot(&s, &s).sqrt() {
            if history.len() == M {
                history.remove(0);
            }
            history.push((s, y, 1.0 / sy));
        }
        std::mem::swap(&mut x, &mut x_new);
        std::mem::swap(&mut g, &mut g_new);
        fx = f_new;
    }
    x
}

/// Linear probe: multinomial logistic regression on standardized frozen features.
///
/// Features are standardized with the train split's per-feature mean and population standard
/// deviation (floored at 1e-8), `x̂ = (x − μ) / σ`, applied to both splits. The model
/// `p(c | x̂) = softmax(W x̂ + b)_c` minimizes
/// `(1/n) Σᵢ −log p(yᵢ | x̂ᵢ) + (l2/2) ‖W‖²_F` (the bias is not penalized), starting from
/// zero, by full-batch L-BFGS (10 pairs, backtracking Armijo line search) for at most
/// `iterations` iterations (fewer once the gradient's largest entry is below 1e-10).
/// Typical: `l2 = 1e-4`, `iterations = 300`. Deterministic: identical inputs give identical
/// bits. Prediction is the arg-max logit, the lowest class id on ties.
///
/// `train_x` is `train_y.len()` rows of `d` features, likewise the test split; labels must be
/// below `classes`. Panics on mismatched lengths, out-of-range labels, `d == 0` or an empty
/// train split. An empty test split gives `test_accuracy = NaN`.
#[allow(clippy::too_many_arguments)] // the documented recipe API: two splits, sizes, knobs
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
    check_split("linear_probe train", train_x, train_y, d, classes);
    check_split("linear_probe test", test_x, test_y, d, classes);
    assert!(
        !train_y.is_empty(),
        "linear_probe: the train split is empty"
    );
    let (mean, std) = moments(train_x, d);
    let train = standardize(train_x, &mean, &std);
    let test = standardize(test_x, &mean, &std);
    let theta = lbfgs(
        |theta, grad| objective(theta, grad, &train, train_y, d, classes, l2),
        vec![0.0; classes * (d + 1)],
        iterations,
    );
    ProbeResult {
        train_accuracy: accuracy(&theta, &train, train_y, d, classes),
        test_accuracy: accuracy(&theta, &test, test_y, d, classes),
    }
}

/// Rows of `x` scaled to unit Euclidean norm (all-zero rows stay zero).
fn normalize_rows(x: &[f64], d: usize) -> Vec<f64> {
    let mut out = x.to_vec();
    out.par_chunks_mut(d).for_each(|row| {
        let norm = dot(row, row).sqrt();
        if norm > 0.0 {
            row.iter_mut().for_each(|v| *v /= norm);
        }
    });
    out
}

/// k-nearest-neighbour top-1 accuracy with cosine similarity.
///
/// Rows are L2-normalized, so the similarity of test point `t` and train point `i` is
/// `s = x̂_t · x̂_i`. The `k` most similar train points (ties: lower train index first; `k` is
/// capped at the train size) vote for their labels with weight `s`; the prediction is the
/// class with the largest total weight among the classes that received a vote, the lowest
/// class id on ties. Typical `k = 20`.
///
/// Panics on mismatched lengths, out-of-range labels, `d == 0`, `k == 0` or an empty train
/// split. An empty test split gives NaN.
pub fn knn_accuracy(
    train_x: &[f64],
    train_y: &[u32],
    test_x: &[f64],
    test_y: &[u32],
    d: usize,
    classes: usize,
    k: usize,
) -> f64 {
    check_split("knn_accuracy train", train_x, train_y, d, classes);
    check_split("knn_accuracy test", test_x, test_y, d, classes);
    assert!(
        !train_y.is_empty(),
        "knn_accuracy: the train split is empty"
    );
    assert!(k > 0, "knn_accuracy: k must be positive");
    if test_y.is_empty() {
        return f64::NAN;
    }
    let k = k.min(train_y.len());
    let train = normalize_rows(train_x, d);
    let test = normalize_rows(test_x, d);
    let correct: usize = test
        .par_chunks(d)
        .zip(test_y.par_iter())
        .map(|(t, &label)| {
            let sims: Vec<f64> = train.chunks_exact(d).map(|row| dot(t, row)).collect();
            // A total order (similarity descending, then index) makes the neighbour set
            // unique, so the unstable selection is still deterministic.
            let order = |a: &usize, b: &usize| sims[*b].total_cmp(&sims[*a]).then(a.cmp(b));
            let mut idx: Vec<usize> = (0..sims.len()).collect();
            if k < idx.len() {
                idx.select_nth_unstable_by(k - 1, order);
                idx.truncate(k);
            }
            idx.sort_unstable_by(order); // fixed summation order of the votes
            let mut votes = vec![0.0; classes];
            let mut voted = vec![false; classes];
            for &i in &idx {
                let c = train_y[i] as usize;
                votes[c] += sims[i];
                voted[c] = true;
            }
            let mut best: Option<usize> = None;
            for c in (0..classes).filter(|&c| voted[c]) {
                if best.is_none_or(|b| votes[c] > votes[b]) {
                    best = Some(c);
                }
            }
            usize::from(best == Some(label as usize))
        })
        .sum();
    correct as f64 / test_y.len() as f64
}

/// Singular values, in descending order, of the column-centred `n × d` matrix `x`
/// (`X̃ = X − 1 μᵀ`, μ the column means).
///
/// With `m = min(n, d)` they are `σₖ = √max(λₖ, 0)` for the eigenvalues `λₖ` of the `m × m`
/// Gram matrix (`X̃ᵀX̃` if `d ≤ n`, else `X̃X̃ᵀ`), found by the symmetric Jacobi eigenvalue
/// method (round-robin ordering, so each round's disjoint rotations run in parallel).
/// Returns `m` values. Squaring halves the relative precision of small values: those below
/// about `√ε · σ₁` (ε = 2.2e-16) are roundoff, so a rank-r matrix shows `m − r` values near
/// `1e-8 · σ₁` rather than exact zeros.
///
/// Panics if `x.len() != n · d`.
pub fn singular_values(x: &[f64], n: usize, d: usize) -> Vec<f64> {
    assert_eq!(
        x.len(),
        n * d,
        "singular_values: x holds {} values but n × d = {n} × {d} = {}",
        x.len(),
        n * d
    );
    let m = n.min(d);
    if m == 0 {
        return Vec::new();
    }
    let mean = moments(x, d).0;
    // Rows of `v` are the vectors whose pairwise dot products form the Gram matrix: the
    // columns of X̃ (d ≤ n) or its rows (n < d); the smaller Gram matrix is the cheaper one.
    let (v, len) = if d <= n {
        let mut cols = vec![0.0; d * n];
        for (i, row) in x.chunks_exact(d).enumerate() {
            for (j, (&xi, &mj)) in row.iter().zip(&mean).enumerate() {
                cols[j * n + i] = xi - mj;
            }
        }
        (cols, n)
    } else {
        let mut rows = x.to_vec();
        for row in rows.chunks_exact_mut(d) {
            axpy(-1.0, &mean, row);
        }
        (rows, d)
    };
    let mut gram = vec![0.0; m * m];
    gram.par_chunks_mut(m).enumerate().for_each(|(a, out)| {
        let va = &v[a * len..(a + 1) * len];
        for (b, o) in out.iter_mut().enumerate() {
            *o = dot(va, &v[b * len..(b + 1) * len]);
        }
    });
    let mut sigma: Vec<f64> = jacobi_eigenvalues(gram, m)
        .into_iter()
        .map(|l| l.max(0.0).sqrt())
        .collect();
    sigma.sort_by(|a, b| b.total_cmp(a));
    sigma
}

/// Eigenvalues (unordered) of the symmetric `m × m` matrix `a` by the Jacobi method.
///
/// Each rotation `A ← JᵀAJ` in the plane (p, q) zeroes `a_pq` with
/// `θ = (a_qq − a_pp) / (2 a_pq)`, `t = sign(θ) / (|θ| + √(θ² + 1))`, `c = 1/√(1+t²)`,
/// `s = t c`. Sweeps use the round-robin (tournament) ordering: every round pairs all indices
/// disjointly, so its rotations commute and are applied together (rows, then columns), in
/// parallel, with the same result for any thread count. Entries with
/// `|a_pq| ≤ ε ‖A‖_F` are left alone (changing eigenvalues by at most that much); sweeps stop
/// once one rotates nothing (at most 100 sweeps; convergence is quadratic, typically < 12).
fn jacobi_eigenvalues(mut a: Vec<f64>, m: usize) -> Vec<f64> {
    let norm = dot(&a, &a).sqrt();
    let threshold = f64::EPSILON * norm;
    // Circle method over an even number of slots; slot value `m` (odd m) is a bye.
    let slots = m + m % 2;
    let mut players: Vec<usize> = (0..slots).collect();
    for _sweep in 0..100 {
        let mut rotated = false;
        for _round in 0..slots.saturating_sub(1) {
            let mut rotations: Vec<(usize, usize, f64, f64)> = Vec::new();
            for k in 0..slots / 2 {
                let (p, q) = (players[k], players[slots - 1 - k]);
                let (p, q) = (p.min(q), p.max(q));
                if q >= m {
                    continue;
                }
                let apq = a[p * m + q];
                if apq.abs() <= threshold {
                    continue;
                }
                let theta = (a[q * m + q] - a[p * m + p]) / (2.0 * apq);
                let t = if theta.abs() > 1e150 {
                    0.5 / theta // θ² would overflow; t → 1/(2θ)
                } else {
                    theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt())
                };
                let c = 1.0 / (t * t + 1.0).sqrt();
                rotations.push((p, q, c, t * c));
            }
            // Next pairing: slot 0 stays, the others rotate by one.
            players[1..].rotate_right(1);
            if rotations.is_empty() {
                continue;
            }
            rotated = true;
            // Rows: row_p ← c·row_p − s·row_q, row_q ← s·row_p + c·row_q. The pairs are
            // disjoint, so each rotation owns its two rows.
            let mut rows: Vec<Option<&mut [f64]>> = a.chunks_exact_mut(m).map(Some).collect();
            let mut pairs: Vec<(&mut [f64], &mut [f64], f64, f64)> = rotations
                .iter()
                .map(|&(p, q, c, s)| {
                    let rp = rows[p].take().expect("disjoint pairs");
                    let rq = rows[q].take().expect("disjoint pairs");
                    (rp, rq, c, s)
                })
                .collect();
            pairs
                .par_iter_mut()
                .with_min_len(4)
                .for_each(|(rp, rq, c, s)| {
                    for (x, y) in rp.iter_mut().zip(rq.iter_mut()) {
                        let (u, v) = (*x, *y);
                        *x = *c * u - *s * v;
                        *y = *s * u + *c * v;
                    }
                });
            drop(pairs);
            // Columns, the same mix within every row.
            a.par_chunks_mut(m).with_min_len(8).for_each(|row| {
                for &(p, q, c, s) in &rotations {
                    let (u, v) = (row[p], row[q]);
                    row[p] = c * u - s * v;
                    row[q] = s * u + c * v;
                }
            });
            // Exactly zero in exact arithmetic; storing 0 keeps roundoff from lingering.
            for &(p, q, _, _) in &rotations {
                a[p * m + q] = 0.0;
                a[q * m + p] = 0.0;
            }
        }
        if !rotated {
            break;
        }
    }
    (0..m).map(|i| a[i * m + i]).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SplitMix64: a tiny deterministic generator so the tests need no extra crate.
    struct Rng(u64);

    impl Rng {
        fn next_u64(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }

        fn uniform(&mut self) -> f64 {
            (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
        }

        fn normal(&mut self) -> f64 {
            let u = 1.0 - self.uniform();
            let v = self.uniform();
            (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
        }
    }

    /// `n` points per class around well-separated random centres (`spread` = centre scale).
    fn blobs(rng: &mut Rng, centres: &[Vec<f64>], n: usize, noise: f64) -> (Vec<f64>, Vec<u32>) {
        let mut x = Vec::new();
        let mut y = Vec::new();
        for i in 0..n {
            let c = i % centres.len();
            x.extend(centres[c].iter().map(|m| m + noise * rng.normal()));
            y.push(c as u32);
        }
        (x, y)
    }

    #[test]
    fn separable_blobs_are_classified_perfectly() {
        let mut rng = Rng(1);
        let (d, classes) = (32, 5);
        let centres: Vec<Vec<f64>> = (0..classes)
            .map(|_| (0..d).map(|_| 4.0 * rng.normal()).collect())
            .collect();
        let (trx, try_) = blobs(&mut rng, &centres, 300, 1.0);
        let (tex, tey) = blobs(&mut rng, &centres, 200, 1.0);
        let probe = linear_probe(&trx, &try_, &tex, &tey, d, classes, 1e-4, 300);
        assert!(probe.train_accuracy >= 0.99, "{probe:?}");
        assert!(probe.test_accuracy >= 0.99, "{probe:?}");
        let knn = knn_accuracy(&trx, &try_, &tex, &tey, d, classes, 20);
        assert!(knn >= 0.99, "knn {knn}");
    }

    #[test]
    fn random_labels_give_chance_on_test() {
        let mut rng = Rng(2);
        let (n, d, classes) = (600, 16, 4);
        let mut gen = |n: usize| {
            let x: Vec<f64> = (0..n * d).map(|_| rng.normal()).collect();
            let y: Vec<u32> = (0..n).map(|_| (rng.next_u64() % 4) as u32).collect();
            (x, y)
        };
        let (trx, try_) = gen(n);
        let (tex, tey) = gen(2000);
        let probe = linear_probe(&trx, &try_, &tex, &tey, d, classes, 1e-4, 300);
        assert!((probe.test_accuracy - 0.25).abs() < 0.05, "{probe:?}");
        // The probe still fits its own noise somewhat better than chance.
        assert!(probe.train_accuracy > 0.3, "{probe:?}");
        let knn = knn_accuracy(&trx, &try_, &tex, &tey, d, classes, 20);
        assert!((knn - 0.25).abs() < 0.05, "knn {knn}");
    }

    #[test]
    fn probe_beats_knn_on_a_linear_but_not_local_task() {
        // The label is the sign of one coordinate among 64 noise coordinates of larger
        // scale: linearly separable, but cosine neighbours are dominated by the noise.
        let mut rng = Rng(3);
        let d = 64;
        let mut gen = |n: usize| {
            let mut x = Vec::with_capacity(n * d);
            let mut y = Vec::with_capacity(n);
            for _ in 0..n {
                let signal = rng.normal();
                x.push(signal);
                x.extend((1..d).map(|_| 3.0 * rng.normal()));
                y.push(u32::from(signal > 0.0));
            }
            (x, y)
        };
        let (trx, try_) = gen(1000);
        let (tex, tey) = gen(1000);
        let probe = linear_probe(&trx, &try_, &tex, &tey, d, 2, 1e-4, 300);
        let knn = knn_accuracy(&trx, &try_, &tex, &tey, d, 2, 20);
        assert!(probe.test_accuracy > 0.9, "{probe:?}");
        assert!(knn < 0.65, "knn {knn}");
    }

    #[test]
    fn results_are_deterministic() {
        let mut rng = Rng(4);
        let (d, classes) = (24, 3);
        let centres: Vec<Vec<f64>> = (0..classes)
            .map(|_| (0..d).map(|_| 0.5 * rng.normal()).collect())
            .collect();
        let (trx, try_) = blobs(&mut rng, &centres, 500, 1.0);
        let (tex, tey) = blobs(&mut rng, &centres, 300, 1.0);
        let run = || {
            let p = linear_probe(&trx, &try_, &tex, &tey, d, classes, 1e-4, 100);
            let k = knn_accuracy(&trx, &try_, &tex, &tey, d, classes, 7);
            let s = singular_values(&trx, 500, d);
            (p, k, s)
        };
        let (p1, k1, s1) = run();
        // A one-thread pool must give the same bits as the default pool.
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        let (p2, k2, s2) = pool.install(run);
        assert_eq!(p1.train_accuracy.to_bits(), p2.train_accuracy.to_bits());
        assert_eq!(p1.test_accuracy.to_bits(), p2.test_accuracy.to_bits());
        assert_eq!(k1.to_bits(), k2.to_bits());
        let bits = |s: &[f64]| s.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&s1), bits(&s2));
        // And the trained weights themselves, not only the rounded accuracies.
        let (mean, std) = moments(&trx, d);
        let train = standardize(&trx, &mean, &std);
        let fit = || {
            lbfgs(
                |t, g| objective(t, g, &train, &try_, d, classes, 1e-4),
                vec![0.0; classes * (d + 1)],
                50,
            )
        };
        assert_eq!(bits(&fit()), bits(&pool.install(fit)));
    }

    #[test]
    fn objective_gradient_matches_finite_differences() {
        let mut rng = Rng(5);
        let (n, d, classes, l2) = (70, 5, 3, 0.3);
        let x: Vec<f64> = (0..n * d).map(|_| rng.normal()).collect();
        let y: Vec<u32> = (0..n).map(|i| (i % classes) as u32).collect();
        let theta: Vec<f64> = (0..classes * (d + 1)).map(|_| rng.normal()).collect();
        let mut grad = vec![0.0; theta.len()];
        objective(&theta, &mut grad, &x, &y, d, classes, l2);
        let mut scratch = vec![0.0; theta.len()];
        for k in 0..theta.len() {
            let h = 1e-6;
            let (mut plus, mut minus) = (theta.clone(), theta.clone());
            plus[k] += h;
            minus[k] -= h;
            let numeric = (objective(&plus, &mut scratch, &x, &y, d, classes, l2)
                - objective(&minus, &mut scratch, &x, &y, d, classes, l2))
                / (2.0 * h);
            assert!(
                (numeric - grad[k]).abs() < 1e-7,
                "{k}: {numeric} vs {}",
                grad[k]
            );
        }
    }

    #[test]
    fn knn_votes_are_similarity_weighted_with_low_class_ties() {
        // Train: two class-1 points near (1,0) and one class-0 point exactly at (1,0).
        let train = [1.0, 0.0, 1.0, 0.9, 1.0, -0.9];
        let labels = [0, 1, 1];
        // k = 1: the nearest is class 0.
        assert_eq!(
            knn_accuracy(&train, &labels, &[1.0, 0.0], &[0], 2, 2, 1),
            1.0
        );
        // k = 3: class 1 totals 2·cos(42°) ≈ 1.49 > 1.
        assert_eq!(
            knn_accuracy(&train, &labels, &[1.0, 0.0], &[1], 2, 2, 3),
            1.0
        );
        // Exact tie between classes 0 and 1 goes to class 0.
        let train = [1.0, 0.0, 1.0, 0.0];
        assert_eq!(
            knn_accuracy(&train, &[1, 0], &[2.0, 0.0], &[0], 2, 2, 2),
            1.0
        );
        // An empty test split has no accuracy.
        assert!(knn_accuracy(&train, &[1, 0], &[], &[], 2, 2, 2).is_nan());
    }

    #[test]
    #[should_panic(expected = "features hold 5 values but labels.len() × d = 2 × 3 = 6")]
    fn mismatched_lengths_panic_with_both_lengths() {
        linear_probe(&[0.0; 5], &[0, 1], &[], &[], 3, 2, 1e-4, 10);
    }

    #[test]
    fn singular_values_of_a_scaled_orthogonal_matrix() {
        // X = Q diag(σ) Vᵀ with centred orthonormal columns Q: ±1/√n patterns summing to 0.
        let (n, d) = (8, 3);
        let sigma = [5.0, 2.0, 0.5];
        let h = 1.0 / (n as f64).sqrt();
        // Rows of a Hadamard matrix (columns 1..4 of H8), each sums to 0 and they are orthonormal.
        let q: Vec<[f64; 3]> = (0..n)
            .map(|i| {
                let bit = |b: usize| if (i >> b) & 1 == 0 { h } else { -h };
                [bit(0), bit(1), bit(0) * bit(1) / h]
            })
            .collect();
        // A rotation V (orthonormal 3 × 3) so the answer is not just column norms.
        let (c, s) = (0.6, 0.8);
        let v = [[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]];
        let mut x = vec![0.0; n * d];
        for i in 0..n {
            for j in 0..d {
                x[i * d + j] = (0..3).map(|k| q[i][k] * sigma[k] * v[j][k]).sum::<f64>();
            }
        }
        let got = singular_values(&x, n, d);
        for (g, e) in got.iter().zip(sigma) {
            assert!((g - e).abs() < 1e-9, "{got:?}");
        }
        // Shifting every row by a constant vector changes nothing (centring); the transposed
        // shape takes the n × n Gram path.
        let shifted: Vec<f64> = x
            .iter()
            .enumerate()
            .map(|(k, v)| v + k as f64 % 3.0)
            .collect();
        let got = singular_values(&shifted, n, d);
        for (g, e) in got.iter().zip(sigma) {
            assert!((g - e).abs() < 1e-9, "{got:?}");
        }
    }

    #[test]
    fn singular_values_match_a_diagonal_construction_on_both_paths() {
        // Centred rows [+a, −a] patterns: X = [[a1,0],[−a1,0],[0,a2],[0,−a2]] has centred
        // columns already, X̃ᵀX̃ = diag(2a1², 2a2²).
        let x = [3.0, 0.0, -3.0, 0.0, 0.0, 1.5, 0.0, -1.5];
        let got = singular_values(&x, 4, 2);
        let want = [3.0 * 2f64.sqrt(), 1.5 * 2f64.sqrt()];
        assert!((got[0] - want[0]).abs() < 1e-12 && (got[1] - want[1]).abs() < 1e-12);
        // Wide version (n = 2 < d = 4): rows ±v, centred rows are ±v, σ₁ = √2·‖v‖, σ₂ = 0.
        let v = [1.0, 2.0, 2.0, 4.0]; // ‖v‖ = 5
        let wide: Vec<f64> = v.iter().chain(&v.map(|t| -t)).copied().collect();
        let got = singular_values(&wide, 2, 4);
        assert_eq!(got.len(), 2);
        assert!((got[0] - 5.0 * 2f64.sqrt()).abs() < 1e-12, "{got:?}");
        assert!(got[1].abs() < 1e-9, "{got:?}");
    }

    #[test]
    fn rank_two_matrix_has_two_nonzero_singular_values() {
        let mut rng = Rng(6);
        let (n, d) = (200, 40);
        let u: Vec<f64> = (0..2 * n).map(|_| rng.normal()).collect();
        let w: Vec<f64> = (0..2 * d).map(|_| rng.normal()).collect();
        let mut x = vec![0.0; n * d];
        for i in 0..n {
            for j in 0..d {
                x[i * d + j] = u[2 * i] * w[2 * j] + u[2 * i + 1] * w[2 * j + 1] + 7.0;
            }
        }
        let s = singular_values(&x, n, d);
        assert_eq!(s.len(), d);
        assert!(s.windows(2).all(|p| p[0] >= p[1]), "not descending: {s:?}");
        assert!(s[1] > 1e-3 * s[0], "{s:?}");
        // Gram eigenvalues carry roundoff ~ε·σ₁², i.e. σ ~ √ε·σ₁ ≈ 1.5e-8·σ₁.
        assert!(s[2..].iter().all(|&v| v < 1e-6 * s[0]), "{s:?}");
        // Both Gram paths agree: the n × n one (transpose shape) on a wide rank-2 matrix.
        let wide = singular_values(&x[..30 * d], 30, d);
        assert_eq!(wide.len(), 30);
        assert!(wide[2..].iter().all(|&v| v < 1e-6 * wide[0]), "{wide:?}");
    }

    #[test]
    fn jacobi_matches_a_random_symmetric_matrix_trace_and_frobenius() {
        // Eigenvalues preserve trace and Frobenius norm; an odd size exercises the bye slot.
        let mut rng = Rng(7);
        let m = 37;
        let mut a = vec![0.0; m * m];
        for i in 0..m {
            for j in 0..=i {
                let v = rng.normal();
                a[i * m + j] = v;
                a[j * m + i] = v;
            }
        }
        let trace: f64 = (0..m).map(|i| a[i * m + i]).sum();
        let frob2 = dot(&a, &a);
        let ev = jacobi_eigenvalues(a, m);
        assert!((ev.iter().sum::<f64>() - trace).abs() < 1e-10);
        assert!((ev.iter().map(|l| l * l).sum::<f64>() - frob2).abs() < 1e-9 * frob2);
    }
}
