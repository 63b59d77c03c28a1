use tregs::{loss, Tensor};

struct Config {
    beta: f64,
}

fn objective(cfg: Config, z: Tensor<2>, z2: Tensor<2>) {
    let _ = loss!(cfg.beta * mse(z, z2));
}

fn main() {}
