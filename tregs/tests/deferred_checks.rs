//! `defer_checks`: evaluations return before their values are read back; the values, the
//! gradients and the error for a NaN batch are those of an evaluation with checks on, the
//! error coming from `check()` instead of the evaluation.

mod common;

use burn::tensor::{Device, Tensor, TensorData};
use std::collections::BTreeMap;
use tregs::{checks_deferred, defer_checks, loss, LossOutput, RuntimeLoss};

fn points(n: usize, d: usize, seed: u64) -> Vec<f32> {
    let mut next_word = common::xorshift(seed);
    (0..n * d)
        .map(|_| {
            let state = next_word();
            (state >> 40) as f32 / (1u64 << 24) as f32 - 0.5
        })
        .collect()
}

fn views(z: Vec<f32>, z2: Vec<f32>, n: usize, d: usize) -> (Tensor<2>, Tensor<2>) {
    let device = Device::default().autodiff();
    let t = |v: Vec<f32>| Tensor::<2>::from_data(TensorData::new(v, [n, d]), &device);
    (t(z).require_grad(), t(z2).require_grad())
}

fn objective(z: &Tensor<2>, z2: &Tensor<2>) -> Result<LossOutput, tregs::LossError> {
    loss!(10.0 * mse(z, z2) + 0.2 * (mst_len(z) + mst_len(z2)) + 8e-4 * (sphere(z) + sphere(z2)))
}

fn gradient(t: &Tensor<2>, grads: &burn::tensor::Gradients) -> Vec<f32> {
    t.grad(grads).unwrap().into_data().try_to_vec().unwrap()
}

#[test]
fn deferred_evaluations_give_the_same_values_and_gradients() {
    let (n, d) = (60, 5);
    let (z, z2) = views(points(n, d, 1), points(n, d, 2), n, d);
    let eager = objective(&z, &z2).unwrap();
    let eager_grads = eager.backward();
    let deferred = {
        let _deferred = defer_checks();
        objective(&z, &z2).unwrap()
    };
    let deferred_grads = deferred.backward();
    deferred.check().unwrap();
    assert_eq!(deferred.terms(), eager.terms());
    assert_eq!(deferred.total_value(), eager.total_value());
    assert_eq!(gradient(&z, &deferred_grads), gradient(&z, &eager_grads));
    assert_eq!(gradient(&z2, &deferred_grads), gradient(&z2, &eager_grads));
}

#[test]
fn a_nan_batch_is_the_same_error_from_check() {
    let (n, d) = (40, 3);
    let mut bad = points(n, d, 3);
    bad[17 * d + 2] = f32::NAN;
    let (z, z2) = views(points(n, d, 4), bad, n, d);
    let eager = objective(&z, &z2).expect_err("checks on: the evaluation fails");
    assert!(eager.to_string().contains("row 17"), "{eager}");

    let _deferred = defer_checks();
    let out = objective(&z, &z2).expect("checks deferred: the evaluation returns");
    let deferred = out.check().expect_err("check() finds the NaN");
    assert_eq!(deferred.to_string(), eager.to_string());
    let value = out.term("mst_len(z2)").unwrap().value;
    assert!(
        value.is_nan(),
        "the values are read back as they are: {value}"
    );

    // The runtime loss defers the same way.
    let coefficients = BTreeMap::from([("g".to_string(), 0.2)]);
    let runtime = RuntimeLoss::parse("g * mst_len(z2)", &coefficients).unwrap();
    let out = runtime.evaluate(&[("z2", &z2)]).unwrap();
    assert_eq!(out.check().unwrap_err().to_string(), eager.to_string());
}

#[test]
fn checks_are_back_on_when_the_last_guard_drops() {
    let (n, d) = (10, 2);
    let mut bad = points(n, d, 5);
    bad[3] = f32::INFINITY;
    let (z, _) = views(bad, points(n, d, 6), n, d);
    assert!(!checks_deferred());
    let outer = defer_checks();
    {
        let _inner = defer_checks();
        assert!(loss!(mst_len(z)).is_ok());
    }
    assert!(checks_deferred(), "the outer guard still lives");
    assert!(loss!(mst_len(z)).is_ok());
    drop(outer);
    assert!(!checks_deferred());
    let err = loss!(mst_len(z)).expect_err("checks on again");
    assert!(err.to_string().contains("Inf at row 1, column 1"), "{err}");
    // Another thread never saw the guards.
    let _guard = defer_checks();
    assert!(!std::thread::spawn(checks_deferred).join().unwrap());
}
