use tregs::{loss, Tensor};

fn objective(z: Tensor<2>) {
    let _ = loss!(mse(z, 3.0));
}

fn main() {}
