//! The `loss!` macro of tregs. The grammar, the plan and the code generation live in
//! `tregs-macros-core`, which the runtime shares; this crate only hands over the tokens.

use proc_macro::TokenStream;

/// Writes a regularized loss declaratively; see the `tregs` crate for the full reference.
#[proc_macro]
pub fn loss(input: TokenStream) -> TokenStream {
    tregs_macros_core::expand_loss(input.into())
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}
