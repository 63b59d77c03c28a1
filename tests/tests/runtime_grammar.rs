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
fn coefficients_must_be_finite_and_options_in_range() {
    assert_eq!(
        error("beta*mse(z, z2)", &[("beta", f64::NAN)]),
        "mse(z, z2): its coefficient is NaN"
    );
    assert_eq!(
        error("beta*mse(z, z2)", &[("beta", f64::INFINITY)]),
        "mse(z, z2): its coefficient is inf"
    );
    // Finite in f64: whether it fits the inputs' dtype is `evaluate`'s check (f32 inputs
    // refuse it, f64 inputs take it: tregs/tests/objectives.rs).
    assert!(RuntimeLoss::parse("0.5*beta*mst_len(z)", &coefficients(&[("beta", 1e300)])).is_ok());
    // Options named by a coefficient are checked once it has its value...
    assert_eq!(
        error("nt_xent(z, z2, τ = tau)", &[("tau", -0.5)]),
        "nt_xent(z, z2, τ = tau): option τ = -0.5: it must be a positive number"
    );
    assert_eq!(
        error("barlow(z, z2, λ = l)", &[("l", -1.0)]),
        "barlow(z, z2, λ = l): option λ = -1: it must be a finite number at least 0"
    );
    assert!(RuntimeLoss::parse("barlow(z, z2, λ = l)", &coefficients(&[("l", 0.0)])).is_ok());
    // ...and options written as numbers at their place in the text.
    let err = error("vicreg_var(z, gamma = -1)", &[]);
    assert!(
        err.starts_with("1:23: option `gamma` of `vicreg_var` is -1: it must be a positive number"),
        "{err}"
    );
}

/// Terms that differ only in their written scope are computed once: the gradient plan of
/// their input names the first (it used to stop at an assertion).
#[test]
fn gradient_plans_take_a_term_written_with_and_without_a_scope() {
    let loss = RuntimeLoss::parse(
        "mst_len(z) + 0.5*mst_len(z, scope = rank) + sphere(z)",
        &coefficients(&[]),
    )
    .unwrap();
    let plans = loss.plan().gradient_plans();
    assert_eq!(plans.len(), 1);
    assert_eq!(plans[0].tree_term, Some(0));
    assert_eq!(plans[0].sphere_term, Some(2));
}

/// Mistakes that used to change the loss without a word, or get advice that did not fit:
/// each is refused at its place with what to write instead.
#[test]
fn mistakes_are_named_where_they_are() {
    let cases: &[(&str, &str)] = &[
        // A letter stuck to a number was dropped: `2gamma` read as 2.
        (
            "2gamma*mst_len(z)",
            "1:1: `2gamma` is the number `2` followed by `gamma`: write `2*gamma` for a product, or `2` alone",
        ),
        ("1e-3foo*sphere(z)", "1:1: `1e-3foo` is the number `1e-3` followed by `foo`"),
        // A comment cut the expression short.
        (
            "0.2*mst_len(z) // 2 + sphere(z)",
            "1:16: a loss expression has no comments",
        ),
        ("mst_len(z) /* + sphere(z) */", "1:12: a loss expression has no comments"),
        // Look-alike characters, named by code point.
        ("0.2*mst_len(z) \u{2212} sphere(z)", "1:16: `\u{2212}` (U+2212) is not part of a loss expression: write `-`"),
        ("2\u{00B7}mst_len(z)", "1:2: `\u{00B7}` (U+00B7) is not part of a loss expression: write `*`"),
        (
            "mst_l\u{0435}n(z)",
            "1:1: unknown loss primitive `mst_l\u{0435}n` (it holds `\u{0435}`, U+0435, not an ASCII letter); did you mean `mst_len`?",
        ),
        // Division.
        ("mse(z, z2)/2", "1:11: a loss term cannot be divided: multiply it by the reciprocal instead, e.g. `0.5*mse(z, z2)`"),
        ("beta/2*mse(z, z2)", "1:5: a run-time expression has no `/`"),
        // A primitive's name where a coefficient goes.
        ("sphere(z) + 0.2*mst_len", "1:17: `mst_len` is a loss primitive, not a coefficient: call it on its tensors, as in `mst_len(z)`"),
        // Arguments.
        ("mst_len(z z2)", "1:11: expected `,` between the arguments of `mst_len(…)`, found `z2`"),
        ("nt_xent(z, z2, 0.5)", "1:16: argument 3 of `nt_xent` is a number: options are named, as in `τ = 0.5`"),
        ("nt_xent(z, z2, τ: 0.5)", "1:17: an option is written `τ = value`, not `τ: value`"),
        ("nt_xent(z, z2, τ == 0.5)", "1:18: an option is written `τ = value`, not `τ == value`"),
        ("nt_xent(z, z2, τ = )", "1:16: option `τ` of `nt_xent` has no value: write e.g. `τ = 0.1`"),
        ("mst_len(z,,)", "1:11: expected argument 2 of `mst_len(…)`, found `,`"),
        ("mst_len(z, z2)", "1:12: `mst_len` takes 1 tensor, as in `mst_len(z)`, but 2 were given"),
        ("nt_xent(z, z2, τ = 1/2)", "1:21: a run-time expression has no `/`"),
        ("sphere(z.x)", "1:8: argument 1 of `sphere` must be a tensor name, found `z . x` (an input such as `z`)"),
        // Options out of range, written as numbers.
        ("barlow(z, z2, λ = -1)", "1:19: option `λ` of `barlow` is -1: it must be a finite number at least 0"),
        ("clip(z, z2, τ = 0)", "1:17: option `τ` of `clip` is 0: it must be a positive number"),
        // A number that reads as 0.
        ("1e-400*sphere(z)", "1:1: `1e-400` is below f64's smallest number: it would read as 0"),
    ];
    for (source, expected) in cases {
        let err = error(source, &[("beta", 1.0)]);
        assert!(
            err.starts_with(expected),
            "{source}:\n{err}\nexpected: {expected}"
        );
    }
}

/// A machine-made expression thousands deep is an error, not a stack overflow.
#[test]
fn deep_nesting_is_an_error() {
    let parens = format!("{}mst_len(z){}", "(".repeat(5000), ")".repeat(5000));
    assert!(error(&parens, &[]).contains("parentheses nested more than 64 deep"));
    let signs = format!("{}mst_len(z)", "-".repeat(20000));
    assert!(error(&signs, &[]).contains("`-` signs nested more than 64 deep"));
    let fine = format!("{}mst_len(z){}", "(".repeat(60), ")".repeat(60));
    assert!(RuntimeLoss::parse(&fine, &coefficients(&[])).is_ok());
}
