use tregs::{loss, Tensor};

fn objective(z: Tensor<2>) {
    let _ = loss!(0.2 * mst_len(z) +);
}

fn main() {}
