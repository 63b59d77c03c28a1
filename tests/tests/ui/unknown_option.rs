use tregs::{loss, Tensor};

fn objective(z: Tensor<2>) {
    let _ = loss!(mst_len(z, k = 3));
}

fn main() {}
