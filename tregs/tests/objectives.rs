//! The objective library against independent references: each loss written out here in
//! plain f64 Rust (no burn), compared with `tregs` (Flex, f64) within 1e-12 relative, and
//! each gradient (burn's autodiff through the tensor ops) against sixth-order central
//! finite differences of that reference within 1e-9.

// Greek option names (`γ`) next to Latin ones (`y`) are the point of the DSL.
#![allow(mixed_script_confusables, confusable_idents)]

mod common;

use burn::tensor::{DType, Device, Tensor, TensorData};
use std::collections::BTreeMap;
use tregs::{loss, RuntimeLoss};

type Rows = Vec<Vec<f64>>;

fn random_rows(n: usize, d: usize, seed: u64) -> Rows {
    let mut next_word = common::xorshift(seed);
    (0..n)
        .map(|_| {
            (0..d)
                .map(|_| {
                    let state = next_word();
                    (state >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
                })
                .collect()
        })
        .collect()
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn normalized(rows: &Rows) -> Rows {
    rows.iter()
        .map(|r| {
            let norm = dot(r, r).sqrt().max(1e-12);
            r.iter().map(|v| v / norm).collect()
        })
        .collect()
}

fn log_sum_exp(values: impl Iterator<Item = f64> + Clone) -> f64 {
    let max = values.clone().fold(f64::NEG_INFINITY, f64::max);
    max + values.map(|v| (v - max).exp()).sum::<f64>().ln()
}

fn column_means(rows: &Rows) -> Vec<f64> {
    let n = rows.len() as f64;
    (0..rows[0].len())
        .map(|k| rows.iter().map(|r| r[k]).sum::<f64>() / n)
        .collect()
}

/// Σ_ij (1/denominator) Σ_r (x_rk − mean_k)(y_rl − mean_l): a cross-covariance.
fn cross_covariance(x: &Rows, y: &Rows, denominator: f64) -> Rows {
    let (mx, my) = (column_means(x), column_means(y));
    let d = x[0].len();
    (0..d)
        .map(|k| {
            (0..d)
                .map(|l| {
                    x.iter()
                        .zip(y)
                        .map(|(a, b)| (a[k] - mx[k]) * (b[l] - my[l]))
                        .sum::<f64>()
                        / denominator
                })
                .collect()
        })
        .collect()
}

fn nt_xent(z: &Rows, z2: &Rows, tau: f64) -> f64 {
    let n = z.len();
    let u = normalized(&z.iter().chain(z2).cloned().collect());
    let mut total = 0.0;
    for i in 0..2 * n {
        let positive = dot(&u[i], &u[(i + n) % (2 * n)]) / tau;
        let others = (0..2 * n)
            .filter(|&j| j != i)
            .map(|j| dot(&u[i], &u[j]) / tau);
        total += log_sum_exp(others) - positive;
    }
    total / (2 * n) as f64
}

fn clip(a: &Rows, b: &Rows, tau: f64) -> f64 {
    let (a, b) = (normalized(a), normalized(b));
    let n = a.len();
    let logit = |i: usize, j: usize| dot(&a[i], &b[j]) / tau;
    let rows: f64 = (0..n)
        .map(|i| log_sum_exp((0..n).map(|j| logit(i, j))) - logit(i, i))
        .sum();
    let columns: f64 = (0..n)
        .map(|j| log_sum_exp((0..n).map(|i| logit(i, j))) - logit(j, j))
        .sum();
    (rows + columns) / (2 * n) as f64
}

fn barlow(z: &Rows, z2: &Rows, lambda: f64) -> f64 {
    barlow_with_eps(z, z2, lambda, 1e-5)
}

/// Barlow Twins with BatchNorm's ε given: barlow(s·z, s·z2) is barlow_with_eps(z, z2, ε/s²).
fn barlow_with_eps(z: &Rows, z2: &Rows, lambda: f64, eps: f64) -> f64 {
    let n = z.len() as f64;
    let c = cross_covariance(&standardized(z, eps), &standardized(z2, eps), n);
    let mut loss = 0.0;
    for (k, row) in c.iter().enumerate() {
        for (l, v) in row.iter().enumerate() {
            loss += if k == l {
                (1.0 - v).powi(2)
            } else {
                lambda * v * v
            };
        }
    }
    loss
}

/// Each column minus its mean, over sqrt(biased variance + ε) (BatchNorm without affine).
fn standardized(x: &Rows, eps: f64) -> Rows {
    let n = x.len() as f64;
    let means = column_means(x);
    let vars: Vec<f64> = (0..x[0].len())
        .map(|k| x.iter().map(|r| (r[k] - means[k]).powi(2)).sum::<f64>() / n)
        .collect();
    x.iter()
        .map(|r| {
            (0..r.len())
                .map(|k| (r[k] - means[k]) / (vars[k] + eps).sqrt())
                .collect()
        })
        .collect()
}

/// Σ_ij (a_i·a_j)(b_i·b_j) = ‖aᵀb‖_F² through the two n×n Gram matrices: O(n²d), where
/// the d×d product is O(nd²).
fn frobenius_of_cross_product(a: &Rows, b: &Rows) -> f64 {
    let n = a.len();
    (0..n)
        .map(|i| {
            (0..n)
                .map(|j| dot(&a[i], &a[j]) * dot(&b[i], &b[j]))
                .sum::<f64>()
        })
        .sum()
}

/// `vicreg_cov` for wide z: Σ_{k≠l} C_kl² = ‖C‖_F² − Σ_k C_kk², ‖C‖_F by the n×n Gram
/// matrix.
fn vicreg_cov_wide(z: &Rows) -> f64 {
    let means = column_means(z);
    let centred: Rows = z
        .iter()
        .map(|r| r.iter().zip(&means).map(|(v, m)| v - m).collect())
        .collect();
    let d = means.len();
    let diagonal: f64 = (0..d)
        .map(|k| centred.iter().map(|r| r[k] * r[k]).sum::<f64>().powi(2))
        .sum();
    let m = (z.len() - 1) as f64;
    (frobenius_of_cross_product(&centred, &centred) - diagonal) / (m * m) / d as f64
}

/// `barlow` for wide z, z2: Σ_k (1 − C_kk)² + λ (‖C‖_F² − Σ_k C_kk²), ‖C‖_F by the n×n
/// Gram matrices.
fn barlow_wide(z: &Rows, z2: &Rows, lambda: f64) -> f64 {
    let n = z.len() as f64;
    let (a, b) = (standardized(z, 1e-5), standardized(z2, 1e-5));
    let diagonal: Vec<f64> = (0..a[0].len())
        .map(|k| a.iter().zip(&b).map(|(x, y)| x[k] * y[k]).sum::<f64>() / n)
        .collect();
    let on: f64 = diagonal.iter().map(|c| (1.0 - c).powi(2)).sum();
    let squares: f64 = diagonal.iter().map(|c| c * c).sum();
    on + lambda * (frobenius_of_cross_product(&a, &b) / (n * n) - squares)
}

fn vicreg_var(z: &Rows, gamma: f64) -> f64 {
    let n = z.len() as f64;
    let means = column_means(z);
    let d = means.len();
    (0..d)
        .map(|k| {
            let var = z.iter().map(|r| (r[k] - means[k]).powi(2)).sum::<f64>() / (n - 1.0);
            (gamma - (var + 1e-4).sqrt()).max(0.0)
        })
        .sum::<f64>()
        / d as f64
}

fn vicreg_cov(z: &Rows) -> f64 {
    let c = cross_covariance(z, z, z.len() as f64 - 1.0);
    let d = c.len();
    let mut off = 0.0;
    for (k, row) in c.iter().enumerate() {
        for (l, v) in row.iter().enumerate() {
            if k != l {
                off += v * v;
            }
        }
    }
    off / d as f64
}

fn byol(p: &Rows, z: &Rows) -> f64 {
    let (p, z) = (normalized(p), normalized(z));
    p.iter()
        .zip(&z)
        .map(|(a, b)| 2.0 - 2.0 * dot(a, b))
        .sum::<f64>()
        / p.len() as f64
}

fn cosine(a: &Rows, b: &Rows) -> f64 {
    let (a, b) = (normalized(a), normalized(b));
    a.iter().zip(&b).map(|(x, y)| 1.0 - dot(x, y)).sum::<f64>() / a.len() as f64
}

fn uniformity(z: &Rows, t: f64) -> f64 {
    let u = normalized(z);
    let n = u.len();
    let mut sum = 0.0;
    for i in 0..n {
        for j in i + 1..n {
            let sq: f64 = u[i].iter().zip(&u[j]).map(|(a, b)| (a - b).powi(2)).sum();
            sum += (-t * sq).exp();
        }
    }
    (sum / (n * (n - 1) / 2) as f64).ln()
}

/// tr Σ^{1/2} from the eigenvalues of Σ (a symmetric eigensolver, not the SVD tregs uses).
fn w2(z: &Rows) -> f64 {
    let u = normalized(z);
    let n = u.len() as f64;
    let mean = column_means(&u);
    let sigma = cross_covariance(&u, &u, n);
    let d = sigma.len();
    let matrix = nalgebra::DMatrix::from_fn(d, d, |k, l| sigma[k][l]);
    let eigen = nalgebra::SymmetricEigen::new(matrix);
    // With n ≤ d, Σ has zero eigenvalues that the solver returns as ±1e-17 or so, whose
    // square roots (3e-9) are noise: they are dropped, as tregs drops tiny singular values.
    let largest = eigen.eigenvalues.iter().copied().fold(0.0, f64::max);
    let sqrt_trace: f64 = eigen
        .eigenvalues
        .iter()
        .filter(|&&l| l > 1e-12 * largest)
        .map(|l| l.sqrt())
        .sum();
    let trace: f64 = (0..d).map(|k| sigma[k][k]).sum();
    (dot(&mean, &mean) + 1.0 + trace - 2.0 / (d as f64).sqrt() * sqrt_trace).sqrt()
}

/// One case: an expression over `z` (and `z2` when `pair`), and its independent reference.
struct Case {
    expression: &'static str,
    reference: fn(&Rows, &Rows) -> f64,
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            expression: "nt_xent(z, z2)",
            reference: |a, b| nt_xent(a, b, 0.1),
        },
        Case {
            expression: "nt_xent(z, z2, τ = 0.5)",
            reference: |a, b| nt_xent(a, b, 0.5),
        },
        Case {
            expression: "clip(z, z2)",
            reference: |a, b| clip(a, b, 0.07),
        },
        Case {
            expression: "clip(z, z2, tau = 1.0)",
            reference: |a, b| clip(a, b, 1.0),
        },
        Case {
            expression: "barlow(z, z2)",
            reference: |a, b| barlow(a, b, 5e-3),
        },
        Case {
            expression: "barlow(z, z2, λ = 0.1)",
            reference: |a, b| barlow(a, b, 0.1),
        },
        Case {
            expression: "vicreg_var(z)",
            reference: |a, _| vicreg_var(a, 1.0),
        },
        Case {
            expression: "vicreg_var(z, γ = 0.8)",
            reference: |a, _| vicreg_var(a, 0.8),
        },
        Case {
            expression: "vicreg_cov(z)",
            reference: |a, _| vicreg_cov(a),
        },
        Case {
            expression: "byol(z, z2)",
            reference: |a, b| byol(a, b),
        },
        Case {
            expression: "uniformity(z)",
            reference: |a, _| uniformity(a, 2.0),
        },
        Case {
            expression: "uniformity(z, t = 0.5)",
            reference: |a, _| uniformity(a, 0.5),
        },
        Case {
            expression: "w2(z)",
            reference: |a, _| w2(a),
        },
        Case {
            expression: "cosine(z, z2)",
            reference: |a, b| cosine(a, b),
        },
    ]
}

