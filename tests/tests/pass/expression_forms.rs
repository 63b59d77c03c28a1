use tregs::{loss, LossError, Tensor};

struct Config {
    beta: f64,
}

fn objective(cfg: &Config, z: &Tensor<2>, z2: &Tensor<2>, n: usize) -> Result<(), LossError> {
    let (γ, λ): (f32, f64) = (0.2, 8e-4);
    let _ = loss!((cfg.beta) * mse(z, z2) - -γ * (mst_len(z) + mst_len(z2)) + λ * (sphere(z) + sphere(z2)))?;
    let _ = loss!((1.0 / n as f64) * sphere(z) + 2 * mse(z2, z))?;
    let _ = loss![(γ + 1.0) * sphere(z)]?;
    let _ = loss! { 0.5 * (mst_len(z) - sphere(z)) }?;
    Ok(())
}

fn main() {
    let _ = objective;
}
