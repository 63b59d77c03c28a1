//! What the GPU tests share: the device, reproducible clouds, and the comparisons of the
//! GPU path with the CPU path. (Each test binary uses its own part of it.)
#![allow(dead_code)]

use burn::tensor::{Device, Tensor, TensorData};
use tregs::{burn, loss, tree_edges, wgpu_device};
use tregs_kernels::clouds::{antipodal_clusters, great_circle_groups, to_f32};

pub fn gpu() -> Device {
    wgpu_device().unwrap_or_else(|e| panic!("{e}"))
}

/// A reproducible Gaussian cloud (xorshift + Box–Muller), shifted by `offset`.
pub fn gaussian(n: usize, d: usize, seed: u64, offset: f32) -> Vec<f32> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut uniform = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        ((state >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    };
    (0..n * d)
        .map(|_| {
            let (u, v) = (uniform(), uniform());
            ((-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()) as f32 + offset
        })
        .collect()
}

pub fn tensor(data: &[f32], n: usize, d: usize, device: &Device) -> Tensor<2> {
    Tensor::from_data(TensorData::new(data.to_vec(), [n, d]), device)
}

pub fn gradient(t: &Tensor<2>, grads: &burn::tensor::Gradients) -> Vec<f32> {
    t.grad(grads)
        .expect("the input takes part in the loss")
        .into_data()
        .convert::<f32>()
        .try_to_vec()
        .unwrap()
}

pub fn tree_length(data: &[f32], n: usize, d: usize, device: &Device) -> f64 {
    let z = tensor(data, n, d, device);
    loss!(mst_len(z)).expect("valid input").total_value()
}

pub fn assert_same_tree(label: &str, data: &[f32], n: usize, d: usize) {
    let (cpu, gpu) = (Device::flex(), gpu());
    let cpu_len = tree_length(data, n, d, &cpu);
    let gpu_len = tree_length(data, n, d, &gpu);
    assert!(
        (cpu_len - gpu_len).abs() <= 1e-5 * cpu_len.abs(),
        "{label}: tree length {gpu_len} on wgpu vs {cpu_len} on the CPU"
    );
    let cpu_edges = tree_edges(&tensor(data, n, d, &cpu)).unwrap();
    let gpu_edges = tree_edges(&tensor(data, n, d, &gpu)).unwrap();
    assert_eq!(
        gpu_edges.len(),
        n - 1,
        "{label}: a spanning tree has n − 1 edges"
    );
    assert_eq!(cpu_edges, gpu_edges, "{label}: edge sets differ");
}

/// Term values and the gradients of z and z2 from one evaluation.
pub type Evaluation = (Vec<f64>, Vec<f32>, Vec<f32>);

/// Asserts that a GPU gradient equals the CPU's entry by entry, within `tol` relative to
/// max(|c|, 1e-2 · max_k |c_k|). The floor scales with the gradient itself: a fixed one
/// (1.0 here until 2026-11-29) was larger than every entry of these gradients, so that a
/// dropped sphere term, or a tree force a few percent off, passed.
pub fn assert_gradients_match(label: &str, cpu: &[f32], gpu: &[f32], tol: f32) {
    assert_eq!(cpu.len(), gpu.len(), "{label}: gradient lengths differ");
    let scale = cpu.iter().fold(0f32, |m, c| m.max(c.abs()));
    assert!(
        scale > 0.0,
        "{label}: the CPU gradient is zero: nothing is compared"
    );
    for (i, (c, g)) in cpu.iter().zip(gpu).enumerate() {
        assert!(
            (c - g).abs() <= tol * c.abs().max(1e-2 * scale),
            "{label}: gradient entry {i} is {g} on wgpu vs {c} on the CPU (largest entry {scale})"
        );
    }
}

/// Asserts that GPU term values equal the CPU's, within `tol` relative to max(|c|, `floor`).
pub fn assert_values_match(cpu: &[f64], gpu: &[f64], tol: f64, floor: f64) {
    assert_eq!(cpu.len(), gpu.len(), "numbers of terms differ");
    for (c, g) in cpu.iter().zip(gpu) {
        assert!(
            (c - g).abs() <= tol * c.abs().max(floor),
            "term value {g} on wgpu vs {c} on the CPU"
        );
    }
}

/// Runs `run` on the CPU and on the GPU and compares term values (relative to
/// max(|value|, `value_floor`)) and each input's gradient ([`assert_gradients_match`]).
pub fn assert_gpu_matches_cpu(
    run: impl Fn(&Device) -> Evaluation,
    value_tol: f64,
    value_floor: f64,
    grad_tol: f32,
) {
    let (cpu_values, cpu_gz, cpu_gz2) = run(&Device::flex().autodiff());
    let (gpu_values, gpu_gz, gpu_gz2) = run(&gpu().autodiff());
    assert_values_match(&cpu_values, &gpu_values, value_tol, value_floor);
    assert_gradients_match("z", &cpu_gz, &gpu_gz, grad_tol);
    assert_gradients_match("z2", &cpu_gz2, &gpu_gz2, grad_tol);
}

/// Clusters on the unit sphere, where the Gram trick alone orders the edges inside a
/// cluster at random (see `close_pairs` in the kernels): groups of four points 1e-4 apart
/// on a great circle (the exact tree is the path), two antipodal clusters of 100 points
/// 1e-4 wide, and 50 clusters of 4 points 1e-3 wide. The CPU's tree is exact there
/// (`kernels/tests/mst.rs`); the device's must be the same, edge for edge.
pub fn assert_clusters_on_the_sphere_give_the_cpu_tree() {
    let (groups, d) = (32, 16);
    let arc = to_f32(&great_circle_groups(groups, 1e-4, d));
    assert_needs_close_pairs("groups of 4 on a great circle", &arc, groups * 4, d);
    assert_same_tree("groups of 4 on a great circle", &arc, groups * 4, d);
    let (n, d) = (200, 32);
    for (clusters, spread) in [(2, 1e-4), (50, 1e-3)] {
        let cloud = to_f32(&antipodal_clusters(n, d, clusters, spread, 91));
        let label = format!("{clusters} clusters {spread} wide");
        assert_needs_close_pairs(&label, &cloud, n, d);
        assert_same_tree(&label, &cloud, n, d);
    }
}

/// The case exercises the close-pair step: Prim on the f32 Gram-trick matrix alone (CPU)
/// gets another tree than the exact one.
fn assert_needs_close_pairs(label: &str, data: &[f32], n: usize, d: usize) {
    let gram_only = tregs_kernels::prim_mst(&tregs_kernels::pairwise_sq_distances(data, n, d), n);
    let mut gram_only: Vec<(u32, u32)> = gram_only
        .into_iter()
        .map(|(u, v)| (u.min(v), u.max(v)))
        .collect();
    gram_only.sort_unstable();
    let exact = tree_edges(&tensor(data, n, d, &Device::flex())).unwrap();
    assert_ne!(
        gram_only, exact,
        "{label}: the Gram matrix alone finds the exact tree: the case checks nothing"
    );
}

/// Gaussian clouds from n = 2 to n = 2048, d = 256: the CPU's tree, edge for edge.
pub fn assert_random_clouds_give_the_cpu_tree() {
    for (i, &(n, d)) in [
        (2, 1),
        (3, 2),
        (17, 5),
        (100, 3),
        (257, 16),
        (1000, 64),
        (2048, 256),
    ]
    .iter()
    .enumerate()
    {
        let data = gaussian(n, d, 11 + i as u64, 0.0);
        assert_same_tree(&format!("gaussian n={n} d={d}"), &data, n, d);
    }
}

/// The points of a `side`³ integer grid in R³, in lexicographic order.
pub fn integer_grid(side: usize) -> Vec<f32> {
    let mut data = Vec::new();
    for a in 0..side {
        for b in 0..side {
            for c in 0..side {
                data.extend([a as f32, b as f32, c as f32]);
            }
        }
    }
    data
}

/// The T-REGS objective on two views (n = 300, d = 32): every term value within 1e-5 and
/// both inputs' gradients within 1e-4 of the CPU's; with the paper's coefficients, and with
/// coefficients under which each term's gradient is of the same size as the others' (with
/// the paper's, λ's sphere gradient is about 1% of the total's).
pub fn assert_two_view_objective_matches_cpu() {
    let (n, d) = (300, 32);
    let a = gaussian(n, d, 21, 0.0);
    let b: Vec<f32> = a
        .iter()
        .zip(gaussian(n, d, 22, 0.0))
        .map(|(x, e)| x + 0.1 * e)
        .collect();
    for (β, γ, λ) in [(10.0, 0.2, 8e-4), (0.5, 1.0, 0.05)] {
        let run = |device: &Device| {
            let z = tensor(&a, n, d, device).require_grad();
            let z2 = tensor(&b, n, d, device).require_grad();
            let out = loss!(
                β * mse(z, z2) + γ * (mst_len(z) + mst_len(z2)) + λ * (sphere(z) + sphere(z2))
            )
            .expect("valid inputs");
            let grads = out.total().backward();
            let values: Vec<f64> = out.terms().iter().map(|t| t.value).collect();
            (values, gradient(&z, &grads), gradient(&z2, &grads))
        };
        assert_gpu_matches_cpu(run, 1e-5, 1e-3, 1e-4);
    }
}
