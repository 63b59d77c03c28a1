//! Every unsafe path of the CPU kernels, on small inputs that cross their block
//! boundaries: the Gram micro-kernels and their packing and stores (every SIMD build),
//! the rows variant, the shared output written by the rayon workers, the per-thread
//! distance buffer, Prim's relax step, Borůvka's row scan and the f64 row passes.
//!
//! Natively this is an ordinary test (the other files test the same code at larger sizes).
//! It is the suite that `.ci/miri.sh` runs under Miri, which interprets each operation and
//! stops on undefined behaviour: an out-of-bounds or misaligned access, a read of
//! uninitialized memory, a data race between the workers, a pointer used against Rust's
//! aliasing rules (Tree Borrows). The script runs it twice, once with AVX-512 enabled and
//! once with AVX2 only, so the AVX-512 builds, which this project's 2-core machines
//! cannot execute, run somewhere and are compared with the portable code.

mod common;

use common::{edge_set, to_f32, Cloud};
use tregs_kernels::{
    accumulate_tree_gradient, add_scaled, add_scaled_difference, edge_lengths, kruskal_on_matrix,
    kruskal_reference_f64, minimum_spanning_tree, pairwise_sq_distances_into,
    pairwise_sq_distances_rows_with, pairwise_sq_distances_with, prim_mst, sq_distance, sq_norm,
    store_rounded, GramKernel, Real, ShardedBoruvka,
};

/// n crosses the widest panel (f32: 48 columns, f64: 24) and the 16-row store blocks, d a
/// k block (128), in separate sizes: every full and partial tile of every build runs, and
/// tiles that add a second k block to their first. Miri runs this file about a million
/// times slower than native code: these sizes keep it to minutes there.
const SIZES_F32: [(usize, usize); 3] = [(2, 1), (17, 129), (49, 3)];
const SIZES_F64: [(usize, usize); 3] = [(2, 1), (13, 129), (25, 3)];

fn kernels() -> Vec<GramKernel> {
    [
        GramKernel::Portable,
        GramKernel::Avx2Fma,
        GramKernel::Avx512,
    ]
    .into_iter()
    .filter(|k| k.is_available())
    .collect()
}

fn check_distances<T: Real + std::fmt::Debug>(x64: &[f64], n: usize, d: usize) {
    let x: Vec<T> = x64.iter().map(|&v| T::from_f64(v)).collect();
    let portable = pairwise_sq_distances_with(&x, n, d, GramKernel::Portable);
    // Gram cancellation error ~ eps * d * (|y_i|^2 + |y_j|^2), |y|^2 ~ d here.
    let eps = if std::mem::size_of::<T>() == 4 {
        6e-8
    } else {
        1.2e-16
    };
    let tol = 8.0 * eps * (d as f64 + 4.0) * 2.0 * (d as f64 + 1.0);
    let auto = GramKernel::Auto.resolve();
    let mut auto_full = Vec::new();
    for kernel in kernels() {
        let full = pairwise_sq_distances_with(&x, n, d, kernel);
        for i in 0..n {
            assert_eq!(
                full[i * n + i].to_f64(),
                0.0,
                "{kernel:?} n={n} d={d}: diagonal"
            );
            for j in 0..n {
                let (a, b) = (full[i * n + j].to_f64(), portable[i * n + j].to_f64());
                assert_eq!(a.to_bits(), full[j * n + i].to_f64().to_bits(), "symmetry");
                assert!(
                    a >= 0.0 && (a - b).abs() <= tol,
                    "{kernel:?} n={n} d={d} at ({i}, {j}): {a} against portable {b}"
                );
            }
        }
        // Rows starting and ending mid-panel: the same bits as the full matrix.
        for rows in [1..n, n / 2..n / 2 + 1] {
            let block = pairwise_sq_distances_rows_with(&x, n, d, rows.clone(), kernel);
            for (r, i) in rows.enumerate() {
                for j in 0..n {
                    assert_eq!(
                        block[r * n + j].to_f64().to_bits(),
                        full[i * n + j].to_f64().to_bits(),
                        "{kernel:?} n={n} d={d}: row {i} of the rows variant"
                    );
                }
            }
        }
        if kernel == auto {
            auto_full = full;
        }
    }
    // The output buffer given by the caller, every entry overwritten.
    let mut out = vec![T::from_f64(f64::NAN); n * n];
    pairwise_sq_distances_into(&x, n, d, GramKernel::Auto, &mut out);
    assert_eq!(out.len(), auto_full.len());
    assert!(out
        .iter()
        .zip(&auto_full)
        .all(|(a, b)| a.to_f64() == b.to_f64()));
}

#[test]
fn distances_of_every_build_f32() {
    for (n, d) in SIZES_F32 {
        check_distances::<f32>(&Cloud::Gaussian.generate(n, d, n as u64), n, d);
    }
}

#[test]
fn distances_of_every_build_f64() {
    for (n, d) in SIZES_F64 {
        check_distances::<f64>(&Cloud::Uniform.generate(n, d, 7 + n as u64), n, d);
    }
}

