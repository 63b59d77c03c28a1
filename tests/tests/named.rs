//! The named form: a reusable loss type with default coefficients and an ASCII-keyed config.

use burn::tensor::{Device, Tensor, TensorData};
use tregs::{burn, loss};

loss! {
    /// The T-REGS objective with an MSE invariance term (paper's ImageNet coefficients).
    pub struct TRegsMse(z, z2) where β = 10.0, γ = 0.2, λ = 8e-4 {
        β*mse(z, z2) + γ*(mst_len(z) + mst_len(z2)) + λ*(sphere(z) + sphere(z2))
    }
}

fn points(data: &[[f32; 2]]) -> Tensor<2> {
    let flat: Vec<f32> = data.iter().flatten().copied().collect();
    Tensor::from_data(TensorData::new(flat, [data.len(), 2]), &Device::default())
}

#[test]
fn defaults_and_expression_are_exposed() {
    let loss = TRegsMse::default();
    assert_eq!((loss.β, loss.γ, loss.λ), (10.0, 0.2, 8e-4));
    assert_eq!(TRegsMse::INPUTS, ["z", "z2"]);
    assert!(TRegsMse::EXPRESSION.contains("mst_len"));
}

#[test]
fn config_uses_ascii_keys_and_keeps_defaults() {
    let loss = TRegsMse::from_toml("beta = 1.0\ngamma = 0.5\n").unwrap();
    assert_eq!((loss.β, loss.γ, loss.λ), (1.0, 0.5, 8e-4));
    let loss = TRegsMse::from_json(r#"{"lambda": 0.01}"#).unwrap();
    assert_eq!((loss.β, loss.γ, loss.λ), (10.0, 0.2, 0.01));
    let written = serde_json::to_value(TRegsMse::default()).unwrap();
    assert_eq!(
        written,
        serde_json::json!({"beta": 10.0, "gamma": 0.2, "lambda": 8e-4})
    );
}

#[test]
fn unknown_config_keys_are_errors() {
    let err = TRegsMse::from_toml("gamma = 0.2\ngama = 0.3\n").unwrap_err();
    let text = err.to_string();
    assert!(text.contains("unknown field `gama`"), "{text}");
    // TOML spells nan and inf; JSON overflows to inf. Neither is a coefficient.
    for text in ["beta = nan\n", "gamma = -inf\n"] {
        let err = TRegsMse::from_toml(text).unwrap_err().to_string();
        assert!(
            err.contains("a coefficient must be a finite number"),
            "{text}: {err}"
        );
    }
    let err = TRegsMse::from_json(r#"{"lambda": 1e999}"#)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("finite") || err.contains("out of range"),
        "{err}"
    );
    let err = TRegsMse::load("missing/file.toml").unwrap_err();
    assert!(
        err.to_string().starts_with("cannot read missing/file.toml"),
        "{err}"
    );
}

#[test]
fn forward_matches_hand_computed_values() {
    // z: three collinear points at 0, 1, 3 → tree length 1 + 2 = 3, mst_len = −3/3 = −1.
    let z = points(&[[0.0, 0.0], [1.0, 0.0], [3.0, 0.0]]);
    // z2 = z shifted by (0, 1): mse = mean over 6 elements of (0, 1)² = 3/6 = 0.5.
    let z2 = points(&[[0.0, 1.0], [1.0, 1.0], [3.0, 1.0]]);
    let loss = TRegsMse {
        β: 2.0,
        γ: 0.5,
        λ: 1.0,
    };
    let out = loss.forward(&z, &z2).unwrap();
    let value = |name: &str| out.term(name).unwrap().value;
    assert!((value("mse(z, z2)") - 0.5).abs() < 1e-7);
    assert!((value("mst_len(z)") + 1.0).abs() < 1e-7);
    assert!((value("mst_len(z2)") + 1.0).abs() < 1e-7);
    // sphere(z): norms 0, 1, 3 → ((0−1)² + 0 + (3−1)²)/3 = 5/3.
    assert!((value("sphere(z)") - 5.0 / 3.0).abs() < 1e-6);
    // sphere(z2): norms 1, √2, √10.
    let expected =
        ((0.0f64).powi(2) + (2f64.sqrt() - 1.0).powi(2) + (10f64.sqrt() - 1.0).powi(2)) / 3.0;
    assert!((value("sphere(z2)") - expected).abs() < 1e-6);
    let total = 2.0 * 0.5 + 0.5 * (-2.0) + 1.0 * (5.0 / 3.0 + expected);
    assert!((out.total_value() - total).abs() < 1e-6);
    let tensor_total: f32 = out.total().into_scalar();
    assert!((tensor_total as f64 - total).abs() < 1e-5);
}
