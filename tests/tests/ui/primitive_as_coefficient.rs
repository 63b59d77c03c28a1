// A crate whose only Greek letters look like Latin ones (γ, β) trips this rustc lint.
#![allow(mixed_script_confusables)]

use tregs::{loss, Tensor};

fn objective(z: Tensor<2>) {
    let _ = loss!(sphere(z) + 0.2 * mst_len);
}

fn main() {}