/// The whole CPU pipeline on one cloud (shifted Gram distances in the thread's reusable
/// buffer, Prim, lengths from the coordinates, gradient), against Kruskal in f64.
#[test]
fn tree_and_gradient_pipeline() {
    let (n, d) = (49, 5);
    let x64 = Cloud::Gaussian.generate(n, d, 11);
    let x = to_f32(&x64);
    let tree = minimum_spanning_tree(&x, n, d);
    let x_rounded: Vec<f64> = x.iter().map(|&v| v as f64).collect();
    assert_eq!(
        edge_set(&tree.edges),
        edge_set(&kruskal_reference_f64(&x_rounded, n, d))
    );
    let lengths = edge_lengths(&x, d, &tree.edges);
    let mut grad = vec![0.0f32; n * d];
    accumulate_tree_gradient(&x, d, &tree, 1.0, &mut grad);
    let mut expected = vec![0.0f64; n * d];
    for (&(u, v), &l) in tree.edges.iter().zip(&lengths) {
        let (u, v) = (u as usize, v as usize);
        for k in 0..d {
            let f = (x_rounded[u * d + k] - x_rounded[v * d + k]) / l;
            expected[u * d + k] += f;
            expected[v * d + k] -= f;
        }
    }
    for (k, (&g, &e)) in grad.iter().zip(&expected).enumerate() {
        assert!(
            (g as f64 - e).abs() <= 1e-5 * (1.0 + e.abs()),
            "entry {k}: {g} vs {e}"
        );
    }
}

/// Prim's relax step on matrices with many exact ties (its exact-comparison path), f32 and
/// f64, for n around the vector widths.
#[test]
fn prim_on_tied_matrices() {
    for n in [2usize, 17, 40] {
        let x = Cloud::GridDuplicates.generate(n, 2, n as u64);
        let d2 = pairwise_sq_distances_with(&x, n, 2, GramKernel::Portable);
        let same = |a: &[(u32, u32)], b: &[(u32, u32)]| edge_set(a) == edge_set(b);
        assert!(
            same(&prim_mst(&d2, n), &kruskal_on_matrix(&d2, n)),
            "f64 n={n}"
        );
        let d2: Vec<f32> = d2.iter().map(|&v| v as f32).collect();
        assert!(
            same(&prim_mst(&d2, n), &kruskal_on_matrix(&d2, n)),
            "f32 n={n}"
        );
    }
}

/// Borůvka over two shards of rows, one state per shard as in two processes (its row scan
/// and proposal cache), to completion.
#[test]
fn sharded_boruvka_scan() {
    let (n, d) = (40, 3);
    let x = to_f32(&Cloud::Gaussian.generate(n, d, 5));
    let d2 = pairwise_sq_distances_with(&x, n, d, GramKernel::Portable);
    let shards = [0..n / 2 - 3, n / 2 - 3..n];
    let blocks: Vec<&[f32]> = shards.iter().map(|r| &d2[r.start * n..r.end * n]).collect();
    let mut states = [ShardedBoruvka::new(n), ShardedBoruvka::new(n)];
    while !states[0].is_done() {
        let (mut weights, mut pairs) = states[0].propose(blocks[0], shards[0].clone());
        let (w, p) = states[1].propose(blocks[1], shards[1].clone());
        ShardedBoruvka::combine(&mut weights, &mut pairs, &w, &p);
        for state in &mut states {
            state.merge(&weights, &pairs);
        }
    }
    assert_eq!(edge_set(&states[0].edges()), edge_set(&prim_mst(&d2, n)));
}

/// The f64 row passes on every remainder of their 8 lanes.
#[test]
fn row_passes_on_every_remainder() {
    for len in (0..=17).chain([64, 65]) {
        let a: Vec<f32> = (0..len).map(|k| (k as f32 * 0.37).sin()).collect();
        let b: Vec<f32> = (0..len).map(|k| (k as f32 * 0.11).cos()).collect();
        let norm: f64 = a.iter().map(|&v| (v as f64).powi(2)).sum();
        let dist: f64 = a
            .iter()
            .zip(&b)
            .map(|(&u, &v)| (u as f64 - v as f64).powi(2))
            .sum();
        assert!(
            (sq_norm(&a) - norm).abs() <= 1e-12 * norm.max(1.0),
            "len {len}"
        );
        assert!((sq_distance(&a, &b) - dist).abs() <= 1e-12 * dist.max(1.0));
        let mut acc = vec![1.0f64; len];
        add_scaled(&mut acc, 2.0, &a);
        add_scaled_difference(&mut acc, -1.0, &a, &b);
        let mut out = vec![0.0f32; len];
        store_rounded(&mut out, &acc);
        for k in 0..len {
            let e = 1.0 + 2.0 * a[k] as f64 - (a[k] as f64 - b[k] as f64);
            assert_eq!(out[k], e as f32, "len {len}, entry {k}");
        }
    }
}
