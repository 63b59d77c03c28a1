//! A `loss!` backward launches a fixed number of kernels per input, whatever the number of
//! terms: one fused gradient kernel per input, plus the four small kernels that build the
//! adjacency of both views' trees together (one up to 256 points), the total's gradient
//! and burn's seed; and the forward builds the two trees in the same Borůvka launches (one
//! launch up to 256 points), every term's value in one launch and the total in another,
//! with no kernel of burn's. Counted with cubecl's launch
//! observer, which is process-wide: this file holds one test so that nothing else launches
//! meanwhile.
#![cfg(feature = "wgpu")]

use burn::tensor::{Tensor, TensorData};
use cubecl::logging::{LaunchObservation, LaunchObserver};
use std::sync::{Arc, Mutex};
use tregs::{burn, loss, wgpu_device, LossOutput};
use tregs_kernels::gpu::Schedule;

#[derive(Default)]
struct Launches(Mutex<Vec<&'static str>>);

impl LaunchObserver for Launches {
    fn launched(&self, kernel: &'static str) {
        self.0.lock().unwrap().push(kernel);
    }
}

/// What `call` returns, and the names of the kernels launched while it ran.
fn launched_during<T>(call: impl FnOnce() -> T) -> (T, Vec<&'static str>) {
    let launches = Arc::new(Launches::default());
    let observation = LaunchObservation::new(launches.clone());
    let result = call();
    drop(observation);
    let names = launches.0.lock().unwrap().clone();
    (result, names)
}

/// Kernels launched while `backward` runs: (all of them, tregs's, tregs's gradient ones);
/// burn's own are its gradient seed alone, the total's node being tregs's.
fn count_backward(out: LossOutput) -> (usize, usize, usize) {
    let total = out.total();
    let (_grads, names) = launched_during(|| total.backward());
    let ours = names.iter().filter(|k| k.contains("tregs_kernels")).count();
    let gradient = names.iter().filter(|k| k.contains("FusedGradient")).count();
    let total_kernels = names.iter().filter(|k| k.contains("WeightedTotal")).count();
    assert_eq!(
        total_kernels, 1,
        "the total's gradient in one launch: {names:?}"
    );
    assert_eq!(
        names.len(),
        ours + 1,
        "burn's seed, then tregs's: {names:?}"
    );
    (names.len(), ours - total_kernels, gradient)
}

#[test]
fn backward_launches_a_fixed_number_of_kernels_per_input() {
    // Trees in one launch (n ≤ 256), and in rounds of launches.
    for n in [64, 300] {
        check_launches(n);
    }
}

fn check_launches(n: usize) {
    let device = wgpu_device().unwrap_or_else(|e| panic!("{e}")).autodiff();
    let d = 8;
    let data = |seed: usize| -> Vec<f32> {
        (0..n * d)
            .map(|i| (((i * 7919 + seed * 104_729) % 1000) as f32) / 500.0 - 1.0)
            .collect()
    };
    let z = Tensor::<2>::from_data(TensorData::new(data(1), [n, d]), &device).require_grad();
    let z2 = Tensor::<2>::from_data(TensorData::new(data(2), [n, d]), &device).require_grad();
    let run = |terms: usize| -> (usize, usize, usize) {
        let (out, forward) = launched_during(|| match terms {
            2 => loss!(mst_len(z) + mst_len(z2)),
            3 => loss!(mse(z, z2) + 0.2 * (mst_len(z) + mst_len(z2))),
            5 => loss!(
                10.0 * mse(z, z2)
                    + 0.2 * (mst_len(z) + mst_len(z2))
                    + 8e-4 * (sphere(z) + sphere(z2))
            ),
            _ => unreachable!(),
        });
        let boruvka = forward
            .iter()
            .filter(|k| k.contains("boruvka") || k.contains("TreeEdges"))
            .count();
        let one_cube = forward.iter().any(|k| k.contains("BoruvkaOneCube"));
        let value_kernels = forward.iter().filter(|k| k.contains("TermValues")).count();
        assert_eq!(value_kernels, 1, "every term's value in one launch");
        let burn_kernels: Vec<_> = forward
            .iter()
            .filter(|k| !k.contains("tregs_kernels"))
            .collect();
        assert!(
            burn_kernels.is_empty(),
            "the forward is tregs's alone: {burn_kernels:?}"
        );
        // Up to 256 points one launch; beyond, two per round (the first initialising too),
        // edge gathering: once for both trees either way.
        let schedule = Schedule::for_rows(n);
        assert_eq!(one_cube, n <= 256, "n = {n}: {schedule:?}");
        let expected = if n <= 256 {
            1
        } else {
            1 + 2 * tregs_kernels::gpu::boruvka_rounds(n)
        };
        assert_eq!(schedule.boruvka_launches(n), expected);
        assert_eq!(
            boruvka, expected,
            "n = {n}: the two trees share their launches"
        );
        count_backward(out.expect("valid inputs"))
    };
    // Compile everything once, so that counting sees launches only.
    run(5);
    let counts: Vec<(usize, usize, usize)> = [2, 3, 5].iter().map(|&k| run(k)).collect();
    let inputs = 2;
    // Both trees' adjacency: four launches, one up to 256 points.
    let adjacency = if n <= 256 { 1 } else { 4 };
    assert_eq!(Schedule::for_rows(n).adjacency_launches(), adjacency);
    for &(all, ours, gradient) in &counts {
        assert_eq!(gradient, inputs, "one fused gradient kernel per input");
        assert_eq!(
            ours,
            inputs + adjacency,
            "n = {n}: tregs kernels in the backward: one per input, then both trees' adjacency"
        );
        assert_eq!(
            all, counts[0].0,
            "the same launches whatever the number of terms"
        );
    }
}
