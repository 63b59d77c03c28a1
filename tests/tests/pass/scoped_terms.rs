use tregs::burn::tensor::{Device, Tensor};
use tregs::loss;

// Without a communicator (one process), global and sharded terms see the batch at hand:
// both equal the plain tree term.
fn main() {
    let device = Device::default();
    let z: Tensor<2> = Tensor::from_floats([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0], [3.0, 3.0]], &device);
    let (γ, λ) = (0.2, 8e-4);
    let plain = loss!(γ * mst_len(z) + λ * sphere(z)).unwrap().total_value();
    let global = loss!(γ * mst_len(z, scope = global) + λ * sphere(z)).unwrap();
    let sharded = loss!(γ * mst_len(z, scope = sharded) + λ * sphere(z)).unwrap();
    assert!(global.term("mst_len(z, scope = global)").is_some());
    assert!((global.total_value() - plain).abs() < 1e-12);
    assert!((sharded.total_value() - plain).abs() < 1e-12);
}
