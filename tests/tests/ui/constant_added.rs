use tregs::{loss, Tensor};

fn objective(z: Tensor<2>) {
    let _ = loss!(mst_len(z) + 1.0);
}

fn main() {}
