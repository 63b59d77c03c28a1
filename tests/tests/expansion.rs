//! Snapshots of what `loss!` expands to: a change in code generation shows as a diff.

use proc_macro2::TokenStream;

fn expand(source: &str) -> String {
    let tokens: TokenStream = source.parse().expect("tokens");
    let code = tregs_macros_core::expand_loss(tokens).expect("expands");
    // An expression expands to a block; wrap it in a function to pretty-print it as a file.
    let file = match syn::parse2::<syn::File>(code.clone()) {
        Ok(file) => file,
        Err(_) => syn::parse2(quote_fn(code)).expect("a function around the block parses"),
    };
    prettyplease::unparse(&file)
}

fn quote_fn(block: TokenStream) -> TokenStream {
    format!("fn expansion() {{ let _ = {block}; }}")
        .parse()
        .expect("tokens")
}

#[test]
fn tregs_objective() {
    insta::assert_snapshot!(expand(
        "β*mse(z, z2) + γ*(mst_len(z) + mst_len(z2)) + λ*(sphere(z) + sphere(z2))"
    ));
}

#[test]
fn rust_coefficients_subtraction_and_merged_terms() {
    insta::assert_snapshot!(expand(
        "(cfg.gamma / 2.0) * mst_len(z) - 0.5 * sphere(z) + 8e-4 * sphere(z)"
    ));
}

#[test]
fn data_parallel_scopes() {
    insta::assert_snapshot!(expand(
        "β*mse(z, z2) + γ*(mst_len(z, scope = global) + mst_len(z2, scope = sharded)) + λ*sphere(z)"
    ));
}

#[test]
fn named_loss_with_config() {
    insta::assert_snapshot!(expand(
        "/// The T-REGS objective with an MSE invariance term.
         pub struct TRegsMse(z, z2) where β = 10.0, γ = 0.2, λ = 8e-4 {
             β*mse(z, z2) + γ*(mst_len(z) + mst_len(z2)) + λ*(sphere(z) + sphere(z2))
         }"
    ));
}
