//! Collapse is visible in the metrics: a fully collapsed batch (every point the same up to
//! noise), a dimensionally collapsed one (points on a 2-D subspace of R^16) and a uniform
//! one on S^15 are ordered by effective rank, uniformity and MST dimension; and each metric
//! matches a value known in closed form.

mod common;

use tregs::metrics::{
    alignment, cosine_stats, effective_rank, modality_gap, mst_dimension, mst_length, uniformity,
    BatchMetrics,
};

const N: usize = 256;
const D: usize = 16;

fn gaussian(len: usize, seed: u64) -> Vec<f64> {
    let mut next_word = common::xorshift(seed);
    let mut unit = move || {
        let state = next_word();
        ((state >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    };
    (0..len)
        .map(|_| (-2.0 * unit().ln()).sqrt() * (std::f64::consts::TAU * unit()).cos())
        .collect()
}

fn uniform_on_sphere() -> Vec<f64> {
    gaussian(N * D, 1)
}

fn dimensionally_collapsed() -> Vec<f64> {
    // Two latent coordinates spread over all 16 through a fixed mixing.
    let latent = gaussian(N * 2, 2);
    let mix = gaussian(2 * D, 3);
    (0..N)
        .flat_map(|i| {
            let (a, b) = (latent[2 * i], latent[2 * i + 1]);
            (0..D)
                .map(|k| a * mix[k] + b * mix[D + k])
                .collect::<Vec<_>>()
        })
        .collect()
}

fn collapsed() -> Vec<f64> {
    let center = gaussian(D, 4);
    let noise = gaussian(N * D, 5);
    (0..N * D)
        .map(|x| center[x % D] + 1e-3 * noise[x])
        .collect()
}

#[test]
fn collapse_orders_rank_uniformity_and_tree_dimension() {
    let [full, dim, point] = [uniform_on_sphere(), dimensionally_collapsed(), collapsed()]
        .map(|x| BatchMetrics::of(&x, N, D));
    assert!(
        full.effective_rank > dim.effective_rank + 5.0 && dim.effective_rank > point.effective_rank,
        "effective rank: {} / {} / {}",
        full.effective_rank,
        dim.effective_rank,
        point.effective_rank
    );
    assert!(
        dim.effective_rank < 2.5,
        "2-D data: rank {}",
        dim.effective_rank
    );
    assert!(
        full.uniformity < dim.uniformity && dim.uniformity < point.uniformity,
        "uniformity: {} / {} / {}",
        full.uniformity,
        dim.uniformity,
        point.uniformity
    );
    assert!(
        point.uniformity > -0.01,
        "a collapsed batch has L_u ≈ 0: {}",
        point.uniformity
    );
    assert!(
        full.mst_dimension > dim.mst_dimension + 3.0,
        "tree dimension: {} vs {}",
        full.mst_dimension,
        dim.mst_dimension
    );
    assert!(
        (1.3..3.0).contains(&dim.mst_dimension),
        "points on a plane: tree dimension {}",
        dim.mst_dimension
    );
    assert!(point.cosine_mean > 0.99 && full.cosine_mean.abs() < 0.01);
}

#[test]
fn closed_form_values() {
    // An orthonormal basis: rank d, pairwise cosine 0, uniformity log e^{−2t}.
    let d = 8;
    let eye: Vec<f64> = (0..d * d)
        .map(|x| f64::from(u8::from(x / d == x % d)))
        .collect();
    let rank = effective_rank(&eye, d, d);
    assert!((rank - d as f64).abs() < 1e-4, "rank {rank}");
    assert!((uniformity(&eye, d, d, 2.0) + 4.0).abs() < 1e-12);
    assert_eq!(cosine_stats(&eye, d, d), (0.0, 0.0));
    // Its MST: d − 1 edges of length √2.
    assert!((mst_length(&eye, d, d) - (d as f64 - 1.0) * 2f64.sqrt()).abs() < 1e-12);
    // Points on a line, evenly spaced: the tree dimension of a segment is 1.
    let line: Vec<f64> = (0..512).map(|i| (i as f64 * 0.618_034).fract()).collect();
    let k = mst_dimension(&line, 512, 1);
    assert!((k - 1.0).abs() < 0.1, "segment: {k}");
    // Alignment of a batch with itself is 0; with its negation, 2^α.
    let x = gaussian(20 * 4, 9);
    let neg: Vec<f64> = x.iter().map(|v| -v).collect();
    assert!(alignment(&x, &x, 20, 4, 2.0).abs() < 1e-12);
    assert!((alignment(&x, &neg, 20, 4, 2.0) - 4.0).abs() < 1e-9);
    // Modality gap of two antipodal clusters: 2.
    let a = vec![1.0, 0.0, 2.0, 0.0];
    let b = vec![-3.0, 0.0, -1.0, 0.0];
    assert!((modality_gap(&a, 2, &b, 2, 2) - 2.0).abs() < 1e-12);
}

/// A batch collapsed to one point has a tree of length 0 at every subsample size: tree
/// dimension 0 (its logarithm used to make the fit NaN, read as 1e9, "fully spread"). A
/// batch with a NaN has no tree: NaN, not a panic in Prim's.
#[test]
fn a_collapsed_batch_has_tree_dimension_zero_and_nan_has_none() {
    let one_point: Vec<f64> = (0..64 * 4).map(|i| [0.3, -1.0, 2.0, 0.5][i % 4]).collect();
    assert_eq!(mst_dimension(&one_point, 64, 4), 0.0);
    assert_eq!(mst_length(&one_point, 64, 4), 0.0);
    let mut with_nan = gaussian(64 * 4, 3);
    with_nan[17] = f64::NAN;
    assert!(mst_length(&with_nan, 64, 4).is_nan());
    assert!(mst_dimension(&with_nan, 64, 4).is_nan());
}
