// A crate whose only Greek letters look like Latin ones (γ, β) trips this rustc lint.
#![allow(mixed_script_confusables)]

use tregs::{loss, Tensor};

fn objective(z: Tensor<2>) {
    // Rust reads `2gamma` as the number 2 with a suffix, which the expansion would drop.
    let _ = loss!(2gamma * mst_len(z));
}

fn main() {}
