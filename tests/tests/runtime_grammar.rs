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
    // The whole parenthesized expression is underlined, with the reason (until
    // 2026-11-28: "found `.`" and the macro's hint to wrap it in parentheses).
    assert_eq!(
        error("(cfg.beta)*mse(z, z2)", &[]),
        "1:1: Rust expressions are only available inside `loss!`; at run time a coefficient \
         is a number or a name\n  (cfg.beta)*mse(z, z2)\n  ^^^^^^^^^^"
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

#[test]
fn scope_is_parsed_named_and_promoted() {
    let mut loss = RuntimeLoss::parse(
        "mse(z, z2) + 0.2*mst_len(z, scope = global) + 0.2*mst_len(z2) + 0.1*nt_xent(z, z2, scope = rank)",
        &coefficients(&[]),
    )
    .unwrap();
    let scopes = |loss: &RuntimeLoss| -> Vec<Option<tregs::Scope>> {
        loss.plan().terms.iter().map(|t| t.written_scope).collect()
    };
    assert_eq!(
        loss.plan().term_names(),
        [
            "mse(z, z2)",
            "mst_len(z, scope = global)",
            "mst_len(z2)",
            "nt_xent(z, z2, scope = rank)"
        ]
    );
    use tregs::Scope::{Global, Rank};
    assert_eq!(scopes(&loss), [None, Some(Global), None, Some(Rank)]);
    // A data-parallel recipe promotes the row-coupling terms left unscoped, and only them.
    loss.promote_to_global();
    assert_eq!(
        scopes(&loss),
        [None, Some(Global), Some(Global), Some(Rank)]
    );
    assert_eq!(loss.plan().terms[2].name, "mst_len(z2)");
}

#[test]
fn scope_mistakes_are_located() {
    assert_eq!(
        error("sphere(z, scope = global)", &[]),
        "1:11: `sphere` is a mean over rows: its global value is already the mean of the processes' values, so it takes no `scope`; `scope` applies to terms that couple rows (mst_len, nt_xent, clip, clip_scaled, barlow, vicreg_var, vicreg_cov, uniformity, w2)\n  sphere(z, scope = global)\n            ^^^^^"
    );
    assert_eq!(
        error("uniformity(z, scope = sharded)", &[]),
        "1:23: `scope = sharded` (distributed Borůvka) is for `mst_len` only; use `scope = global` for `uniformity`\n  uniformity(z, scope = sharded)\n                        ^^^^^^^"
    );
    assert_eq!(
        error("mst_len(z, scope = everywhere)", &[]),
        "1:20: unknown scope `everywhere`; valid scopes: `rank`, `global`, `sharded`\n  mst_len(z, scope = everywhere)\n                     ^^^^^^^^^^"
    );
    assert!(error("mst_len(z, scope = global, scope = rank)", &[])
        .contains("option `scope` is given twice"));
    assert!(error("mst_len(scope = global, z)", &[]).contains("come before its named options"));
}

/// An expression cut short after an operator points at that operator (a run-time string's
/// end has no span of its own: it used to point at 1:1).
#[test]
fn an_expression_ending_after_an_operator_points_at_it() {
    assert_eq!(
        error("sphere(z) +", &[]),
        "1:11: the expression ends after `+`: expected a coefficient or a term such as \
         `mst_len(z)`\n  sphere(z) +\n            ^"
    );
    assert!(error("γ*", &[("gamma", 1.0)]).starts_with("1:2: the expression ends after `*`"));
    assert!(error("sphere(z) - -", &[]).starts_with("1:13: the expression ends after `-`"));
}

/// A literal beyond f64's range reads as inf: an error at the literal in both paths (the
/// macro used to panic without a span, the runtime said "its coefficient is inf" later).
#[test]
fn numbers_beyond_f64_are_located() {
    assert_eq!(
        error("1e999*mst_len(z)", &[]),
        "1:1: `1e999` is beyond f64's range (it reads as inf): a number must be finite\n  \
         1e999*mst_len(z)\n  ^^^^^"
    );
    assert!(error("clip(a, b, τ = 2e400)", &[])
        .starts_with("1:16: `2e400` is beyond f64's range (it reads as inf)"));
}

#[test]
fn coefficients_the_expression_does_not_read_are_listed() {
    let loss = RuntimeLoss::parse(
        "β*mse(z, z2) + gamma*mst_len(z)",
        &coefficients(&[("beta", 1.0), ("betta", 3.0), ("γ", 0.2), ("gamma", 0.3)]),
    )
    .unwrap();
    // `γ` is not read: `gamma` as written comes first.
    assert_eq!(loss.unread_coefficients(), ["betta", "γ"]);
    assert_eq!(loss.coefficients(), [1.0, 0.3]);
}

#[test]
fn coefficients_must_be_finite_in_f32() {
    assert_eq!(
        error("beta*mse(z, z2)", &[("beta", f64::NAN)]),
        "`mse(z, z2)`: its coefficient evaluates to NaN, not a finite f32"
    );
    assert_eq!(
        error("beta*mse(z, z2)", &[("beta", f64::INFINITY)]),
        "`mse(z, z2)`: its coefficient evaluates to inf, not a finite f32"
    );
    // Finite in f64, infinite as the f32 weight the terms are computed with.
    assert_eq!(
        error("0.5*beta*mst_len(z)", &[("beta", 1e300)]),
        "`mst_len(z)`: its coefficient evaluates to 5e299, not a finite f32"
    );
    assert!(RuntimeLoss::parse("beta*mst_len(z)", &coefficients(&[("beta", 3e38)])).is_ok());
}
