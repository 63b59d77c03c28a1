//! The GPU path with its distances from split f16 pieces and one matrix product
//! (`tregs::gpu::DistanceMethod::SplitF16`, the tensor-core method) against the CPU path:
//! the same trees, values and gradients as the f32 method gives (`gpu_path.rs`). The
//! method is process-wide, hence this binary of its own: every test here sets it. On
//! lavapipe the product runs on cubek's plain kernel; on a GPU with tensor cores, on them.
// Greek coefficient names (`β`, `γ`, `λ` in `common`) are the point of the DSL;
// rustc's mixed-script lint flags them, before the cfg so that builds without `wgpu` (where
// the file is empty but its tokens are still lexed) are covered too.
#![allow(mixed_script_confusables)]
#![cfg(feature = "wgpu")]

mod common;

use burn::tensor::Device;
use common::*;
use tregs::gpu::{distance_method, set_distance_method, DistanceMethod};
use tregs::{burn, loss};

fn split_f16() {
    set_distance_method(DistanceMethod::SplitF16, &gpu()).expect("lavapipe has f16");
    assert_eq!(distance_method(), DistanceMethod::SplitF16);
}

#[test]
fn random_clouds_give_the_cpu_tree() {
    split_f16();
    assert_random_clouds_give_the_cpu_tree();
}

#[test]
fn clusters_on_the_sphere_give_the_cpu_tree() {
    split_f16();
    assert_clusters_on_the_sphere_give_the_cpu_tree();
}

#[test]
fn one_dimension_far_offsets_and_tiny_scales() {
    split_f16();
    let data = gaussian(500, 1, 3, 0.0);
    assert_same_tree("d=1", &data, 500, 1);
    let data = gaussian(400, 8, 5, 1e4);
    assert_same_tree("offset 1e4", &data, 400, 8);
    // Entries of 1e-6: f16 alone would flush them to subnormals; the per-row scale does not.
    let data: Vec<f32> = gaussian(300, 16, 6, 0.0).iter().map(|v| v * 1e-6).collect();
    assert_same_tree("scale 1e-6", &data, 300, 16);
}

/// An integer grid: ties everywhere. The per-row scales are powers of two and the pieces
/// of small integers exact, so the distances are exact and the tree is the CPU's.
#[test]
fn grid_ties_break_like_the_cpu() {
    split_f16();
    let data = integer_grid(8);
    assert_same_tree("8x8x8 grid", &data, 512, 3);
}

/// The full two-view objective: every term value and both inputs' gradients.
#[test]
fn two_view_objective_values_and_gradients_match_the_cpu() {
    split_f16();
    assert_two_view_objective_matches_cpu();
}

/// Duplicated rows, and a batch of one repeated point: zero-length edges give zero force,
/// and the collapsed batch is the CPU's star (all its distances are equal).
#[test]
fn duplicates_and_a_collapsed_batch_match_the_cpu() {
    split_f16();
    let base = gaussian(50, 6, 9, 0.0);
    let mut data = base.clone();
    data.extend_from_slice(&base[..20 * 6]);
    assert_same_tree("duplicates", &data, 70, 6);
    let point = gaussian(1, 6, 10, 0.5);
    let collapsed: Vec<f32> = point.iter().cycle().take(40 * 6).copied().collect();
    assert_same_tree("collapsed", &collapsed, 40, 6);
    for (label, data, n) in [("duplicates", &data, 70), ("collapsed", &collapsed, 40)] {
        let grad_of = |device: &Device| {
            let z = tensor(data, n, 6, device).require_grad();
            let out = loss!(0.5 * mst_len(z) + sphere(z)).expect("valid input");
            let grads = out.total().backward();
            gradient(&z, &grads)
        };
        let (cpu, gpu_grad) = (
            grad_of(&Device::flex().autodiff()),
            grad_of(&gpu().autodiff()),
        );
        for (a, b) in gpu_grad.iter().zip(&cpu) {
            assert!(
                (a - b).abs() <= 1e-4,
                "{label}: gradient {a} on wgpu vs {b}"
            );
        }
    }
}

#[test]
fn the_method_names_a_cpu_device_as_the_problem() {
    let err = set_distance_method(DistanceMethod::SplitF16, &Device::flex()).unwrap_err();
    assert!(err.to_string().contains("not a GPU device"), "{err}");
    assert_eq!("split-f16".parse(), Ok(DistanceMethod::SplitF16));
    let unknown = "tf32".parse::<DistanceMethod>().unwrap_err();
    assert!(
        unknown.contains("`tf32`") && unknown.contains("split-f16"),
        "{unknown}"
    );
}

/// The setting is what the forward runs: the distances come from the split kernels and a
/// matrix product, and tregs's f32 distance kernel is never launched (in this binary every
/// evaluation uses split-f16, so concurrent tests add only the same kernels).
#[test]
fn the_forward_launches_the_split_kernels_and_not_the_f32_one() {
    use cubecl::logging::{LaunchObservation, LaunchObserver};
    use std::sync::{Arc, Mutex};
    #[derive(Default)]
    struct Launches(Mutex<Vec<&'static str>>);
    impl LaunchObserver for Launches {
        fn launched(&self, kernel: &'static str) {
            self.0.lock().unwrap().push(kernel);
        }
    }
    split_f16();
    let data = gaussian(100, 16, 3, 0.0);
    let launches = Arc::new(Launches::default());
    let observation = LaunchObservation::new(launches.clone());
    let z = tensor(&data, 100, 16, &gpu());
    loss!(mst_len(z)).expect("valid input").total_value();
    drop(observation);
    let names = launches.0.lock().unwrap().clone();
    let launched = |kernel: &str| names.iter().any(|name| name.contains(kernel));
    assert!(launched("SplitRowsKernel"), "{names:?}");
    assert!(launched("FinishSplitGramKernel"), "{names:?}");
    assert!(
        launched("cubek_matmul"),
        "cubek's matrix product: {names:?}"
    );
    assert!(!launched("PairwiseSqDistancesKernel"), "{names:?}");
}
