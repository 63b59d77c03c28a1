use tregs::{loss, Tensor};

fn objective(z: Tensor<2>) {
    let γ = "0.2";
    let _ = loss!(γ * mst_len(z));
}

fn main() {}
