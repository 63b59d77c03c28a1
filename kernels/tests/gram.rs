//! Squared-distance matrix: SIMD kernels vs portable kernel vs direct f64 sums.

mod common;

use common::{to_f32, Cloud, SplitMix};
use tregs_kernels::{
    pairwise_sq_distances, pairwise_sq_distances_into, pairwise_sq_distances_peak_bytes,
    pairwise_sq_distances_scratch_bytes, pairwise_sq_distances_with, GramKernel,
};

/// Sizes around the panel widths (48 / 24 / 12 / 8 / 4), tile heights (8 / 4), the
/// 16-row store blocks and the k blocks (128 / 256).
const AWKWARD_N: [usize; 14] = [1, 2, 3, 5, 7, 15, 16, 17, 47, 48, 49, 95, 97, 130];
const AWKWARD_D: [usize; 10] = [1, 2, 3, 15, 16, 17, 127, 129, 257, 300];

fn simd_kernels() -> Vec<GramKernel> {
    [GramKernel::Avx512, GramKernel::Avx2Fma]
        .into_iter()
        .filter(|k| k.is_available())
        .collect()
}

fn direct_d2(x: &[f64], n: usize, d: usize) -> Vec<f64> {
    let mut d2 = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..n {
            d2[i * n + j] = (0..d).map(|k| (x[i * d + k] - x[j * d + k]).powi(2)).sum();
        }
    }
    d2
}

/// Exactly symmetric, exactly zero diagonal, non-negative.
fn assert_well_formed<T: Copy + PartialEq + PartialOrd + Default + std::fmt::Debug>(
    d2: &[T],
    n: usize,
) {
    for i in 0..n {
        assert!(d2[i * n + i] == T::default(), "diagonal ({i}, {i})");
        for j in 0..n {
            assert!(d2[i * n + j] == d2[j * n + i], "asymmetric at ({i}, {j})");
            assert!(d2[i * n + j] >= T::default(), "negative at ({i}, {j})");
        }
    }
}

#[test]
fn simd_equals_portable_on_awkward_sizes_f32() {
    let kernels = simd_kernels();
    // Builds this CPU cannot run: see `simd_builds_this_cpu_cannot_run_are_declared`.
    for &n in &AWKWARD_N {
        for &d in &AWKWARD_D {
            let x64 = Cloud::Gaussian.generate(n, d, (n * 1000 + d) as u64);
            let x = to_f32(&x64);
            let portable = pairwise_sq_distances_with(&x, n, d, GramKernel::Portable);
            assert_well_formed(&portable, n);
            let exact = direct_d2(&x.iter().map(|&v| v as f64).collect::<Vec<_>>(), n, d);
            // Gram cancellation error ~ eps * d * (|y_i|^2 + |y_j|^2); |y|^2 ~ d here.
            let tol = 4e-7 * (d as f64 + 4.0) * 2.0 * (d as f64 + 1.0);
            for (a, b) in portable.iter().zip(&exact) {
                assert!(
                    (*a as f64 - b).abs() <= tol,
                    "portable n={n} d={d}: {a} vs {b}"
                );
            }
            for &kernel in &kernels {
                let simd = pairwise_sq_distances_with(&x, n, d, kernel);
                assert_well_formed(&simd, n);
                for (idx, (a, b)) in simd.iter().zip(&portable).enumerate() {
                    assert!(
                        ((a - b) as f64).abs() <= tol,
                        "{kernel:?} n={n} d={d} at ({}, {}): {a} vs {b}",
                        idx / n,
                        idx % n
                    );
                }
            }
        }
    }
}

#[test]
fn simd_equals_portable_on_awkward_sizes_f64() {
    for &n in &AWKWARD_N {
        for &d in &AWKWARD_D {
            let x = Cloud::Uniform.generate(n, d, (n * 7 + d) as u64);
            let portable = pairwise_sq_distances_with(&x, n, d, GramKernel::Portable);
            assert_well_formed(&portable, n);
            let exact = direct_d2(&x, n, d);
            let tol = 1e-15 * (d as f64 + 4.0) * (d as f64 + 1.0);
            for (a, b) in portable.iter().zip(&exact) {
                assert!((a - b).abs() <= tol, "portable n={n} d={d}: {a} vs {b}");
            }
            for kernel in simd_kernels() {
                let simd = pairwise_sq_distances_with(&x, n, d, kernel);
                assert_well_formed(&simd, n);
                for (a, b) in simd.iter().zip(&portable) {
                    assert!((a - b).abs() <= tol, "{kernel:?} n={n} d={d}: {a} vs {b}");
                }
            }
        }
    }
}

