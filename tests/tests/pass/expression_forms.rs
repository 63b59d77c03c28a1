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
    let _ = loss!(nt_xent(z, z2, τ = 0.2) + clip(z, z2, tau = (cfg.beta / 100.0)) + barlow(z, z2, λ = 0.01)
        + 25 * (vicreg_var(z, γ = γ) + vicreg_cov(z)) + byol(z, z2) + uniformity(z, t = 2) + w2(z) + cosine(z, z2))?;
    Ok(())
}

fn main() {
    let _ = objective;
}
