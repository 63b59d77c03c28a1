// A crate whose only Greek letters look like Latin ones (γ, β) trips this rustc lint.
#![allow(mixed_script_confusables)]

use tregs::loss;

fn objective(z: Vec<f32>) {
    let _ = loss!(0.2 * mst_len(z));
}

fn main() {}