#[test]
fn integer_clouds_are_exact_in_every_kernel() {
    // Small integers: every product and sum is exact, whatever the rounding sequence.
    for &(n, d) in &[(2, 1), (49, 17), (130, 63), (200, 5)] {
        let x64 = Cloud::GridDuplicates.generate(n, d, 99 + n as u64);
        let exact = direct_d2(&x64, n, d);
        let x32 = to_f32(&x64);
        for kernel in [GramKernel::Portable].into_iter().chain(simd_kernels()) {
            let d2_32 = pairwise_sq_distances_with(&x32, n, d, kernel);
            let d2_64 = pairwise_sq_distances_with(&x64, n, d, kernel);
            for ((&a, &b), &e) in d2_32.iter().zip(&d2_64).zip(&exact) {
                assert_eq!(a as f64, e, "{kernel:?} f32");
                assert_eq!(b, e, "{kernel:?} f64");
            }
        }
    }
}

#[test]
fn duplicate_rows_have_exactly_zero_distance() {
    let (n, d) = (150, 77);
    let x = to_f32(&Cloud::GaussianDuplicates.generate(n, d, 5));
    for kernel in [GramKernel::Portable].into_iter().chain(simd_kernels()) {
        let d2 = pairwise_sq_distances_with(&x, n, d, kernel);
        for i in 0..n {
            for j in 0..n {
                if x[i * d..(i + 1) * d] == x[j * d..(j + 1) * d] {
                    assert_eq!(d2[i * n + j], 0.0, "{kernel:?} ({i}, {j})");
                } else {
                    assert!(d2[i * n + j] > 0.0);
                }
            }
        }
    }
}

#[test]
fn far_from_origin_keeps_precision() {
    // A unit-scale cloud shifted by 1e4: centering keeps the f32 Gram error at the
    // cloud's scale instead of 1e8 * eps.
    let (n, d) = (100, 32);
    let mut rng = SplitMix(3);
    let x: Vec<f32> = (0..n * d)
        .map(|_| (1e4 + (rng.gaussian() * 256.0).round() / 256.0) as f32)
        .collect();
    let d2 = pairwise_sq_distances(&x, n, d);
    let exact = direct_d2(&x.iter().map(|&v| v as f64).collect::<Vec<_>>(), n, d);
    for (a, b) in d2.iter().zip(&exact) {
        assert!((*a as f64 - b).abs() <= 1e-4 * (1.0 + b), "{a} vs {b}");
    }
}

#[test]
fn into_overwrites_and_memory_bound() {
    let (n, d) = (61, 9);
    let x = to_f32(&Cloud::Gaussian.generate(n, d, 1));
    let mut out = vec![f32::NAN; n * n];
    pairwise_sq_distances_into(&x, n, d, GramKernel::Auto, &mut out);
    assert_eq!(out, pairwise_sq_distances(&x, n, d));

    let (n, d) = (4096usize, 2048usize);
    let output = n * n * 4;
    let scratch = pairwise_sq_distances_scratch_bytes::<f32>(n, d);
    assert_eq!(
        pairwise_sq_distances_peak_bytes::<f32>(n, d),
        output + scratch
    );
    // O(n d + block): at most about two copies of the input plus small buffers.
    assert!(scratch <= 2 * n * d * 4 + (1 << 22), "scratch {scratch}");
}

/// The x86_64 SIMD builds (the Gram micro-kernels, Borůvka's row scan, Prim's relax step)
/// run only on CPUs with their features, and the tests compare each one that can run here
/// with the portable code. One that cannot run here goes untested here, which must be
/// said, not skipped in silence: this test fails unless `TREGS_UNTESTED_SIMD` names it.
/// `.ci/test.sh` sets it from `/proc/cpuinfo` and prints a line saying what was not run.
#[test]
#[cfg(target_arch = "x86_64")]
fn simd_builds_this_cpu_cannot_run_are_declared() {
    use std::arch::is_x86_feature_detected as has;
    let builds = [
        (
            "avx512",
            has!("avx512f") && has!("avx512vl") && has!("avx512bw") && has!("avx512dq"),
        ),
        ("avx2", has!("avx2") && has!("fma")),
    ];
    let declared = std::env::var("TREGS_UNTESTED_SIMD").unwrap_or_default();
    let declared: Vec<&str> = declared.split(',').map(str::trim).collect();
    for (name, runs_here) in builds {
        assert!(
            runs_here || declared.contains(&name),
            "this CPU cannot run the {name} builds, so no test here compares them with the \
             portable code; set TREGS_UNTESTED_SIMD={name} to acknowledge it (.ci/test.sh does)"
        );
        assert!(
            !(runs_here && declared.contains(&name)),
            "TREGS_UNTESTED_SIMD names {name}, which this CPU runs (and the tests compare)"
        );
    }
}
