//! On a backend without a native `TregsOps` (here NdArray), `loss!` takes the tensor-op
//! fallback: same values, same gradients, no panic.

use burn::tensor::{Device, Tensor, TensorData};
use tregs::{burn, has_fused_op, loss};

fn cloud(device: &Device) -> (Tensor<2>, Tensor<2>) {
    let a: Vec<f32> = (0..30 * 4)
        .map(|i| ((i * 37 % 101) as f32 / 50.0) - 1.0)
        .collect();
    let b: Vec<f32> = (0..30 * 4)
        .map(|i| ((i * 53 % 97) as f32 / 48.0) - 1.0)
        .collect();
    (
        Tensor::from_data(TensorData::new(a, [30, 4]), device).require_grad(),
        Tensor::from_data(TensorData::new(b, [30, 4]), device).require_grad(),
    )
}

/// Term values and the gradients of both inputs.
fn run(device: &Device) -> (Vec<f64>, [Vec<f32>; 2]) {
    let (z, z2) = cloud(device);
    let (β, γ, λ) = (10.0, 0.2, 0.5);
    let out = loss!(β * mse(z, z2) + γ * (mst_len(z) + mst_len(z2)) + λ * (sphere(z) + sphere(z2)))
        .expect("valid inputs");
    let grads = out.total().backward();
    let values = out.terms().iter().map(|t| t.value).collect();
    let grad = |t: &Tensor<2>| {
        t.grad(&grads)
            .unwrap()
            .into_data()
            .convert::<f32>()
            .try_to_vec()
            .unwrap()
    };
    (values, [grad(&z), grad(&z2)])
}

// NdArray is deprecated in burn 0.22; it serves here only as a backend tregs does not implement.
#[test]
#[allow(deprecated)]
fn ndarray_takes_the_fallback_and_agrees_with_flex() {
    let flex = Device::flex().autodiff();
    let ndarray = Device::ndarray().autodiff();
    assert!(has_fused_op(&flex));
    assert!(!has_fused_op(&ndarray));
    let (flex_values, flex_grads) = run(&flex);
    let (nd_values, nd_grads) = run(&ndarray);
    assert_eq!(flex_values.len(), nd_values.len());
    for (a, b) in flex_values.iter().zip(&nd_values) {
        assert!((a - b).abs() <= 1e-5 * (1.0 + b.abs()), "value {a} vs {b}");
    }
    // Every term's gradient shows (λ = 0.5 makes the sphere's as large as the others'); the
    // bound is relative to each entry, with a floor of 1e-2 of the largest.
    for (input, (a, b)) in ["z", "z2"].iter().zip(flex_grads.iter().zip(&nd_grads)) {
        assert_eq!(a.len(), b.len());
        let scale = b.iter().fold(0f32, |m, v| m.max(v.abs()));
        for (flex, nd) in a.iter().zip(b) {
            assert!(
                (flex - nd).abs() <= 1e-5 * nd.abs().max(1e-2 * scale),
                "{input}: grad {flex} on Flex vs {nd} on NdArray"
            );
        }
    }
}

/// Where no tree exists the fallback's `mst_len` is an error naming the cause, as on Flex:
/// a NaN names its row; rows whose squared distances overflow f32 say so (both used to
/// panic in Prim's).
#[test]
#[allow(deprecated)]
fn no_tree_is_an_error_naming_the_cause() {
    let device = Device::ndarray();
    let mut rows: Vec<f32> = (0..12).map(|i| i as f32).collect();
    rows[7] = f32::NAN;
    let z = Tensor::<2>::from_data(TensorData::new(rows, [6, 2]), &device);
    let err = loss!(mst_len(z))
        .err()
        .expect("NaN is an error")
        .to_string();
    assert_eq!(err, "input `z`: NaN at row 3, column 1");
    let z = Tensor::<2>::from_data(TensorData::new(vec![-3e20f32, 1e20, 2e20], [3, 1]), &device);
    let err = loss!(mst_len(z))
        .err()
        .expect("overflow is an error")
        .to_string();
    assert!(err.contains("the values overflow"), "{err}");
}
