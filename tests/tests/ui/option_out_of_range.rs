// A crate whose only Greek letters look like Latin ones (γ, β) trips this rustc lint.
#![allow(mixed_script_confusables)]

use tregs::{loss, Tensor};

fn objective(z: Tensor<2>, z2: Tensor<2>) {
    let _ = loss!(barlow(z, z2, λ = -1.0));
}

fn main() {}
