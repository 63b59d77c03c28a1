use tregs::{loss, Tensor};

fn objective(z: Tensor<2>) {
    let _ = loss!(0.2 * mst_len(z, scope = global) + 8e-4 * sphere(z, scope = global));
}

fn main() {}
