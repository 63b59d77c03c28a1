//! The fused operation (Flex + hand-written backward) against the same loss written with
//! plain burn tensor ops and differentiated by burn's autodiff.

mod common;

use burn::tensor::{Device, Tensor, TensorData};
use tregs::{loss, reference_values, LossError};

fn cloud(n: usize, d: usize, seed: u64, device: &Device) -> Tensor<2> {
    let mut next_word = common::xorshift(seed);
    let data: Vec<f32> = (0..n * d)
        .map(|_| {
            let state = next_word();
            (state >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0
        })
        .collect();
    Tensor::from_data(TensorData::new(data, [n, d]), device)
}

fn to_vec(t: Tensor<2>) -> Vec<f32> {
    t.into_data().convert::<f32>().try_to_vec().unwrap()
}

fn assert_close(a: &[f32], b: &[f32], tol: f32, what: &str) {
    assert_eq!(a.len(), b.len());
    for (i, (fused, reference)) in a.iter().zip(b).enumerate() {
        assert!(
            (fused - reference).abs() <= tol * (1.0 + reference.abs()),
            "{what}[{i}]: fused {fused} vs reference {reference}"
        );
    }
}

#[test]
fn tregs_objective_values_and_gradients_match_the_tensor_op_reference() {
    let device = Device::default().autodiff();
    let (β, γ, λ) = (10.0, 0.2, 8e-4);
    let z = cloud(40, 7, 1, &device).require_grad();
    let z2 = cloud(40, 7, 2, &device).require_grad();

    let out = loss!(β * mse(z, z2) + γ * (mst_len(z) + mst_len(z2)) + λ * (sphere(z) + sphere(z2)))
        .expect("valid inputs");
    let grads = out.total().backward();
    let (gz, gz2) = (z.grad(&grads).unwrap(), z2.grad(&grads).unwrap());

    let names: Vec<&str> = out.terms().iter().map(|t| t.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "mse(z, z2)",
            "mst_len(z)",
            "mst_len(z2)",
            "sphere(z)",
            "sphere(z2)"
        ]
    );

    // The same plan through plain tensor ops.
    let za = z.clone().detach().require_grad();
    let z2a = z2.clone().detach().require_grad();
    let plan = tregs::LossPlan::from_static(
        "",
        &["z", "z2"],
        &[
            (tregs::Primitive::Mse, &[0, 1], "mse(z, z2)"),
            (tregs::Primitive::MstLen, &[0], "mst_len(z)"),
            (tregs::Primitive::MstLen, &[1], "mst_len(z2)"),
            (tregs::Primitive::Sphere, &[0], "sphere(z)"),
            (tregs::Primitive::Sphere, &[1], "sphere(z2)"),
        ],
    );
    let values = reference_values(&plan, &[&za, &z2a]);
    let weights = Tensor::<1>::from_data(
        TensorData::new(vec![β as f32, γ as f32, γ as f32, λ as f32, λ as f32], [5]),
        &device,
    );
    let total = (values.clone() * weights).sum();
    let ref_grads = total.backward();

    let ref_values: Vec<f32> = values.into_data().convert::<f32>().try_to_vec().unwrap();
    let fused_values: Vec<f32> = out.terms().iter().map(|t| t.value as f32).collect();
    assert_close(&fused_values, &ref_values, 1e-5, "term values");
    assert_close(
        &to_vec(gz),
        &to_vec(za.grad(&ref_grads).unwrap()),
        1e-4,
        "grad z",
    );
    assert_close(
        &to_vec(gz2),
        &to_vec(z2a.grad(&ref_grads).unwrap()),
        1e-4,
        "grad z2",
    );
    // mst_len is minus the normalized tree length: negative.
    assert!(out.term("mst_len(z)").unwrap().value < 0.0);
}

#[test]
fn shape_mismatch_names_both_shapes() {
    let device = Device::default();
    let z = cloud(256, 128, 1, &device);
    let z2 = cloud(256, 64, 2, &device);
    let err = loss!(mse(z, z2)).unwrap_err();
    assert_eq!(
        err,
        LossError::Term {
            term: "mse(z, z2)".into(),
            problem: "shape mismatch 256x128 vs 256x64".into()
        }
    );
}

#[test]
fn nan_is_reported_with_its_row() {
    let device = Device::default();
    let mut data = vec![0.5f32; 20 * 3];
    data[17 * 3 + 2] = f32::NAN;
    let z = Tensor::<2>::from_data(TensorData::new(data, [20, 3]), &device);
    let err = loss!(0.2 * mst_len(z) + sphere(z)).unwrap_err();
    assert_eq!(err.to_string(), "input `z`: NaN at row 17, column 2");
}

#[test]
fn a_tree_needs_two_points() {
    let z = cloud(1, 3, 1, &Device::default());
    let err = loss!(mst_len(z)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "mst_len(z): needs at least 2 points for a tree; `z` has 1 row"
    );
}

/// Three inputs of different sizes: the operation's tail slot holds inputs 1 and 2 packed, and
/// each must get back its own slice of the gradient.
#[test]
fn three_inputs_of_different_sizes_each_get_their_own_gradient() {
    let device = Device::default().autodiff();
    let a = cloud(30, 5, 11, &device).require_grad();
    let b = cloud(30, 5, 12, &device).require_grad();
    let c = cloud(17, 3, 13, &device).require_grad();
    let out = loss!(2.0 * mse(a, b) + 0.5 * mst_len(c) + 0.3 * sphere(b) + mst_len(a))
        .expect("valid inputs");
    let grads = out.total().backward();
    let fused: Vec<Vec<f32>> = [&a, &b, &c]
        .iter()
        .map(|t| to_vec(t.grad(&grads).expect("every input is read")))
        .collect();

    let detached: Vec<Tensor<2>> = [&a, &b, &c]
        .iter()
        .map(|t| (*t).clone().detach().require_grad())
        .collect();
    let plan = tregs::LossPlan::from_static(
        "",
        &["a", "b", "c"],
        &[
            (tregs::Primitive::Mse, &[0, 1], "mse(a, b)"),
            (tregs::Primitive::MstLen, &[2], "mst_len(c)"),
            (tregs::Primitive::Sphere, &[1], "sphere(b)"),
            (tregs::Primitive::MstLen, &[0], "mst_len(a)"),
        ],
    );
    let values = reference_values(&plan, &[&detached[0], &detached[1], &detached[2]]);
    let weights =
        Tensor::<1>::from_data(TensorData::new(vec![2.0f32, 0.5, 0.3, 1.0], [4]), &device);
    let ref_grads = (values * weights).sum().backward();
    for (i, name) in ["a", "b", "c"].iter().enumerate() {
        let reference = to_vec(detached[i].grad(&ref_grads).expect("read"));
        assert_close(&fused[i], &reference, 1e-4, name);
    }
}
