//! The total `Σ_k c_k · value_k` is one node of tregs's (`TregsOps::weighted_total`): its
//! value is the weighted sum of the term values, and its gradient reaches the inputs as
//! burn's `(values * c).sum()` would, alone or beside a gradient through `values()`.

mod common;

use burn::tensor::{DType, Device, Tensor, TensorData};
use tregs::loss;

fn cloud(n: usize, d: usize, seed: u64) -> Vec<f64> {
    let mut next_word = common::xorshift(seed);
    (0..n * d)
        .map(|_| {
            let state = next_word();
            (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5
        })
        .collect()
}

fn grad_of(t: &Tensor<2>, grads: &burn::tensor::Gradients) -> Vec<f64> {
    t.grad(grads)
        .unwrap()
        .into_data()
        .convert::<f64>()
        .try_to_vec()
        .unwrap()
}

#[test]
fn the_total_and_its_gradient_are_the_weighted_sum_of_the_terms() {
    let device = Device::default().autodiff();
    let (n, d) = (30, 4);
    let input = |seed| {
        Tensor::<2>::from_data(
            TensorData::new(cloud(n, d, seed), [n, d]),
            (&device, DType::F64),
        )
        .require_grad()
    };
    let (z, z2) = (input(1), input(2));
    let coefs = [10.0, 0.2, 0.2, 8e-4];
    let run =
        || loss!(10.0 * mse(z, z2) + 0.2 * (mst_len(z) + mst_len(z2)) + 8e-4 * sphere(z)).unwrap();
    let out = run();
    let total: f64 = out.total().into_scalar();
    assert!((total - out.total_value()).abs() <= 1e-12 * total.abs().max(1.0));

    let by_node = run().total().backward();
    let weights =
        || Tensor::<1>::from_data(TensorData::new(coefs.to_vec(), [4]), (&device, DType::F64));
    let by_ops = (run().values() * weights()).sum().backward();
    for t in [&z, &z2] {
        let (a, b) = (grad_of(t, &by_node), grad_of(t, &by_ops));
        for (x, y) in a.iter().zip(&b) {
            assert!((x - y).abs() <= 1e-12, "{x} vs {y}");
        }
    }

    // Beside a gradient through the values: both reach the one fused node.
    let out = run();
    let both = (out.total() + out.values().sum() * 0.5).backward();
    let shifted = Tensor::<1>::from_data(
        TensorData::new(coefs.iter().map(|c| c + 0.5).collect::<Vec<f64>>(), [4]),
        (&device, DType::F64),
    );
    let by_ops = (run().values() * shifted).sum().backward();
    for t in [&z, &z2] {
        let (a, b) = (grad_of(t, &both), grad_of(t, &by_ops));
        for (x, y) in a.iter().zip(&b) {
            assert!((x - y).abs() <= 1e-12, "{x} vs {y}");
        }
    }
}
