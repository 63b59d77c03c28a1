//! The runtime parser (CLI, configs) speaks the macro's grammar with the same messages,
//! located by line and column.

use std::collections::BTreeMap;
use tregs::RuntimeLoss;

fn coefficients(pairs: &[(&str, f64)]) -> BTreeMap<String, f64> {
    pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

fn error(source: &str, coefs: &[(&str, f64)]) -> String {
    RuntimeLoss::parse(source, &coefficients(coefs))
        .unwrap_err()
        .to_string()
}

#[test]
fn unknown_primitive_is_located_and_corrected() {
    assert_eq!(
        error("0.2*mst_lenn(z)", &[]),
        "1:5: unknown loss primitive `mst_lenn`; did you mean `mst_len`? (known primitives: mst_len, sphere, mse, nt_xent, clip, clip_scaled, barlow, vicreg_var, vicreg_cov, byol, uniformity, w2, cosine)\n  0.2*mst_lenn(z)\n      ^^^^^^^^"
    );
}

#[test]
fn coefficients_resolve_by_greek_or_ascii_name() {
    let loss = RuntimeLoss::parse(
        "β*mse(z, z2) + γ*(mst_len(z) + mst_len(z2)) + lambda*sphere(z)",
        &coefficients(&[("beta", 10.0), ("γ", 0.2), ("lambda", 8e-4)]),
    )
    .unwrap();
    assert_eq!(loss.coefficients(), [10.0, 0.2, 0.2, 8e-4]);
    assert_eq!(loss.plan().inputs, ["z", "z2"]);
}

#[test]
fn unknown_coefficient_says_how_to_set_it() {
    assert_eq!(
        error("γ*mst_len(z)", &[("beta", 1.0)]),
        "1:1: unknown coefficient `γ`: give it a value (`gamma=…`); given: beta\n  γ*mst_len(z)\n  ^"
    );
}

#[test]
fn rust_expressions_are_macro_only() {
    let message = error("(cfg.beta)*mse(z, z2)", &[]);
    assert!(
        message.starts_with("1:5: expected `+`, `-` or `*`, found `.`"),
        "{message}"
    );
}

#[test]
fn arity_and_empty_expressions() {
    assert_eq!(
        error("mse(z)", &[]),
        "1:1: `mse` takes 2 tensors, as in `mse(a, b)`, but 1 was given\n  mse(z)\n  ^^^"
    );
    assert!(error("", &[]).contains("empty loss expression"));
}

#[test]
fn merged_terms_add_their_coefficients() {
    let loss = RuntimeLoss::parse(
        "0.5*sphere(z) + 0.25*sphere(z) - mst_len(z)",
        &BTreeMap::new(),
    )
    .unwrap();
    assert_eq!(loss.coefficients(), [0.75, -1.0]);
    assert_eq!(loss.plan().term_names(), ["sphere(z)", "mst_len(z)"]);
}

#[test]
fn unbalanced_parentheses_are_located() {
    let message = error("0.2*mst_len(z", &[]);
    assert!(
        message.starts_with("1:") && message.contains("unbalanced parentheses"),
        "{message}"
    );
}