fn tensor(rows: &Rows, device: &Device) -> Tensor<2> {
    let (n, d) = (rows.len(), rows[0].len());
    let flat: Vec<f64> = rows.iter().flatten().copied().collect();
    Tensor::from_data(TensorData::new(flat, [n, d]), (device, DType::F64))
}

fn to_vec(t: Tensor<2>) -> Vec<f64> {
    t.into_data().convert::<f64>().try_to_vec().unwrap()
}

/// The value and the gradients with respect to z and z2, through the runtime grammar.
fn evaluate(expression: &str, z: &Rows, z2: &Rows) -> (f64, Vec<f64>, Vec<f64>) {
    evaluate_in(DType::F64, expression, z, z2)
}

/// `evaluate` with the inputs cast to `dtype` (the gradients read back as f64).
fn evaluate_in(dtype: DType, expression: &str, z: &Rows, z2: &Rows) -> (f64, Vec<f64>, Vec<f64>) {
    let device = Device::default().autodiff();
    let loss = RuntimeLoss::parse(expression, &BTreeMap::new()).expect("a valid expression");
    let (tz, tz2) = (
        tensor(z, &device).cast(dtype).require_grad(),
        tensor(z2, &device).cast(dtype).require_grad(),
    );
    let out = loss
        .evaluate(&[("z", &tz), ("z2", &tz2)])
        .expect("valid inputs");
    let grads = out.total().backward();
    let grad = |t: &Tensor<2>| {
        t.grad(&grads)
            .map(to_vec)
            .unwrap_or_else(|| vec![0.0; z.len() * z[0].len()])
    };
    (out.total_value(), grad(&tz), grad(&tz2))
}

