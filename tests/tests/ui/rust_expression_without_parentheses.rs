// A crate whose only Greek letters look like Latin ones (γ, β) trips this rustc lint.
#![allow(mixed_script_confusables)]

use tregs::{loss, Tensor};

struct Config {
    beta: f64,
}

fn objective(cfg: Config, z: Tensor<2>, z2: Tensor<2>) {
    let _ = loss!(cfg.beta * mse(z, z2));
}

fn main() {}
