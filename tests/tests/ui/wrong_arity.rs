use tregs::{loss, Tensor};

fn objective(z: Tensor<2>) {
    let _ = loss!(10.0 * mse(z) + sphere(z));
}

fn main() {}