fn assert_close(actual: f64, expected: f64, rel: f64, abs: f64, what: &str) {
    assert!(
        (actual - expected).abs() <= abs + rel * expected.abs(),
        "{what}: tregs {actual} vs reference {expected}"
    );
}

#[test]
fn every_loss_matches_its_independent_reference() {
    for (seed, (n, d)) in [(8, 5), (13, 3), (6, 9)].into_iter().enumerate() {
        let z = random_rows(n, d, 2 * seed as u64 + 1);
        let z2 = random_rows(n, d, 2 * seed as u64 + 2);
        for case in cases() {
            let (value, _, _) = evaluate(case.expression, &z, &z2);
            let expected = (case.reference)(&z, &z2);
            assert_close(
                value,
                expected,
                1e-12,
                1e-14,
                &format!("{} at {n}x{d}", case.expression),
            );
        }
    }
}

/// Sixth-order central differences (error O(h⁶); at most 1.2e-10 relative here) are sharp
/// enough to see an f32 rounding anywhere in an f64 backward: burn-autodiff 0.22's
/// `div_scalar` backward multiplies by `1/(divisor as f32)`, a 3e-8 to 2e-6 relative error
/// (barlow, clip, nt_xent, vicreg, w2) that a second-order stencil within 1e-4 had hidden.
#[test]
fn every_gradient_matches_central_finite_differences() {
    let (n, d) = (7, 4);
    let z = random_rows(n, d, 21);
    let z2 = random_rows(n, d, 22);
    let h = 1e-3;
    let mut failures = Vec::new();
    for case in cases() {
        let (_, gz, gz2) = evaluate(case.expression, &z, &z2);
        let mut worst = (0.0f64, String::new());
        for (which, analytic) in [(0, &gz), (1, &gz2)] {
            let largest = analytic.iter().fold(0.0f64, |m, g| m.max(g.abs()));
            for r in 0..n {
                for k in 0..d {
                    let shifted = |delta: f64| {
                        let (mut a, mut b) = (z.clone(), z2.clone());
                        if which == 0 {
                            a[r][k] += delta
                        } else {
                            b[r][k] += delta
                        }
                        (case.reference)(&a, &b)
                    };
                    let difference = |steps: f64| shifted(steps * h) - shifted(-steps * h);
                    let numeric = (45.0 * difference(1.0) - 9.0 * difference(2.0)
                        + difference(3.0))
                        / (60.0 * h);
                    let error = (analytic[r * d + k] - numeric).abs()
                        / numeric.abs().max(1e-3 * largest).max(1e-12);
                    if error > worst.0 {
                        worst = (
                            error,
                            format!(
                                "∂ {} / ∂{}[{r}][{k}]: tregs {} vs {numeric}",
                                case.expression,
                                ["z", "z2"][which],
                                analytic[r * d + k]
                            ),
                        );
                    }
                }
            }
        }
        eprintln!(
            "{:28} worst relative error {:.1e}",
            case.expression, worst.0
        );
        if worst.0 > 1e-9 {
            failures.push(format!("{} (relative error {:.1e})", worst.1, worst.0));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The library composes with T-REGS in one expression: the fused terms and the tensor-op
/// terms add up, each term reported by name.
#[test]
fn barlow_twins_with_tregs_in_one_expression() {
    let device = Device::default().autodiff();
    let (zr, z2r) = (random_rows(16, 6, 5), random_rows(16, 6, 6));
    let (z, z2) = (
        tensor(&zr, &device).require_grad(),
        tensor(&z2r, &device).require_grad(),
    );
    let (γ, λ) = (0.2, 8e-4);
    let out = loss!(barlow(z, z2, λ = 0.01) + γ * (mst_len(z) + mst_len(z2)) + λ * sphere(z))
        .expect("valid inputs");
    let names: Vec<&str> = out.terms().iter().map(|t| t.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "barlow(z, z2, λ = 0.01)",
            "mst_len(z)",
            "mst_len(z2)",
            "sphere(z)"
        ]
    );
    assert_close(
        out.terms()[0].value,
        barlow(&zr, &z2r, 0.01),
        1e-9,
        1e-12,
        "barlow term",
    );
    let weighted: f64 = out.terms().iter().map(|t| t.coef * t.value).sum();
    assert_close(out.total_value(), weighted, 1e-12, 1e-12, "total");
    let grads = out.total().backward();
    assert!(z.grad(&grads).is_some() && z2.grad(&grads).is_some());
}

#[test]
fn bad_options_and_shapes_are_named_errors() {
    let device = Device::default().autodiff();
    let z = tensor(&random_rows(8, 4, 1), &device);
    let z2 = tensor(&random_rows(9, 4, 2), &device);
    let err = loss!(nt_xent(z, z2)).expect_err("8 vs 9 rows");
    assert!(
        err.to_string().contains("shape mismatch 8x4 vs 9x4"),
        "{err}"
    );
    let one = tensor(&random_rows(1, 4, 3), &device);
    let err = loss!(vicreg_cov(one)).expect_err("one row");
    assert!(err.to_string().contains("at least 2 points"), "{err}");
    let tau = 0.0;
    let err = loss!(clip(z, z, τ = (tau))).expect_err("τ = 0");
    assert!(
        err.to_string().contains("τ = 0") && err.to_string().contains("positive"),
        "{err}"
    );
}

/// `clip_scaled(a, b, s)`: the learnable temperature. Its value is `clip` at τ = e^{−s}, and
/// the gradient reaches s (checked by finite differences of the reference in τ).
#[test]
fn clip_with_a_learnable_logit_scale() {
    let device = Device::default().autodiff();
    let (ar, br) = (random_rows(9, 5, 31), random_rows(9, 5, 32));
    let (a, b) = (
        tensor(&ar, &device).require_grad(),
        tensor(&br, &device).require_grad(),
    );
    let s0 = (1.0f64 / 0.07).ln();
    let s = tensor(&vec![vec![s0]], &device).require_grad();
    let out = loss!(clip_scaled(a, b, s)).expect("valid inputs");
    assert_close(
        out.total_value(),
        clip(&ar, &br, 0.07),
        1e-9,
        1e-12,
        "value",
    );
    let grads = out.total().backward();
    let ds = to_vec(s.grad(&grads).expect("s is learnable"))[0];
    let h = 1e-6;
    let numeric =
        (clip(&ar, &br, (-(s0 + h)).exp()) - clip(&ar, &br, (-(s0 - h)).exp())) / (2.0 * h);
    assert_close(ds, numeric, 1e-5, 1e-7, "∂/∂s");
    assert!(a.grad(&grads).is_some() && b.grad(&grads).is_some());

    let wide = tensor(&vec![vec![s0, 0.0]], &device);
    let err = loss!(clip_scaled(a, b, wide)).expect_err("1x2 scale");
    assert!(err.to_string().contains("must be 1x1, not 1x2"), "{err}");
}

/// A fused term on an input other than the first (`mst_len(b)` beside `clip_scaled(a, b, s)`):
/// the fused node sees only `b`, and every input gets the gradient of the terms that read it.
#[test]
fn a_fused_term_on_a_later_input_beside_tensor_op_terms() {
    let device = Device::default().autodiff();
    let (ar, br) = (random_rows(10, 4, 41), random_rows(10, 4, 42));
    let fresh = || {
        (
            tensor(&ar, &device).require_grad(),
            tensor(&br, &device).require_grad(),
            tensor(&vec![vec![2.0]], &device).require_grad(),
        )
    };
    let (a, b, s) = fresh();
    let both = loss!(clip_scaled(a, b, s) + 0.5 * mst_len(b)).expect("valid inputs");
    let grads = both.total().backward();
    let (a1, b1, s1) = fresh();
    let clip_only = loss!(clip_scaled(a1, b1, s1)).expect("valid inputs");
    let clip_grads = clip_only.total().backward();
    let b2 = tensor(&br, &device).require_grad();
    let tree_only = loss!(mst_len(b2)).expect("valid inputs");
    let tree_grads = tree_only.total().backward();

    let expected = clip_only.total_value() + 0.5 * tree_only.total_value();
    assert_close(both.total_value(), expected, 1e-12, 1e-12, "total");
    let pairs = [
        (
            to_vec(a.grad(&grads).unwrap()),
            to_vec(a1.grad(&clip_grads).unwrap()),
        ),
        (
            to_vec(s.grad(&grads).unwrap()),
            to_vec(s1.grad(&clip_grads).unwrap()),
        ),
    ];
    for (got, want) in &pairs {
        for (g, w) in got.iter().zip(want) {
            assert_close(*g, *w, 1e-12, 1e-12, "a or s gradient");
        }
    }
    let gb = to_vec(b.grad(&grads).unwrap());
    let (gb_clip, gb_tree) = (
        to_vec(b1.grad(&clip_grads).unwrap()),
        to_vec(b2.grad(&tree_grads).unwrap()),
    );
    for ((g, c), t) in gb.iter().zip(&gb_clip).zip(&gb_tree) {
        assert_close(*g, c + 0.5 * t, 1e-12, 1e-12, "b gradient");
    }
}

/// A zero row (a dead unit's embedding, a padded sample) gives every normalizing term a
/// finite gradient, as PyTorch's `F.normalize` does, and an unchanged value.
/// The terms that normalize their rows first (`primitives::normalize_rows`).
const NORMALIZING_TERMS: [&str; 6] = [
    "cosine(z, z2)",
    "byol(z, z2)",
    "nt_xent(z, z2)",
    "clip(z, z2)",
    "uniformity(z)",
    "w2(z)",
];

#[test]
fn a_zero_row_gives_finite_gradients_through_every_normalizing_term() {
    let (n, d) = (6, 4);
    let mut z = random_rows(n, d, 41);
    let z2 = random_rows(n, d, 42);
    z[3] = vec![0.0; d];
    for term in NORMALIZING_TERMS {
        let (value, gz, gz2) = evaluate(term, &z, &z2);
        assert!(value.is_finite(), "{term}: value {value}");
        assert!(
            gz.iter().chain(&gz2).all(|g| g.is_finite()),
            "{term}: gradient {gz:?} {gz2:?}"
        );
    }
}

/// Rows whose squared distances overflow f32 (inf − inf in the Gram trick) order no tree:
/// an error saying so from `loss!`, `tree_edges` and `minimum_spanning_tree`, and a NaN
/// row named by each, where Prim's used to panic.
#[test]
fn no_tree_is_an_error_naming_the_cause() {
    let device = Device::default();
    let far = Tensor::<2>::from_data(TensorData::new(vec![-3e20f32, 1e20, 2e20], [3, 1]), &device);
    let err = loss!(mst_len(far))
        .err()
        .expect("overflow is an error")
        .to_string();
    assert!(
        err.starts_with(
            "mst_len(far): evaluates to NaN although its inputs are finite: the values overflow"
        ),
        "{err}"
    );
    let err = tregs::tree_edges(&far).expect_err("overflow").to_string();
    assert!(err.contains("the values overflow"), "{err}");
    let err = tregs::minimum_spanning_tree(&far)
        .expect_err("overflow")
        .to_string();
    assert!(
        err.starts_with("input `z`: its squared distances overflow f32"),
        "{err}"
    );
    let mut rows: Vec<f32> = (0..12).map(|i| i as f32).collect();
    rows[5] = f32::INFINITY;
    let z = Tensor::<2>::from_data(TensorData::new(rows, [4, 3]), &device);
    assert_eq!(
        tregs::tree_edges(&z).expect_err("Inf").to_string(),
        "input `z`: Inf at row 1, column 2"
    );
    assert_eq!(
        tregs::minimum_spanning_tree(&z)
            .expect_err("Inf")
            .to_string(),
        "input `z`: Inf at row 1, column 2"
    );
    assert_eq!(
        tregs::tree_edges(&z.clone().slice([0..1, 0..3]))
            .expect_err("one row")
            .to_string(),
        "mst_len(z): needs at least 2 points for a tree; `z` has 1 row"
    );
}

/// `mst_len(z)` beside `mst_len(z, scope = global)`: in one process the same value, each
/// term weighted on its own, the gradient that of the summed weight.
#[test]
fn a_term_written_twice_with_and_without_a_scope_adds_up() {
    let device = Device::default().autodiff();
    let rows: Vec<f32> = (0..40).map(|i| ((i * 37 % 23) as f32) / 7.0).collect();
    let z = Tensor::<2>::from_data(TensorData::new(rows.clone(), [10, 4]), &device).require_grad();
    let out = loss!(0.5 * mst_len(z) + 0.25 * mst_len(z, scope = global)).expect("valid");
    let grads = out.total().backward();
    let twice = to_vec(z.grad(&grads).expect("grad"));
    let z1 = Tensor::<2>::from_data(TensorData::new(rows, [10, 4]), &device).require_grad();
    let once = loss!(0.75 * mst_len(z1)).expect("valid");
    let grads = once.total().backward();
    let expected = to_vec(z1.grad(&grads).expect("grad"));
    let terms = out.terms();
    assert_eq!(terms.len(), 2);
    assert_eq!(terms[0].value, terms[1].value);
    assert!((out.total_value() - once.total_value()).abs() < 1e-6);
    for (a, b) in twice.iter().zip(&expected) {
        assert!((a - b).abs() <= 1e-6, "{a} vs {b}");
    }
}

/// A coefficient is applied in the inputs' dtype: one past f32's range is an error for f32
/// inputs (an infinite weight would make the total and every gradient infinite), and a
/// value like any other for f64 inputs.
#[test]
fn coefficients_must_be_finite_in_the_inputs_dtype() {
    let device = Device::default().autodiff();
    let rows = random_rows(8, 3, 41);
    let z64 = tensor(&rows, &device);
    let z32 = z64.clone().cast(DType::F32);
    let big = 1e300;
    let err = loss!(big * mst_len(z32)).expect_err("1e300 in f32");
    assert_eq!(
        err.to_string(),
        "mst_len(z32): its coefficient is 1e300, past the range of the inputs' dtype F32"
    );
    let nan = f64::NAN;
    let err = loss!(nan * mst_len(z32)).expect_err("NaN");
    assert_eq!(err.to_string(), "mst_len(z32): its coefficient is NaN");
    let out = loss!(big * mst_len(z64)).expect("1e300 is an f64");
    assert!(out.total_value().is_finite() && out.total_value() < 0.0);
}

/// The same coefficient through `RuntimeLoss` (a config, `--coef`): finite, so it parses;
/// `check_dtype` and evaluation then hold it to the inputs' dtype, with one message.
#[test]
fn runtime_coefficients_are_held_to_the_dtype_they_are_evaluated_in() {
    let device = Device::default().autodiff();
    let rows = random_rows(8, 3, 43);
    let z64 = tensor(&rows, &device);
    let z32 = z64.clone().cast(DType::F32);
    let coefficients = BTreeMap::from([("big".to_string(), 1e300)]);
    let loss = RuntimeLoss::parse("big*mst_len(z)", &coefficients).expect("finite");
    let expected = "mst_len(z): its coefficient is 1e300, past the range of the inputs' dtype F32";
    assert_eq!(
        loss.check_dtype(DType::F32).unwrap_err().to_string(),
        expected
    );
    assert_eq!(
        loss.evaluate(&[("z", &z32)]).unwrap_err().to_string(),
        expected
    );
    loss.check_dtype(DType::F64).expect("1e300 is an f64");
    let out = loss.evaluate(&[("z", &z64)]).expect("1e300 is an f64");
    assert!(out.total_value().is_finite() && out.total_value() < 0.0);
}

/// A term is found by its name however its options are spelt or spaced.
#[test]
fn terms_are_found_by_either_spelling_of_their_options() {
    let device = Device::default().autodiff();
    let z = tensor(&random_rows(8, 3, 44), &device);
    let z2 = tensor(&random_rows(8, 3, 45), &device);
    let out = loss!(barlow(z, z2, lambda = 1e-2) + mst_len(z)).expect("valid");
    let canonical = out.terms()[0].name.clone();
    assert_eq!(canonical, "barlow(z, z2, λ = 1e-2)");
    for spelling in [
        canonical.as_str(),
        "barlow(z,z2,lambda=1e-2)",
        "barlow(z, z2, lambda = 1e-2)",
    ] {
        let term = out.term(spelling).unwrap_or_else(|| panic!("{spelling}"));
        assert_eq!(term.name, canonical);
    }
    assert!(out.term("barlow(z, z2, λ = 2e-2)").is_none());
    assert!(out.term("mst_len(z)").is_some());
}

/// The rows rounded to f32, so that f32 and f64 evaluations see the same inputs.
fn f32_rows(rows: &Rows) -> Rows {
    rows.iter()
        .map(|r| r.iter().map(|&v| v as f32 as f64).collect())
        .collect()
}

/// The largest gradient difference relative to the largest reference gradient.
fn gradient_error(actual: &[f64], expected: &[f64]) -> f64 {
    let largest = expected.iter().fold(0.0f64, |m, g| m.max(g.abs()));
    let worst = actual
        .iter()
        .zip(expected)
        .fold(0.0f64, |m, (a, e)| m.max((a - e).abs()));
    worst / largest
}

/// Large reductions in f32 are accurate to about pairwise summation: vicreg_cov and barlow
/// sum a d×d matrix (d = 8192: 67M elements), w2 and uniformity take column means over
/// n rows and uniformity sums an n×n matrix of exponentials. burn Flex's f32 reductions
/// accumulate one element after another (vicreg_cov and barlow were 18% off here).
#[test]
fn large_f32_reductions_match_f64() {
    let (z, z2) = (
        f32_rows(&random_rows(128, 8192, 51)),
        f32_rows(&random_rows(128, 8192, 52)),
    );
    let (value, _, _) = evaluate_in(DType::F32, "vicreg_cov(z)", &z, &z2);
    assert_close(
        value,
        vicreg_cov_wide(&z),
        1e-4,
        0.0,
        "vicreg_cov(z) at 128x8192 in f32",
    );
    let (value, _, _) = evaluate_in(DType::F32, "barlow(z, z2)", &z, &z2);
    let expected = barlow_wide(&z, &z2, 5e-3);
    assert_close(
        value,
        expected,
        1e-4,
        0.0,
        "barlow(z, z2) at 128x8192 in f32",
    );

    for (expression, n, d) in [("w2(z)", 2048, 256), ("uniformity(z)", 8192, 16)] {
        let z = f32_rows(&random_rows(n, d, 53));
        let (value, gradient, _) = evaluate_in(DType::F32, expression, &z, &z);
        let (expected, expected_gradient, _) = evaluate(expression, &z, &z);
        let what = format!("{expression} at {n}x{d} in f32");
        assert_close(value, expected, 1e-4, 0.0, &what);
        let error = gradient_error(&gradient, &expected_gradient);
        assert!(error < 1e-3, "{what}: gradient error {error:.1e}");
    }
}

/// Rows whose squared norms overflow (1e20 in f32, 1e200 in f64): every term that
/// normalizes the rows, and barlow's standardization, give the value and the gradient
/// (times the scale) of the same rows at a moderate scale, where they used to turn into
/// zeros (cosine(z, z2) was 1, barlow 8).
#[test]
fn huge_rows_give_the_values_and_gradients_of_moderate_ones() {
    let (n, d) = (12, 5);
    let (z, z2) = (random_rows(n, d, 61), random_rows(n, d, 62));
    let scaled = |rows: &Rows, s: f64| -> Rows {
        rows.iter()
            .map(|r| r.iter().map(|v| v * s).collect())
            .collect()
    };
    let moderate = 1e3;
    let mut failures = Vec::new();
    for (dtype, huge, tolerance) in [(DType::F32, 1e20, 1e-4), (DType::F64, 1e200, 1e-9)] {
        for term in NORMALIZING_TERMS.into_iter().chain(["barlow(z, z2)"]) {
            let (value, gz, gz2) = evaluate_in(dtype, term, &scaled(&z, huge), &scaled(&z2, huge));
            let (expected, ez, ez2) =
                evaluate_in(dtype, term, &scaled(&z, moderate), &scaled(&z2, moderate));
            let rescale =
                |g: Vec<f64>| -> Vec<f64> { g.iter().map(|v| v * huge / moderate).collect() };
            let (gz, gz2) = (rescale(gz), rescale(gz2));
            let error = gradient_error(&[gz, gz2].concat(), &[ez, ez2].concat());
            let value_error = (value - expected).abs() / expected.abs().max(1e-3);
            if !(value_error <= tolerance && error <= tolerance) {
                failures.push(format!(
                    "{term} at scale {huge:e} in {dtype:?}: value {value} vs {expected}, gradient error {error:.1e}"
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A nearly collapsed batch (128 rows within about 3e-4 rad of one direction): the Gram
/// trick on the normalized rows cancelled |û|² against û·û' and lost the gradient's digits
/// (13–29% off in f32); centred on their mean the rows keep it to f32's conditioning.
#[test]
fn uniformity_of_a_nearly_collapsed_batch_has_an_accurate_f32_gradient() {
    let (n, d) = (128, 8);
    let direction = normalized(&random_rows(1, d, 71)).remove(0);
    let wiggle = random_rows(n, d, 72);
    let lengths = random_rows(n, 1, 73);
    let z: Rows = (0..n)
        .map(|i| {
            (0..d)
                .map(|k| (direction[k] + 1e-4 * wiggle[i][k]) * (1.5 + 0.5 * lengths[i][0]))
                .collect()
        })
        .collect();
    let z = f32_rows(&z);
    let mut failures = Vec::new();
    for term in ["uniformity(z)", "uniformity(z, t = 0.5)"] {
        let (_, gradient, _) = evaluate_in(DType::F32, term, &z, &z);
        let (_, expected, _) = evaluate(term, &z, &z);
        let error = gradient_error(&gradient, &expected);
        eprintln!("{term}: f32 gradient error {error:.1e}");
        if error > 2e-3 {
            failures.push(format!("{term}: f32 gradient error {error:.1e}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
